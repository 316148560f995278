"""`bbs client`: the interactive terminal chat.

`Shell` runs commands against a ChatClient and writes text lines through `out`; it knows no
terminal, so tests drive it with a fake client. `main` wires it to prompt_toolkit, whose
patch_stdout lets deliveries appear above the prompt while the user types.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from actors.base import Node
from actors.session import Unreachable
from config.timing import DEFAULT_TIMING, Timing
from roles import client_commands as cc
from roles.chat_client import ChatClient
from roles.keyring import DEFAULT_HOME
from roles.secure import client_curve
from transport.numbers import wire_clock
from transport.protocol import Delivery, is_claimed_refusal

LOGIN_ATTEMPTS = 3
SEEN_MAX = 1000


class ChatLike(Protocol):
    """What the shell needs of roles.chat_client.ChatClient."""

    def call(self, service: str, **data: Any) -> dict[str, Any]: ...

    def subscribe(self, topic: str, on: bool = True) -> None: ...

    def login(self, user: str, password: str = "", new_password: str = "") -> dict[str, Any]: ...

    def close(self) -> None: ...


Connect = Callable[[Callable[[Delivery], None]], ChatLike]
Out = Callable[[str], None]
Read = Callable[[str], str]


class Shell:
    def __init__(
        self,
        connect: Connect,
        broker: str,
        out: Out,
        timing: Timing = DEFAULT_TIMING,
        secret: Read = getpass.getpass,
        password: str = "",
    ) -> None:
        """`secret` reads a password without echo; `password` (from --password-file) is
        tried first, and claims the name if it is free."""
        self.broker, self.out, self.timing = broker, out, timing
        self.secret, self.password = secret, password
        self.user = ""
        self.joined: tuple[str, ...] = ()  # replaced, never mutated: deliveries read it
        self.current: str | None = None
        self._seen: OrderedDict[tuple[str, str, str, int], None] = OrderedDict()
        self._lock = threading.Lock()
        self.client = connect(self.deliver)

    # ---- what arrives (session actor's thread) ------------------------------------------

    def deliver(self, d: Delivery) -> None:
        kind = cc.audience(d, self.user, self.joined)
        if kind is None:
            return
        if kind == "channel":
            key = cc.entry_key(d.channel or d.topic, d.user, d.message, d.clock)
            if not self._first_sight(key):
                return
        self.out(cc.format_delivery(d, kind))

    def _first_sight(self, key: tuple[str, str, str, int]) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
            return True

    # ---- requests -----------------------------------------------------------------------

    def _ask(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """The reply, or None when the cluster did not answer after every retry."""
        notice = threading.Timer(
            self.timing.request_timeout,
            self.out,
            [f"no answer from the cluster at {self.broker}, retrying..."],
        )
        notice.daemon = True
        notice.start()
        try:
            return call()
        except (Unreachable, TimeoutError):
            return None
        finally:
            notice.cancel()

    def _request(self, what: str, service: str, **data: Any) -> dict[str, Any] | None:
        reply = self._ask(lambda: self.client.call(service, **data))
        if reply is None:
            self.out(f"cluster unreachable at {self.broker}: giving up on {what}")
        return reply

    # ---- login --------------------------------------------------------------------------

    def _log_in(self, name: str, password: str) -> Callable[[], dict[str, Any]]:
        if password:
            return functools.partial(self.client.login, name, password)
        return functools.partial(self.client.login, name)

    def login(self, read: Read, name: str = "") -> bool:
        """Ask for a name (and the password of a claimed one) until the cluster accepts
        them; False if it stays unreachable."""
        failures = 0
        password = self.password
        while True:
            if not name:
                name = read("your name: ").strip()
            problem = cc.name_problem(name)
            if problem:
                self.out(problem)
                name = ""
                continue
            reply = self._ask(self._log_in(name, password))
            if reply is None:
                failures += 1
                if failures >= LOGIN_ATTEMPTS:
                    self.out(f"cluster unreachable at {self.broker}: giving up")
                    return False
                self.out(
                    f"cluster unreachable at {self.broker}, retrying "
                    f"({failures}/{LOGIN_ATTEMPTS - 1})..."
                )
                continue
            if reply.get("status") == "sucesso":
                self.user = name
                self.out(f"logged in as {name}. /join CHANNEL to start, /help for commands.")
                return True
            if is_claimed_refusal(reply) and not password:
                password = self.secret(f"{name} is a claimed name; its password: ")
                continue
            reason = cc.error_text(reply) if cc.is_error(reply) else f"unexpected reply {reply}"
            self.out(f"login as {name} refused: {reason}")
            name, password = "", self.password

    def prompt(self) -> str:
        return f"{self.user}@#{self.current}> " if self.current else f"{self.user}> "

    # ---- commands -----------------------------------------------------------------------

    def handle_line(self, line: str) -> bool:
        """Run one typed line; False when the user quits."""
        command = cc.parse(line)
        return True if command is None else self.handle(command)

    def handle(self, command: cc.Command) -> bool:
        match command:
            case cc.Quit():
                return False
            case cc.Help():
                self.out(cc.HELP)
            case cc.Invalid(error=error):
                self.out(error)
            case cc.Join(channel=channel):
                self._join(channel)
            case cc.Leave(channel=channel):
                self._leave(channel)
            case cc.ListChannels():
                self._list("channels")
            case cc.ListUsers():
                self._list("users")
            case cc.Msg(user=user, text=text):
                self._msg(user, text)
            case cc.History(target=target):
                self._history(target)
            case cc.Post(text=text):
                self._post(text)
            case cc.Register():
                self._register()
            case cc.ChangePassword():
                self._change_password()
        return True

    def _register(self) -> None:
        password = self.secret(f"a password for {self.user}: ")
        if not password:
            self.out("no password: the name stays open to anyone")
            return
        if self._account_call(
            "/register", functools.partial(self.client.login, self.user, password)
        ):
            self.out(f"{self.user} is yours: log in with its password from now on")

    def _change_password(self) -> None:
        old = self.secret(f"the present password of {self.user}: ")
        new = self.secret("the new password: ") if old else ""
        if not new:
            self.out("no password: nothing changed")
            return
        call = functools.partial(self.client.login, self.user, old, new)
        if self._account_call("/password", call):
            self.out("password changed: your other sessions must log in again")

    def _account_call(self, what: str, call: Callable[[], dict[str, Any]]) -> bool:
        reply = self._ask(call)
        if reply is None:
            self.out(f"cluster unreachable at {self.broker}: giving up on {what}")
        elif cc.is_error(reply):
            self.out(f"{what} failed: {cc.error_text(reply)}")
        return reply is not None and not cc.is_error(reply)

    def _join(self, channel: str) -> None:
        reply = self._request(f"/join {channel}", "channel", channel=channel, user=self.user)
        if reply is None:
            return
        if cc.is_error(reply):
            # "erro" also means "exists already", which is fine: tell it from real refusals.
            listing = self._request(f"/join {channel}", "channels")
            if listing is None:
                return
            if channel not in cc.names_of(listing, "channels"):
                self.out(f"cannot join #{channel}: {cc.error_text(reply)}")
                return
        self.client.subscribe(channel)
        self.joined = (*(c for c in self.joined if c != channel), channel)
        self.current = channel
        self.out(f"joined #{channel}: what you type now goes there")
        self._show_history("/join", {"channel": channel, "limit": cc.HISTORY_LIMIT}, dedup=True)

    def _leave(self, channel: str | None) -> None:
        target = channel or self.current
        if target is None or target not in self.joined:
            self.out("you are in no channel" if target is None else f"you are not in #{target}")
            return
        if target != self.user:  # that topic also carries our private messages
            self.client.subscribe(target, on=False)
        self.joined = tuple(c for c in self.joined if c != target)
        if self.current == target:
            self.current = self.joined[-1] if self.joined else None
        now = f"; current channel: #{self.current}" if self.current else ""
        self.out(f"left #{target}{now}")

    def _list(self, kind: str) -> None:
        reply = self._request(f"/{kind}", kind)
        if reply is None:
            return
        if cc.is_error(reply):
            self.out(f"/{kind} failed: {cc.error_text(reply)}")
            return
        self.out(cc.format_names(kind, cc.names_of(reply, kind)))

    def _msg(self, user: str, text: str) -> None:
        reply = self._request(f"/msg {user}", "message", src=self.user, dst=user, message=text)
        if reply is None:
            return
        if cc.is_error(reply):
            self.out(f"message to {user} not sent: {cc.error_text(reply)}")
        elif user != self.user:  # a message to oneself comes back as a delivery
            self.out(cc.format_sent_private(user, self.user, text, time.time()))

    def _history(self, target: str | None) -> None:
        channels: list[str] = []
        if target and not target.startswith("#") and target not in self.joined:
            listing = self._request("/history", "channels")
            if listing is None:
                return
            channels = cc.names_of(listing, "channels")
        query = cc.history_query(target, self.user, self.current, [*self.joined, *channels])
        if isinstance(query, str):
            self.out(query)
            return
        self._show_history("/history", query)

    def _show_history(self, what: str, query: dict[str, Any], dedup: bool = False) -> None:
        reply = self._request(what, "history", **query)
        if reply is None:
            return
        if cc.is_error(reply):
            self.out(f"no history: {cc.error_text(reply)}")
            return
        entries = cc.entries_of(reply)
        self.out(cc.history_title(query, len(entries)))
        for entry in entries:
            if dedup:
                key = cc.entry_key(
                    str(entry.get("channel", "")),
                    str(entry.get("user") or entry.get("src") or ""),
                    str(entry.get("message", "")),
                    wire_clock(entry.get("clock")),
                )
                if not self._first_sight(key):
                    continue
            self.out(cc.format_entry(entry, self.user))

    def _post(self, text: str) -> None:
        if self.current is None:
            self.out("you are in no channel: /join CHANNEL first (/channels lists them)")
            return
        channel = self.current
        reply = self._request(
            f"posting to #{channel}", "publish", user=self.user, channel=channel, message=text
        )
        if reply is not None and cc.is_error(reply):
            self.out(f"not posted to #{channel}: {cc.error_text(reply)}")
        # A post that succeeded comes back live through the subscription.

    def close(self) -> None:
        self.client.close()


def run(
    connect: Connect,
    broker: str,
    user: str,
    read: Read,
    out: Out,
    timing: Timing = DEFAULT_TIMING,
    password: str = "",
) -> None:
    """The whole session: login, then one command per line until /quit, Ctrl-D or Ctrl-C."""
    shell = Shell(connect, broker, out, timing, password=password)
    try:
        if shell.login(read, user):
            while shell.handle_line(read(shell.prompt())):
                pass
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        out("bye")
        shell.close()


def _read_plain(_prompt: str) -> str:
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


@contextmanager
def _terminal() -> Iterator[Read]:
    """prompt_toolkit on a terminal; plain lines from a pipe (scripts, tests)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        yield _read_plain
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.patch_stdout import patch_stdout

    with patch_stdout():
        yield PromptSession().prompt


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, a closed session) ends like Ctrl-C


def main(ns: argparse.Namespace, node: Node) -> None:
    signal.signal(signal.SIGTERM, _interrupt)

    keys_home = Path(ns.keys_home) if ns.keys_home else DEFAULT_HOME
    password = Path(ns.password_file).read_text().strip() if ns.password_file else ""
    curve = client_curve(ns.broker, ns.server_key, ns.keys)

    def connect(on_delivery: Callable[[Delivery], None]) -> ChatLike:
        return ChatClient(
            ns.broker, ns.proxy_sub, on_delivery, node=node, keys_home=keys_home, curve=curve
        )

    out = functools.partial(print, flush=True)  # resolves sys.stdout (patched) at each call
    with _terminal() as read:
        run(connect, ns.broker, ns.user or "", read, out, password=password)
