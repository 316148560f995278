"""ChatRules.decide for every client service and every refusal, and the publication shapes."""

from __future__ import annotations

from typing import Any

import pytest

from actors.chat_rules import (
    HISTORY_DEFAULT,
    HISTORY_MAX,
    Answer,
    ChatRules,
    Lookup,
    Unsure,
    Write,
    publication,
)
from actors.events import Event


@pytest.fixture
def rules() -> ChatRules:
    return ChatRules(users={"ana", "bob"}, channels={"general"})


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
    assert "unknown service" in refusal(rules.decide(service, {}))


# ---- login --------------------------------------------------------------------------------


def test_login_of_a_new_user_is_a_write(rules: ChatRules) -> None:
    assert rules.decide("login", {"user": "zoe"}) == Write(
        "login", {"user": "zoe"}, {"status": "sucesso"}
    )


def test_login_accepts_username(rules: ChatRules) -> None:
    assert rules.decide("login", {"username": "zoe"}) == Write(
        "login", {"user": "zoe"}, {"status": "sucesso"}
    )


def test_login_again_is_success_without_a_write(rules: ChatRules) -> None:
    assert rules.decide("login", {"user": "ana"}) == Answer({"status": "sucesso"})


@pytest.mark.parametrize(
    "data",
    [{}, {"user": ""}, {"user": 7}, {"user": "a b"}, {"user": "x" * 300}, {"user": "bad\x00"}],
)
def test_login_refusals(rules: ChatRules, data: dict[str, Any]) -> None:
    refusal(rules.decide("login", data))


# ---- users / channels ---------------------------------------------------------------------


def test_users_lists_every_known_user_sorted(rules: ChatRules) -> None:
    rules.apply(event("login", user="carl"))
    assert rules.decide("users", {}) == Answer({"users": ["ana", "bob", "carl"]})


def test_channels_is_also_sent_under_users(rules: ChatRules) -> None:
    rules.apply(event("channel", channel="alpha", user="ana"))
    assert rules.decide("channels", {"ignored": 1}) == Answer(
        {"channels": ["alpha", "general"], "users": ["alpha", "general"]}
    )


# ---- channel ------------------------------------------------------------------------------


def test_creating_a_channel_is_a_write_with_the_creator(rules: ChatRules) -> None:
    assert rules.decide("channel", {"channel": "news", "user": "ana"}) == Write(
        "channel", {"channel": "news", "user": "ana"}, {"status": "sucesso"}
    )


def test_channel_accepts_name_and_needs_no_user(rules: ChatRules) -> None:
    assert rules.decide("channel", {"name": "news"}) == Write(
        "channel", {"channel": "news", "user": ""}, {"status": "sucesso"}
    )


def test_channel_user_from_src_or_from_and_ill_typed_user_is_dropped(rules: ChatRules) -> None:
    assert rules.decide("channel", {"channel": "c1", "from": "bob"}).fields["user"] == "bob"
    assert rules.decide("channel", {"channel": "c2", "user": 5}).fields["user"] == ""


def test_existing_channel_is_refused(rules: ChatRules) -> None:
    assert "already exists" in refusal(rules.decide("channel", {"channel": "general"}))


def test_channel_being_created_is_refused(rules: ChatRules) -> None:
    first = rules.decide("channel", {"channel": "news"})
    assert isinstance(first, Write)
    assert "already exists" in refusal(rules.decide("channel", {"channel": "news"}))


def test_channel_created_elsewhere_is_refused_and_in_flight_name_is_freed(rules: ChatRules) -> None:
    assert isinstance(rules.decide("channel", {"channel": "news"}), Write)
    rules.apply(event("channel", channel="news"))
    assert rules.creating == set()
    assert "already exists" in refusal(rules.decide("channel", {"channel": "news"}))
    rules.apply(event("channel", seq=2, channel="sports"))
    assert "already exists" in refusal(rules.decide("channel", {"name": "sports"}))


@pytest.mark.parametrize(
    "data", [{}, {"channel": ""}, {"channel": "two words"}, {"channel": ["x"]}, {"name": "n" * 300}]
)
def test_channel_refusals(rules: ChatRules, data: dict[str, Any]) -> None:
    refusal(rules.decide("channel", data))


# ---- publish ------------------------------------------------------------------------------


def test_publish_is_a_write_answered_ok(rules: ChatRules) -> None:
    assert rules.decide("publish", {"user": "ana", "channel": "general", "message": "hi"}) == Write(
        "publish", {"user": "ana", "channel": "general", "message": "hi"}, {"status": "OK"}
    )


@pytest.mark.parametrize("user_key", ["user", "src", "from"])
@pytest.mark.parametrize("channel_key", ["channel", "name"])
def test_publish_aliases(rules: ChatRules, user_key: str, channel_key: str) -> None:
    decision = rules.decide("publish", {user_key: "ana", channel_key: "general", "message": "m"})
    assert isinstance(decision, Write)
    assert (decision.fields["user"], decision.fields["channel"]) == ("ana", "general")


def test_publish_prefers_user_over_src_and_from(rules: ChatRules) -> None:
    decision = rules.decide(
        "publish", {"from": "c", "src": "b", "user": "a", "channel": "general", "message": "m"}
    )
    assert decision.fields["user"] == "a"


def test_publishing_as_an_unseen_user_registers_the_user(rules: ChatRules) -> None:
    decision = rules.decide("publish", {"user": "newbie", "channel": "general", "message": "m"})
    assert isinstance(decision, Write)
    rules.apply(event("publish", **decision.fields))
    assert "newbie" in rules.decide("users", {}).data["users"]


