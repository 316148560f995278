"""Event conversions: stored record, wire form, replication publication, history entry."""

from __future__ import annotations

import math
from typing import Any

import pytest

from actors.chat_rules import replication_message
from actors.events import Event

EVENTS = [
    Event("a", 1, 3, "login", user="ana", timestamp=1700000000.5),
    Event("a", 2, 4, "channel", user="ana", channel="general", timestamp=1700000001.0),
    Event("b", 7, 9, "publish", user="bob", channel="general", message="hi", timestamp=2.0),
    Event("c", 1, 11, "message", user="ana", dst="bob", message="psst", timestamp=3.0),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.op)
def test_wire_round_trip(event: Event) -> None:
    assert Event.from_wire(event.to_wire()) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.op)
def test_replication_publication_round_trip(event: Event) -> None:
    message = replication_message(event, timestamp=123.0)
    assert message["service"] == "replication"
    assert message["data"]["operation"] == event.op
    assert message["data"]["serverName"] == event.origin
    assert message["data"]["operationData"]["id"] == f"{event.origin}:{event.seq}"
    assert Event.from_replication(message["data"]) == event


def test_records_carry_the_protocol_fields_of_each_operation() -> None:
    login, channel, post, private = (e.record() for e in EVENTS)
    assert login["user"] == "ana"
    assert (channel["channel"], channel["user"]) == ("general", "ana")
    assert (post["user"], post["channel"], post["message"]) == ("bob", "general", "hi")
    assert (private["src"], private["dst"], private["message"]) == ("ana", "bob", "psst")
    assert all(r["clock"] and "timestamp" in r for r in (login, channel, post, private))


def test_history_entries() -> None:
    post, private = EVENTS[2].history_entry(), EVENTS[3].history_entry()
    assert post == {
        "user": "bob",
        "src": "bob",
        "channel": "general",
        "message": "hi",
        "timestamp": 2.0,
        "clock": 9,
        "id": "b:7",
    }
    assert (private["src"], private["dst"], private["clock"]) == ("ana", "bob", 11)
    assert "channel" not in private


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        "x",
        {},
        {"origin": "a", "seq": 1, "clock": 1},  # no op
        {"origin": "a", "seq": 1, "clock": 1, "op": "delete"},  # unknown op
        {"origin": "a", "seq": 0, "clock": 1, "op": "login"},  # seq must be positive
        {"origin": "a", "seq": "x", "clock": 1, "op": "login"},
        # values SQLite cannot store (or would store as NULL) are refused with the event
        {"origin": "a", "seq": 1, "clock": 1, "op": "login", "timestamp": math.nan},
        {"origin": "a", "seq": 1, "clock": 1, "op": "login", "timestamp": "inf"},
        {"origin": "a", "seq": math.inf, "clock": 1, "op": "login"},
        {"origin": "a", "seq": 2**62, "clock": 1, "op": "login"},
        {"origin": "a", "seq": 1, "clock": 2**64, "op": "login"},
        {"origin": "a", "seq": 1, "clock": 0, "op": "login"},
    ],
)
def test_bad_wire_events_are_none(raw: Any) -> None:
    assert Event.from_wire(raw) is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"operation": "publish", "operationData": "nope"},
        {"operation": "drop", "operationData": {"origin": "a", "seq": 1, "id": "a:1"}},
        # another team's shape: no origin/seq/id
        {
            "operation": "publish",
            "operationData": {"user": "x", "channel": "c", "message": "m"},
            "serverName": "theirs",
        },
        {
            "operation": "login",
            "operationData": {"origin": "a", "seq": 1, "id": "a:2", "user": "u"},
        },
        {"operation": "login", "operationData": {"origin": "a", "seq": -1, "id": "a:-1"}},
        {"operation": "login", "operationData": {"origin": 5, "seq": 1, "id": "5:1"}},
        {
            "operation": "login",
            "operationData": {"origin": "a", "seq": 2**70, "id": f"a:{2**70}", "clock": 1},
        },
        {"operation": "login", "operationData": {"origin": "a", "seq": 1, "id": "a:1"}},  # clock
    ],
)
def test_foreign_or_inconsistent_replication_shapes_are_ignored(data: dict[str, Any]) -> None:
    assert Event.from_replication(data) is None


def test_replication_accepts_timestamps_in_other_units_and_src_for_user() -> None:
    data = {
        "operation": "message",
        "operationData": {
            "origin": "x",
            "seq": 2,
            "id": "x:2",
            "src": "ana",
            "dst": "bob",
            "message": "m",
            "timestamp": 1_700_000_000_000,
            "clock": "8",
        },
    }
    event = Event.from_replication(data)
    assert event == Event(
        "x", 2, 8, "message", user="ana", dst="bob", message="m", timestamp=1_700_000_000.0
    )
