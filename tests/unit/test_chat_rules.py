"""ChatRules.decide for every client service (as the protocol parses it) and every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from actors.chat_rules import Answer, ChatRules, Decision, Unsure, WithOnline, Write
from actors.roster import Roster
from transport.protocol import (
    HISTORY_DEFAULT,
    HISTORY_MAX,
    LIST_PAGE,
    Event,
    ReadHistory,
    parse_client_request,
)


@pytest.fixture
def rules() -> ChatRules:
    return ChatRules(users=Roster(["ana", "bob"]), channels=Roster(["general"]))


def decide(rules: ChatRules, service: str, data: dict[str, Any], retried: bool = False) -> Decision:
    """What the chat actor does: parse the request, then decide."""
    return rules.decide(parse_client_request(service, data), retried)


def refusal(decision: Any) -> str:
    """The error text of a refusal (fails if the decision is not one)."""
    assert isinstance(decision, Answer), decision
    data = decision.data
    assert data["status"] == "erro", data
    assert data["description"] == data["message"] and data["description"]
    return data["description"]


def event(op: str, seq: int = 1, **fields: Any) -> Event:
    return Event("a", seq, seq, op, **fields)


# ---- unknown service ----------------------------------------------------------------------


@pytest.mark.parametrize("service", ["fly", "", "_login", "__init__", "decide", "apply"])
def test_unknown_services_are_refused(rules: ChatRules, service: str) -> None:
    assert "unknown service" in refusal(decide(rules, service, {}))


# ---- login --------------------------------------------------------------------------------


def test_login_of_a_new_user_is_a_write(rules: ChatRules) -> None:
    assert decide(rules, "login", {"user": "zoe"}) == Write(
        "login", {"user": "zoe"}, {"status": "sucesso"}
    )


def test_login_accepts_username(rules: ChatRules) -> None:
    assert decide(rules, "login", {"username": "zoe"}) == Write(
        "login", {"user": "zoe"}, {"status": "sucesso"}
    )


def test_login_again_is_success_without_a_write(rules: ChatRules) -> None:
    assert decide(rules, "login", {"user": "ana"}) == Answer({"status": "sucesso"})


@pytest.mark.parametrize(
    "data",
    [{}, {"user": ""}, {"user": 7}, {"user": "a b"}, {"user": "x" * 300}, {"user": "bad\x00"}],
)
def test_login_refusals(rules: ChatRules, data: dict[str, Any]) -> None:
    refusal(decide(rules, "login", data))


# ---- users / channels ---------------------------------------------------------------------


def test_users_lists_every_known_user_sorted(rules: ChatRules) -> None:
    rules.apply(event("login", user="carl"))
    assert decide(rules, "users", {}) == WithOnline({"users": ["ana", "bob", "carl"]})


def test_who_and_users_are_answered_with_the_online_list(rules: ChatRules) -> None:
    assert decide(rules, "who", {}) == WithOnline({"status": "OK"})
    assert decide(rules, "who", {"user": "ana"}) == WithOnline({"status": "OK"})
    assert decide(rules, "who", {"user": "bad name"}).data["status"] == "erro"  # type: ignore[union-attr]


def test_channels_is_also_sent_under_users(rules: ChatRules) -> None:
    rules.apply(event("channel", channel="alpha", user="ana"))
    assert decide(rules, "channels", {"ignored": 1}) == Answer(
        {"channels": ["alpha", "general"], "users": ["alpha", "general"]}
    )


# ---- channel ------------------------------------------------------------------------------


def test_creating_a_channel_is_a_write_with_the_creator(rules: ChatRules) -> None:
    assert decide(rules, "channel", {"channel": "news", "user": "ana"}) == Write(
        "channel", {"channel": "news", "user": "ana"}, {"status": "sucesso"}
    )


def test_channel_accepts_name_and_needs_no_user(rules: ChatRules) -> None:
    assert decide(rules, "channel", {"name": "news"}) == Write(
        "channel", {"channel": "news", "user": ""}, {"status": "sucesso"}
    )


def test_channel_user_from_src_or_from_and_ill_typed_user_is_dropped(rules: ChatRules) -> None:
    assert decide(rules, "channel", {"channel": "c1", "from": "bob"}).fields["user"] == "bob"
    assert decide(rules, "channel", {"channel": "c2", "user": 5}).fields["user"] == ""


def test_existing_channel_is_refused(rules: ChatRules) -> None:
    assert "already exists" in refusal(decide(rules, "channel", {"channel": "general"}))


def test_channel_being_created_is_refused(rules: ChatRules) -> None:
    first = decide(rules, "channel", {"channel": "news"})
    assert isinstance(first, Write)
    assert "already exists" in refusal(decide(rules, "channel", {"channel": "news"}))


def test_channel_created_elsewhere_is_refused_and_in_flight_name_is_freed(rules: ChatRules) -> None:
    assert isinstance(decide(rules, "channel", {"channel": "news"}), Write)
    rules.apply(event("channel", channel="news"))
    assert rules.creating == set()
    assert "already exists" in refusal(decide(rules, "channel", {"channel": "news"}))
    rules.apply(event("channel", seq=2, channel="sports"))
    assert "already exists" in refusal(decide(rules, "channel", {"name": "sports"}))


@pytest.mark.parametrize(
    "data", [{}, {"channel": ""}, {"channel": "two words"}, {"channel": ["x"]}, {"name": "n" * 300}]
)
def test_channel_refusals(rules: ChatRules, data: dict[str, Any]) -> None:
    refusal(decide(rules, "channel", data))


# ---- publish ------------------------------------------------------------------------------


def test_publish_is_a_write_answered_ok(rules: ChatRules) -> None:
    assert decide(
        rules, "publish", {"user": "ana", "channel": "general", "message": "hi"}
    ) == Write("publish", {"user": "ana", "channel": "general", "message": "hi"}, {"status": "OK"})


@pytest.mark.parametrize("user_key", ["user", "src", "from"])
@pytest.mark.parametrize("channel_key", ["channel", "name"])
def test_publish_aliases(rules: ChatRules, user_key: str, channel_key: str) -> None:
    decision = decide(rules, "publish", {user_key: "ana", channel_key: "general", "message": "m"})
    assert isinstance(decision, Write)
    assert (decision.fields["user"], decision.fields["channel"]) == ("ana", "general")


def test_publish_prefers_user_over_src_and_from(rules: ChatRules) -> None:
    decision = decide(
        rules,
        "publish",
        {"from": "c", "src": "b", "user": "a", "channel": "general", "message": "m"},
    )
    assert decision.fields["user"] == "a"


def test_publishing_as_an_unseen_user_registers_the_user(rules: ChatRules) -> None:
    decision = decide(rules, "publish", {"user": "newbie", "channel": "general", "message": "m"})
    assert isinstance(decision, Write)
    rules.apply(event("publish", **decision.fields))
    assert "newbie" in decide(rules, "users", {}).data["users"]


def test_publish_to_an_unknown_channel_is_unsure_then_refused(rules: ChatRules) -> None:
    data = {"user": "ana", "channel": "nowhere", "message": "m"}
    assert isinstance(decide(rules, "publish", data), Unsure)
    assert "unknown channel" in refusal(decide(rules, "publish", data, retried=True))


def test_publish_after_the_channel_arrives_on_retry_is_a_write(rules: ChatRules) -> None:
    data = {"user": "ana", "channel": "late", "message": "m"}
    assert isinstance(decide(rules, "publish", data), Unsure)
    rules.apply(event("channel", channel="late"))
    assert isinstance(decide(rules, "publish", data, retried=True), Write)


@pytest.mark.parametrize(
    "data",
    [
        {"channel": "general", "message": "m"},  # no user
        {"user": "ana", "message": "m"},  # no channel
        {"user": "ana", "channel": "general"},  # no message
        {"user": "ana", "channel": "general", "message": ""},
        {"user": "ana", "channel": "general", "message": 5},
        {"user": "ana", "channel": "general", "message": "x" * 10_001},
        {"user": "ana", "channel": "general", "message": "ding\x07"},
        {"user": "a" * 300, "channel": "general", "message": "m"},
        {"user": "ana", "channel": "gen\neral", "message": "m"},
    ],
)
def test_publish_refusals(rules: ChatRules, data: dict[str, Any]) -> None:
    refusal(decide(rules, "publish", data))


# ---- message ------------------------------------------------------------------------------


@pytest.mark.parametrize(("src_key", "dst_key"), [("src", "dst"), ("from", "to"), ("user", "dst")])
def test_private_message_aliases(rules: ChatRules, src_key: str, dst_key: str) -> None:
    assert decide(rules, "message", {src_key: "ana", dst_key: "bob", "message": "hi"}) == Write(
        "message", {"user": "ana", "dst": "bob", "message": "hi"}, {"status": "OK"}
    )


def test_message_to_an_unknown_user_is_unsure_then_refused(rules: ChatRules) -> None:
    data = {"src": "ana", "dst": "ghost", "message": "boo"}
    assert isinstance(decide(rules, "message", data), Unsure)
    assert "unknown user" in refusal(decide(rules, "message", data, retried=True))


def test_message_from_an_unseen_sender_is_accepted(rules: ChatRules) -> None:
    assert isinstance(
        decide(rules, "message", {"src": "stranger", "dst": "ana", "message": "hi"}), Write
    )


@pytest.mark.parametrize(
    "data",
    [
        {"dst": "bob", "message": "m"},
        {"src": "ana", "message": "m"},
        {"src": "ana", "dst": "bob"},
        {"src": "ana", "dst": "bob", "message": "   "},
        {"src": "ana", "dst": ["bob"], "message": "m"},
        {"src": "ana", "dst": "bob", "message": "m" * 10_001},
    ],
)
def test_message_refusals(rules: ChatRules, data: dict[str, Any]) -> None:
    refusal(decide(rules, "message", data))


# ---- history ------------------------------------------------------------------------------


def test_channel_history_lookup_with_defaults(rules: ChatRules) -> None:
    assert decide(rules, "history", {"channel": "general"}) == ReadHistory(
        channel="general", limit=HISTORY_DEFAULT, before_clock=None
    )


def test_private_history_lookup_with_paging(rules: ChatRules) -> None:
    assert decide(
        rules, "history", {"user": "ana", "peer": "bob", "limit": 10, "before_clock": 99}
    ) == ReadHistory(user="ana", peer="bob", limit=10, before_clock=99)


def test_history_of_an_unknown_channel_is_unsure_then_refused(rules: ChatRules) -> None:
    assert isinstance(decide(rules, "history", {"name": "nowhere"}), Unsure)
    refusal(decide(rules, "history", {"name": "nowhere"}, retried=True))


@pytest.mark.parametrize(
    "data",
    [
        {"channel": "general", "limit": 0},
        {"channel": "general", "limit": HISTORY_MAX + 1},
        {"channel": "general", "limit": "10"},
        {"channel": "general", "limit": True},
        {"channel": "general", "before_clock": -1},
        {"channel": "general", "before_clock": 1.5},
        {"user": "ana"},  # private history needs the peer
        {"peer": "bob"},
        {},
        {"channel": 5},
    ],
)
def test_history_refusals(rules: ChatRules, data: dict[str, Any]) -> None:
    refusal(decide(rules, "history", data))


# ---- apply --------------------------------------------------------------------------------


def test_apply_is_idempotent_and_learns_users_and_channels() -> None:
    rules = ChatRules()
    for e in (event("channel", channel="c", user="ana"), event("message", user="bob", dst="x")):
        rules.apply(e)
        rules.apply(e)
    assert rules.users.page("", 10) == (["ana", "bob"], False)
    assert rules.channels.page("", 10) == (["c"], False)


# ---- retries ------------------------------------------------------------------------------


def test_a_retried_publish_is_answered_without_a_second_write(rules: ChatRules) -> None:
    rules.apply(event("channel", channel="c"))
    data = {"user": "ana", "channel": "c", "message": "hi", "request_id": "r1"}
    first = decide(rules, "publish", data)
    assert isinstance(first, Write) and first.fields["request_id"] == "r1"
    rules.apply(event("publish", seq=2, user="ana", channel="c", message="hi", request_id="r1"))
    assert decide(rules, "publish", data) == Answer({"status": "OK"})
    other_user = decide(rules, "publish", {**data, "user": "bob"})
    assert isinstance(other_user, Write)  # ids are per user


def test_a_retried_private_message_is_answered_without_a_second_write(rules: ChatRules) -> None:
    rules.apply(event("login", user="bob"))
    rules.apply(event("message", seq=2, user="ana", dst="bob", message="x", request_id="r9"))
    data = {"src": "ana", "dst": "bob", "message": "x", "request_id": "r9"}
    assert decide(rules, "message", data) == Answer({"status": "OK"})
    assert isinstance(decide(rules, "message", {**data, "request_id": "r10"}), Write)


def test_users_and_channels_come_in_pages_and_the_plain_request_gets_the_first() -> None:
    many = ChatRules(users=Roster(f"u{i:05d}" for i in range(2500)), channels=Roster(["c"]))
    plain = decide(many, "users", {})
    assert isinstance(plain, WithOnline)
    assert len(plain.data["users"]) == LIST_PAGE and plain.data["more"] is True
    seen = list(plain.data["users"])
    while True:
        page = decide(many, "users", {"after": seen[-1], "limit": 700})
        assert isinstance(page, WithOnline)
        seen += page.data["users"]
        if not page.data.get("more"):
            break
    assert seen == [f"u{i:05d}" for i in range(2500)]
    assert decide(many, "channels", {}) == Answer({"channels": ["c"], "users": ["c"]})


@pytest.mark.parametrize("data", [{"limit": 0}, {"limit": LIST_PAGE + 1}, {"after": 5}])
def test_a_bad_page_request_is_refused(rules: ChatRules, data: dict[str, Any]) -> None:
    assert refusal(decide(rules, "users", data))
