"""Accounts as pure functions: password hashes, session tokens, the record in force on every
replica, and how the protocol module carries them (login fields, account events)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest

from actors.accounts import (
    Accounts,
    issue_token,
    new_account,
    password_matches,
    token_valid,
    with_password,
    with_public_key,
)
from transport import protocol, sealing
from transport.protocol import AccountRecord, Event, Login, Operation, Refusal

NOW = 1_700_000_000.0
PUBLIC = sealing.public_key_of(sealing.new_private_key())


@pytest.fixture(scope="module")
def ana() -> AccountRecord:
    return new_account("ana", "s3cret", PUBLIC)


def account_event(record: AccountRecord, clock: int, origin: str = "a", seq: int = 1) -> Event:
    message = protocol.account_message(record)
    return Event(origin, seq, clock, Operation.ACCOUNT, user=record.user, message=message)


def test_the_password_is_stored_as_a_salted_scrypt_hash(ana: AccountRecord) -> None:
    assert password_matches(ana, "s3cret")
    assert not password_matches(ana, "s3cret ")
    assert b"s3cret" not in ana.digest and len(ana.salt) == 16
    assert new_account("ana", "s3cret").digest != ana.digest  # another salt


def test_neither_the_password_nor_the_secrets_show_in_a_repr(ana: AccountRecord) -> None:
    assert "s3cret" not in repr(Login("ana", "s3cret"))
    assert ana.digest.hex() not in repr(ana) and ana.token_key.hex() not in repr(ana)


def test_a_token_is_valid_for_its_account_until_it_expires(ana: AccountRecord) -> None:
    token = issue_token(ana, NOW)
    assert token_valid(ana, token, NOW + 3600)
    assert not token_valid(ana, token, NOW + 25 * 3600)
    other = new_account("ana", "s3cret")  # same name and password, another token key
    assert not token_valid(other, token, NOW)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.replace("ana.", "bob.", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.rsplit(".", 2)[0] + ".99999999999." + t.rsplit(".", 1)[1],  # later expiry
        lambda t: "",
        lambda t: "ana..",
        lambda t: t + "x" * 600,
    ],
)
def test_a_forged_or_tampered_token_is_refused(ana: AccountRecord, forge) -> None:
    assert not token_valid(ana, forge(issue_token(ana, NOW)), NOW)


def test_a_token_of_a_name_with_dots_is_read_from_the_right() -> None:
    record = replace(new_account("a.b.c", "pw"), user="a.b.c")
    assert token_valid(record, issue_token(record, NOW), NOW)


def test_the_account_record_round_trips_through_its_event(ana: AccountRecord) -> None:
    assert protocol.parse_account(account_event(ana, 5)) == ana


@pytest.mark.parametrize(
    "change",
    [
        {"n": 2**20},  # a forged cost would make every replica hash with a gigabyte
        {"n": 3000},
        {"r": 0},
        {"p": 99},
        {"generation": -1},
        {"salt": "not base64!"},
        {"key": "AAAA"},
        {"public_key": "AAAA"},
    ],
)
def test_a_malformed_account_record_is_ignored(ana: AccountRecord, change: dict) -> None:
    raw = {**json.loads(protocol.account_message(ana)), **change}
    event = replace(account_event(ana, 5), message=json.dumps(raw))
    assert protocol.parse_account(event) is None
    accounts = Accounts()
    accounts.apply(event)
    assert "ana" not in accounts


def test_concurrent_claims_resolve_the_same_way_in_any_order() -> None:
    first = new_account("zoe", "one")
    second = new_account("zoe", "two")
    events = [account_event(first, 7, "a"), account_event(second, 7, "b")]
    for order in itertools.permutations(events):
        accounts = Accounts()
        for event in order:
            accounts.apply(event)
        assert accounts.get("zoe") == first  # lowest (clock, origin, seq)


def test_a_new_generation_replaces_the_record_whatever_its_clock(ana: AccountRecord) -> None:
    newer = with_public_key(ana, sealing.public_key_of(sealing.new_private_key()))
    events = [account_event(ana, 5), account_event(newer, 3, seq=2)]
    for order in itertools.permutations(events):
        accounts = Accounts()
        for event in order:
            accounts.apply(event)
        assert accounts.get("ana") == newer
    assert token_valid(newer, issue_token(ana, NOW), NOW)  # same token key


# ---- the protocol's side -----------------------------------------------------------------


def test_login_carries_an_optional_password_and_public_key() -> None:
    parse = protocol.parse_client_request
    assert parse("login", {"user": "ana"}) == Login("ana")
    assert parse("login", {"user": "ana", "password": "pw", "public_key": PUBLIC}) == Login(
        "ana", "pw", PUBLIC
    )
    assert isinstance(parse("login", {"user": "ana", "password": 5}), Refusal)
    assert isinstance(parse("login", {"user": "ana", "password": "x" * 1025}), Refusal)
    assert isinstance(parse("login", {"user": "ana", "public_key": "QUJD"}), Refusal)
    assert isinstance(
        parse("publish", {"user": "a", "channel": "c", "message": "m", "token": 1}), Refusal
    )


def test_our_client_sends_its_token_only_with_the_services_that_act_as_the_user() -> None:
    assert protocol.client_request("history", {"channel": "c"}, "T")["token"] == "T"
    assert protocol.client_request("message", {"src": "a"}, "T")["token"] == "T"
    assert "token" not in protocol.client_request("users", {}, "T")
    assert "token" not in protocol.client_request("publish", {"user": "a"})


def test_an_account_is_never_published_on_the_replication_topic(ana: AccountRecord) -> None:
    assert protocol.replication_publication(account_event(ana, 5), 1.0) is None
    forged = {
        "service": "replication",
        "data": {"operation": "account", "operationData": {"id": "a:1", "origin": "a", "seq": 1}},
    }
    assert protocol.parse_server_publication(protocol.REPLICATION, forged) is None


MESSAGE = Event("a", 3, 9, Operation.MESSAGE, user="bob", dst="ana", message="psst", timestamp=2.0)


def test_a_sealed_private_message_keeps_the_shape_but_not_the_text() -> None:
    key = sealing.new_private_key()
    topic, payload = protocol.publication(MESSAGE, sealing.public_key_of(key))
    assert topic == "ana"
    assert "psst" not in repr(payload)
    assert payload["message"] == payload["data"]["message"] == protocol.SEALED_TEXT
    assert payload["src"] == "bob" and payload["type"] == "private"
    delivery = protocol.parse_delivery(topic, payload)
    assert delivery.message == protocol.SEALED_TEXT
    assert delivery.opened(key).message == "psst"
    assert delivery.opened(sealing.new_private_key()) == delivery  # not for that key


def test_a_sealed_message_on_the_replication_topic_is_not_applied_from_there() -> None:
    _, message = protocol.replication_publication(MESSAGE, 1.0, PUBLIC)
    assert "psst" not in repr(message)
    assert protocol.parse_server_publication(protocol.REPLICATION, message) is None


def test_a_delivery_ignores_a_sealed_field_that_is_not_a_bounded_string() -> None:
    _, payload = protocol.publication(MESSAGE)
    assert protocol.parse_delivery("ana", {**payload, "sealed": 5}).sealed == ""
    assert protocol.parse_delivery("ana", {**payload, "sealed": "x" * 70_000}).sealed == ""
    bogus = protocol.parse_delivery("ana", {**payload, "sealed": "not base64"})
    assert bogus.opened(sealing.new_private_key()).message == "psst"


def test_a_new_password_voids_every_token_of_the_account(ana: AccountRecord) -> None:
    old_token = issue_token(ana, NOW)
    changed = with_password(ana, "n3w", "")
    assert changed.generation == ana.generation + 1 and changed.public_key == ana.public_key
    assert password_matches(changed, "n3w") and not password_matches(changed, "s3cret")
    assert not token_valid(changed, old_token, NOW)
    assert token_valid(changed, issue_token(changed, NOW), NOW)


def test_a_new_password_needs_the_present_one_and_never_shows() -> None:
    parse = protocol.parse_client_request
    assert isinstance(parse("login", {"user": "ana", "new_password": "x"}), Refusal)
    login = parse("login", {"user": "ana", "password": "old", "new_password": "n3w"})
    assert login == Login("ana", "old", "", "n3w")
    assert "n3w" not in repr(login) and "old" not in repr(login)
