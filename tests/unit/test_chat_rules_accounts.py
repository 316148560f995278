"""ChatRules with claimed names: logins, and the token publishing, messaging and reading a
private conversation need. Unclaimed names behave as before (test_chat_rules.py)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.accounts import issue_token, new_account, with_password
from actors.chat_rules import Answer, ChatRules, ClaimName, Decision, VerifyPassword, Write
from actors.roster import Roster
from transport import protocol, sealing
from transport.protocol import AccountRecord, Event, Login, Operation, ReadHistory

NOW = 1_700_000_000.0
PUBLIC = sealing.public_key_of(sealing.new_private_key())


@pytest.fixture(scope="module")
def record() -> AccountRecord:
    return new_account("ana", "pw", PUBLIC)


@pytest.fixture
def rules(record: AccountRecord) -> ChatRules:
    rules = ChatRules(Roster(["ana", "bob"]), Roster(["general"]), wall=lambda: NOW)
    message = protocol.account_message(record)
    rules.apply(Event("a", 1, 1, Operation.ACCOUNT, user="ana", message=message))
    return rules


def decide(rules: ChatRules, service: str, **data: Any) -> Decision:
    return rules.decide(protocol.parse_client_request(service, data))


def refused(decision: Decision) -> str:
    assert isinstance(decision, Answer) and decision.data["status"] == "erro", decision
    return decision.data["description"]


def test_a_claimed_name_without_a_password_is_refused_as_claimed(rules: ChatRules) -> None:
    decision = decide(rules, "login", user="ana")
    assert isinstance(decision, Answer) and protocol.is_claimed_refusal(decision.data)


def test_a_claimed_name_with_a_password_is_checked(rules: ChatRules, record) -> None:
    assert decide(rules, "login", user="ana", password="x") == VerifyPassword(
        Login("ana", "x"), record
    )


def test_a_password_claims_a_free_name_once_at_a_time(rules: ChatRules) -> None:
    assert decide(rules, "login", user="bob", password="pw") == ClaimName(Login("bob", "pw"))
    assert "being claimed" in refused(decide(rules, "login", user="bob", password="pw"))


def test_a_claim_is_a_write_answered_with_a_token(rules: ChatRules) -> None:
    decide(rules, "login", user="bob", password="pw")
    bob = new_account("bob", "pw")
    write = rules.claim(Login("bob", "pw"), bob)
    assert isinstance(write, Write) and write.op == Operation.ACCOUNT
    assert write.done == protocol.login_reply(issue_token(bob, NOW))
    rules.abandon(write)
    assert isinstance(decide(rules, "login", user="bob", password="pw"), ClaimName)


def test_a_claim_that_lost_the_race_is_refused(rules: ChatRules) -> None:
    assert "claimed meanwhile" in refused(rules.claim(Login("ana", "x"), new_account("ana", "x")))


def test_a_verified_login_gets_a_token_or_stores_a_new_public_key(rules, record) -> None:
    answer = Answer(protocol.login_reply(issue_token(record, NOW)))
    assert rules.logged_in(Login("ana", "pw"), record) == answer
    assert rules.logged_in(Login("ana", "pw", PUBLIC), record) == answer
    key = sealing.public_key_of(sealing.new_private_key())
    write = rules.logged_in(Login("ana", "pw", key), record)
    assert isinstance(write, Write) and write.op == Operation.ACCOUNT
    assert (
        protocol.parse_account(Event("a", 2, 2, Operation.ACCOUNT, **write.fields)).public_key
        == key
    )


def test_a_password_change_stores_the_next_record(rules, record) -> None:
    changed = with_password(record, "n3w", "")
    write = rules.logged_in(Login("ana", "pw", "", "n3w"), changed)
    assert isinstance(write, Write) and write.done["token"] == issue_token(changed, NOW)
    stored = Event("a", 2, 2, Operation.ACCOUNT, **write.fields)
    assert protocol.parse_account(stored) == changed


def test_a_claimed_name_publishes_and_messages_only_with_its_token(rules, record) -> None:
    token = issue_token(record, NOW)
    post = {"user": "ana", "channel": "general", "message": "hi"}
    assert "claimed" in refused(decide(rules, "publish", **post))
    assert "claimed" in refused(decide(rules, "publish", **post, token="ana.1.x"))
    assert isinstance(decide(rules, "publish", **post, token=token), Write)
    private = {"src": "ana", "dst": "bob", "message": "hi"}
    assert "claimed" in refused(decide(rules, "message", **private))
    assert isinstance(decide(rules, "message", **private, token=token), Write)
    # writing TO a claimed name needs nothing
    assert isinstance(decide(rules, "message", src="bob", dst="ana", message="hi"), Write)


def test_a_conversation_with_a_claimed_name_is_read_only_with_its_token(rules, record) -> None:
    token = issue_token(record, NOW)
    for asker, peer in (("ana", "bob"), ("bob", "ana")):
        assert "private" in refused(decide(rules, "history", user=asker, peer=peer))
        assert isinstance(decide(rules, "history", user=asker, peer=peer, token=token), ReadHistory)
    assert isinstance(decide(rules, "history", channel="general"), ReadHistory)


def test_an_expired_token_is_refused(record) -> None:
    later = ChatRules(Roster(["ana"]), Roster(["general"]), wall=lambda: NOW + 2 * 86400)
    later.apply(
        Event("a", 1, 1, Operation.ACCOUNT, user="ana", message=protocol.account_message(record))
    )
    post = {"user": "ana", "channel": "general", "message": "hi"}
    assert "claimed" in refused(decide(later, "publish", **post, token=issue_token(record, NOW)))


def test_the_seal_key_is_the_accounts(rules: ChatRules) -> None:
    assert rules.seal_key("ana") == PUBLIC and rules.seal_key("bob") == ""