def test_publish_to_an_unknown_channel_is_unsure_then_refused(rules: ChatRules) -> None:
    data = {"user": "ana", "channel": "nowhere", "message": "m"}
    assert isinstance(rules.decide("publish", data), Unsure)
    assert "unknown channel" in refusal(rules.decide("publish", data, retried=True))


def test_publish_after_the_channel_arrives_on_retry_is_a_write(rules: ChatRules) -> None:
    data = {"user": "ana", "channel": "late", "message": "m"}
    assert isinstance(rules.decide("publish", data), Unsure)
    rules.apply(event("channel", channel="late"))
    assert isinstance(rules.decide("publish", data, retried=True), Write)


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
    refusal(rules.decide("publish", data))


# ---- message ------------------------------------------------------------------------------


@pytest.mark.parametrize(("src_key", "dst_key"), [("src", "dst"), ("from", "to"), ("user", "dst")])
def test_private_message_aliases(rules: ChatRules, src_key: str, dst_key: str) -> None:
    assert rules.decide("message", {src_key: "ana", dst_key: "bob", "message": "hi"}) == Write(
        "message", {"user": "ana", "dst": "bob", "message": "hi"}, {"status": "OK"}
    )


def test_message_to_an_unknown_user_is_unsure_then_refused(rules: ChatRules) -> None:
    data = {"src": "ana", "dst": "ghost", "message": "boo"}
    assert isinstance(rules.decide("message", data), Unsure)
    assert "unknown user" in refusal(rules.decide("message", data, retried=True))


def test_message_from_an_unseen_sender_is_accepted(rules: ChatRules) -> None:
    assert isinstance(
        rules.decide("message", {"src": "stranger", "dst": "ana", "message": "hi"}), Write
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
    refusal(rules.decide("message", data))


# ---- history ------------------------------------------------------------------------------


def test_channel_history_lookup_with_defaults(rules: ChatRules) -> None:
    assert rules.decide("history", {"channel": "general"}) == Lookup(
        channel="general", limit=HISTORY_DEFAULT, before_clock=None
    )


def test_private_history_lookup_with_paging(rules: ChatRules) -> None:
    assert rules.decide(
        "history", {"user": "ana", "peer": "bob", "limit": 10, "before_clock": 99}
    ) == Lookup(user="ana", peer="bob", limit=10, before_clock=99)


def test_history_of_an_unknown_channel_is_unsure_then_refused(rules: ChatRules) -> None:
    assert isinstance(rules.decide("history", {"name": "nowhere"}), Unsure)
    refusal(rules.decide("history", {"name": "nowhere"}, retried=True))


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
    refusal(rules.decide("history", data))


# ---- apply --------------------------------------------------------------------------------


def test_apply_is_idempotent_and_learns_users_and_channels() -> None:
    rules = ChatRules()
    for e in (event("channel", channel="c", user="ana"), event("message", user="bob", dst="x")):
        rules.apply(e)
        rules.apply(e)
    assert rules.users == {"ana", "bob"}
    assert rules.channels == {"c"}


# ---- publications -------------------------------------------------------------------------


def test_channel_post_publication_carries_the_union_of_keys() -> None:
    post = Event(
        "a", 3, 17, "publish", user="ana", channel="general", message="hi", timestamp=1700000000.5
    )
    topic, payload = publication(post)
    assert topic == "general"
    assert payload == {
        "service": "publish",
        "type": "channel",
        "user": "ana",
        "src": "ana",
        "channel": "general",
        "message": "hi",
        "timestamp": 1700000000.5,
        "data": {"user": "ana", "channel": "general", "message": "hi", "timestamp": 1700000000.5},
    }


def test_private_message_publication_goes_to_the_destination_with_every_alias() -> None:
    private = Event("a", 4, 18, "message", user="ana", dst="bob", message="psst", timestamp=2.0)
    topic, payload = publication(private)
    assert topic == "bob"
    assert payload == {
        "service": "message",
        "type": "private",
        "src": "ana",
        "from": "ana",
        "user": "ana",
        "dst": "bob",
        "to": "bob",
        "message": "psst",
        "timestamp": 2.0,
        "data": {"src": "ana", "dst": "bob", "message": "psst", "timestamp": 2.0},
    }


def test_a_retried_publish_is_answered_without_a_second_write(rules: ChatRules) -> None:
    rules.apply(event("channel", channel="c"))
    data = {"user": "ana", "channel": "c", "message": "hi", "request_id": "r1"}
    first = rules.decide("publish", data)
    assert isinstance(first, Write) and first.fields["request_id"] == "r1"
    rules.apply(event("publish", seq=2, user="ana", channel="c", message="hi", request_id="r1"))
    assert rules.decide("publish", data) == Answer({"status": "OK"})
    other_user = rules.decide("publish", {**data, "user": "bob"})
    assert isinstance(other_user, Write)  # ids are per user


def test_a_retried_private_message_is_answered_without_a_second_write(rules: ChatRules) -> None:
    rules.apply(event("login", user="bob"))
    rules.apply(event("message", seq=2, user="ana", dst="bob", message="x", request_id="r9"))
    data = {"src": "ana", "dst": "bob", "message": "x", "request_id": "r9"}
    assert rules.decide("message", data) == Answer({"status": "OK"})
    assert isinstance(rules.decide("message", {**data, "request_id": "r10"}), Write)
