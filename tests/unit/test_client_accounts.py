"""The interactive client with claimed names: a password prompt, --password-file, /register."""

from __future__ import annotations

from typing import Any

import pytest

from config.timing import Timing
from roles import client_commands as cc
from roles.client import Shell
from transport import protocol
from transport.codec import error_data

FAST = Timing(request_timeout=30.0)


class Accounts:
    """A cluster where `ana` is claimed with password `pw`."""

    def __init__(self, _on_delivery: Any) -> None:
        self.passwords = {"ana": "pw"}
        self.logins: list[tuple[str, str]] = []

    def call(self, service: str, **data: Any) -> dict[str, Any]:
        return {"status": "OK"}

    def subscribe(self, topic: str, on: bool = True) -> None:
        pass

    def login(self, user: str, password: str = "", new_password: str = "") -> dict[str, Any]:
        self.logins.append((user, password))
        known = self.passwords.get(user)
        if known is not None and not password:
            return protocol.claimed_refusal(user)
        if known is not None and password != known:
            return error_data("wrong password")
        if password:
            self.passwords[user] = new_password or password
        return {"status": "sucesso", **({"token": "t"} if password else {})}

    def close(self) -> None:
        pass


def asked(*answers: str) -> tuple[list[str], Any]:
    prompts: list[str] = []
    queue = list(answers)

    def read(prompt: str) -> str:
        prompts.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    return prompts, read


def shell(password: str = "", secret: Any = None) -> tuple[Shell, list[str]]:
    out: list[str] = []
    sh = Shell(Accounts, "tcp://fake:1", out.append, FAST, secret or asked()[1], password)
    return sh, out


def test_a_claimed_name_asks_for_its_password() -> None:
    prompts, secret = asked("pw")
    sh, out = shell(secret=secret)
    assert sh.login(asked()[1], "ana")
    assert prompts == ["ana is a claimed name; its password: "]
    assert sh.client.logins == [("ana", ""), ("ana", "pw")]
    assert out[-1].startswith("logged in as ana")


def test_a_wrong_password_is_refused_and_the_name_asked_again() -> None:
    sh, out = shell(secret=asked("nope")[1])
    with pytest.raises(EOFError):
        sh.login(asked()[1], "ana")
    assert "login as ana refused: wrong password" in out


def test_a_password_from_a_file_is_sent_at_once_and_claims_a_free_name() -> None:
    sh, _ = shell(password="s3cret", secret=lambda _: pytest.fail("prompted"))
    assert sh.login(asked()[1], "zoe")
    assert sh.client.logins == [("zoe", "s3cret")]
    assert sh.client.passwords["zoe"] == "s3cret"


def test_register_claims_the_current_name() -> None:
    sh, out = shell(secret=asked("s3cret")[1])
    assert sh.login(asked()[1], "zoe")
    assert cc.parse("/register") == cc.Register()
    sh.handle_line("/register")
    assert sh.client.passwords["zoe"] == "s3cret"
    assert out[-1] == "zoe is yours: log in with its password from now on"


def test_register_without_a_password_claims_nothing() -> None:
    sh, out = shell(secret=asked("")[1])
    assert sh.login(asked()[1], "zoe")
    sh.handle_line("/register")
    assert "zoe" not in sh.client.passwords
    assert out[-1] == "no password: the name stays open to anyone"


def test_password_asks_the_present_one_then_the_new_one() -> None:
    prompts, secret = asked("pw", "n3w")
    sh, out = shell(password="pw", secret=secret)
    assert sh.login(asked()[1], "ana")
    assert cc.parse("/password") == cc.ChangePassword()
    sh.handle_line("/password")
    assert prompts == ["the present password of ana: ", "the new password: "]
    assert sh.client.passwords["ana"] == "n3w"
    assert out[-1] == "password changed: your other sessions must log in again"


def test_password_with_a_wrong_present_password_changes_nothing() -> None:
    sh, out = shell(password="pw", secret=asked("nope", "n3w")[1])
    assert sh.login(asked()[1], "ana")
    sh.handle_line("/password")
    assert sh.client.passwords["ana"] == "pw"
    assert out[-1] == "/password failed: wrong password"
