"""transport/protocol.py: every build/parse pair round-trips, builders send the contract's
exact bytes (key order included), parsers accept the aliases peers use and ignore foreign
shapes."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import make_inbound
from transport import protocol
from transport.protocol import (
    AdjustRequest,
    ClockRequest,
    CoordinatorAnnounced,
    CreateChannel,
    ElectionRequest,
    Event,
    HeartbeatRequest,
    ListChannels,
    ListRequest,
    ListUsers,
    Login,
    Operation,
    Peer,
    Publish,
    PushRequest,
    RankRequest,
    ReadHistory,
    Refusal,
    Replicated,
    SendMessage,
    Service,
    StatusRequest,
    SyncPage,
    SyncRequest,
)

EVENTS = [
    Event("a", 1, 3, Operation.LOGIN, user="ana", timestamp=1700000000.5),
    Event("a", 2, 4, Operation.CHANNEL, user="ana", channel="general", timestamp=1700000001.0),
    Event("b", 7, 9, Operation.PUBLISH, user="bob", channel="general", message="hi", timestamp=2),
    Event("c", 1, 11, Operation.MESSAGE, user="ana", dst="bob", message="psst", timestamp=3.0),
]
texts = st.text(max_size=20)
events = st.builds(
    Event,
    origin=texts,
    seq=st.integers(1, 2**62 - 1),
    clock=st.integers(1, 2**62 - 1),
    op=st.sampled_from(Operation),
    user=texts,
    channel=texts,
    dst=texts,
    message=texts,
    timestamp=st.floats(0, 4e9),
    request_id=texts,
)
# Events as servers make them: only the fields of their operation (what records carry), for
# the operations the `replication` topic carries (an account never is: test_accounts.py).
FIELDS_OF = {
    Operation.LOGIN: ("user",),
    Operation.CHANNEL: ("channel", "user"),
    Operation.PUBLISH: ("user", "channel", "message"),
    Operation.MESSAGE: ("user", "dst", "message"),
}
made_events = st.sampled_from(list(FIELDS_OF)).flatmap(
    lambda op: st.builds(
        Event,
        origin=texts,
        seq=st.integers(1, 2**62 - 1),
        clock=st.integers(1, 2**62 - 1),
        op=st.just(op),
        timestamp=st.floats(0, 4e9),
        request_id=texts,
        **{name: texts for name in FIELDS_OF[op]},
    )
)


def same_bytes(built: Any, expected: Any) -> bool:
    """The wire form is the same, key order included (dict == ignores order)."""
    return msgpack.packb(built) == msgpack.packb(expected)


def push_of(*raw: Any) -> PushRequest:
    request = protocol.parse_peer_request(make_inbound("replicate", {"events": list(raw)}))
    assert isinstance(request, PushRequest)
    return request


# ---- events on the wire (`replicate`, `sync`) ---------------------------------------------


@given(st.lists(events, max_size=5))
def test_pushed_events_round_trip(batch: list[Event]) -> None:
    inbound = make_inbound("replicate", protocol.push_request(batch, "a"), key="peer")
    assert protocol.parse_peer_request(inbound) == PushRequest(inbound, tuple(batch), "a")


@given(st.lists(events, max_size=5), st.booleans())
def test_sync_pages_round_trip(page: list[Event], more: bool) -> None:
    reply = protocol.sync_reply(page, more, {"a": 3})
    assert protocol.parse_sync_reply(reply) == SyncPage(tuple(page), more)
    assert reply["heads"] == {"a": 3}


def test_event_wire_form_is_the_documented_map() -> None:
    [wire] = protocol.push_request([EVENTS[3]], "c")["events"]
    assert same_bytes(
        wire,
        {
            "origin": "c",
            "seq": 1,
            "clock": 11,
            "op": "message",
            "user": "ana",
            "channel": "",
            "dst": "bob",
            "message": "psst",
            "timestamp": 3.0,
            "request_id": "",
        },
    )


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        "x",
        {},
        {"origin": "a", "seq": 1, "clock": 1},  # no op
        {"origin": "a", "seq": 1, "clock": 1, "op": "delete"},  # unknown op
        {"origin": "a", "seq": 1, "clock": 1, "op": ["login"]},
        {"origin": "a", "seq": 0, "clock": 1, "op": "login"},  # seq must be positive
        {"origin": "a", "seq": "x", "clock": 1, "op": "login"},
    ],
)
def test_bad_wire_events_are_skipped(raw: Any) -> None:
    good = protocol.push_request(EVENTS[:1], "a")["events"][0]
    assert push_of(raw, good).events == (EVENTS[0],)


def test_a_push_without_a_list_of_events_or_an_origin_is_empty() -> None:
    inbound = make_inbound("replicate", {"events": "nope", "origin": 5})
    assert protocol.parse_peer_request(inbound) == PushRequest(inbound, (), "")


def test_a_refused_or_foreign_sync_reply_is_no_page() -> None:
    assert protocol.parse_sync_reply({"status": "erro", "events": []}) is None
    assert protocol.parse_sync_reply({}) is None
    assert protocol.parse_sync_reply({"status": "OK"}) == SyncPage((), False)


# ---- topic `replication` -------------------------------------------------------------------


@given(made_events)
def test_replication_publications_round_trip(event: Event) -> None:
    topic, message = protocol.replication_publication(event, timestamp=123.0)
    assert topic == protocol.REPLICATION
    assert protocol.parse_server_publication(topic, message) == Replicated(event)


def test_events_of_origins_that_push_to_us_are_not_parsed_from_publications() -> None:
    topic, message = protocol.replication_publication(EVENTS[2], timestamp=123.0)
    origin = EVENTS[2].origin
    assert protocol.parse_server_publication(topic, message, frozenset({origin})) is None
    others = frozenset({"someone-else"})
    assert protocol.parse_server_publication(topic, message, others) == Replicated(EVENTS[2])


def test_replication_publication_is_the_shared_contract() -> None:
    _, message = protocol.replication_publication(EVENTS[2], timestamp=123.0)
    record = {
        "user": "bob",
        "channel": "general",
        "message": "hi",
        "id": "b:7",
        "origin": "b",
        "seq": 7,
        "timestamp": 2,
        "clock": 9,
        "request_id": "",
    }
    expected = {
        "service": "replication",
        "data": {
            "operation": "publish",
            "operationData": record,
            "serverName": "b",
            "timestamp": 123.0,
        },
    }
    assert same_bytes(message, expected)


def test_records_carry_the_protocol_fields_of_each_operation() -> None:
    login, channel, post, private = (
        protocol.replication_publication(e, 0.0)[1]["data"]["operationData"] for e in EVENTS
    )
    assert list(login)[:1] == ["user"]
    assert list(channel)[:2] == ["channel", "user"]
    assert (post["user"], post["channel"], post["message"]) == ("bob", "general", "hi")
    assert (private["src"], private["dst"], private["message"]) == ("ana", "bob", "psst")
    assert all(r["clock"] and "timestamp" in r for r in (login, channel, post, private))


@pytest.mark.parametrize(
    "data",
    [
        {},
        "junk",
        {"operation": "publish", "operationData": "nope"},
        {"operation": "drop", "operationData": {"origin": "a", "seq": 1, "id": "a:1"}},
        {"operation": ["login"], "operationData": {"origin": "a", "seq": 1, "id": "a:1"}},
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
    ],
)
def test_foreign_or_inconsistent_replication_shapes_are_ignored(data: Any) -> None:
    message = {"service": "replication", "data": data}
    assert protocol.parse_server_publication("replication", message) is None


def test_replication_accepts_timestamps_in_other_units_and_src_for_user() -> None:
    record = {
        "origin": "x",
        "seq": 2,
        "id": "x:2",
        "src": "ana",
        "dst": "bob",
        "message": "m",
        "timestamp": 1_700_000_000_000,
        "clock": "8",
    }
    message = {"service": "replication", "data": {"operation": "message", "operationData": record}}
    assert protocol.parse_server_publication("replication", message) == Replicated(
        Event("x", 2, 8, Operation.MESSAGE, user="ana", dst="bob", message="m", timestamp=1.7e9)
    )


# ---- topic `servers` -----------------------------------------------------------------------


def test_coordinator_announcements_round_trip() -> None:
    topic, message = protocol.coordinator_announcement("b", 5.0)
    assert topic == "servers"
    assert message == {"service": "election", "timestamp": 5.0, "data": message["data"]}
    assert same_bytes(message["data"], {"coordinator": "b", "timestamp": 5.0})
    assert protocol.parse_server_publication(topic, message) == CoordinatorAnnounced("b")


@pytest.mark.parametrize(
    ("topic", "message", "expected"),
    [
        ("servers", {"service": "election", "coordinator": "y"}, CoordinatorAnnounced("y")),
        ("servers", {"service": "hello", "data": {"coordinator": "z"}}, None),
        ("servers", {"service": "election", "data": {"coordinator": 5}}, None),
        ("servers", {"service": "election", "data": {"coordinator": ""}}, None),
        ("elsewhere", {"service": "election", "data": {"coordinator": "w"}}, None),
        ("replication", {"service": "election", "data": {"coordinator": "w"}}, None),
    ],
)
def test_announcements_are_read_liberally_and_foreign_shapes_ignored(
    topic: str, message: dict[str, Any], expected: CoordinatorAnnounced | None
) -> None:
    assert protocol.parse_server_publication(topic, message) == expected


# ---- publications to clients ---------------------------------------------------------------


def test_channel_post_publication_carries_the_union_of_keys() -> None:
    post = Event(
        "a", 3, 17, "publish", user="ana", channel="general", message="hi", timestamp=1700000000.5
    )
    published = protocol.publication(post)
    assert published is not None
    topic, payload = published
    assert topic == "general"
    assert same_bytes(
        payload,
        {
            "service": "publish",
            "type": "channel",
            "user": "ana",
            "src": "ana",
            "channel": "general",
            "message": "hi",
            "timestamp": 1700000000.5,
            "data": {
                "user": "ana",
                "channel": "general",
                "message": "hi",
                "timestamp": 1700000000.5,
            },
        },
    )


def test_private_message_publication_goes_to_the_destination_with_every_alias() -> None:
    private = Event("a", 4, 18, "message", user="ana", dst="bob", message="psst", timestamp=2.0)
    published = protocol.publication(private)
    assert published is not None
    topic, payload = published
    assert topic == "bob"
    assert same_bytes(
        payload,
        {
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
        },
    )


def test_logins_and_channels_are_not_published_to_clients() -> None:
    assert protocol.publication(EVENTS[0]) is None
    assert protocol.publication(EVENTS[1]) is None


@pytest.mark.parametrize("event", EVENTS[2:], ids=lambda e: e.op)
def test_publications_round_trip_to_deliveries(event: Event) -> None:
    published = protocol.publication(event)
    assert published is not None
    topic, payload = published
    d = protocol.parse_delivery(topic, {**payload, "clock": event.clock})
    assert (d.topic, d.user, d.channel, d.dst, d.message) == (
        topic,
        event.user,
        event.channel,
        event.dst,
        event.message,
    )
    assert d.kind == ("channel" if event.op == Operation.PUBLISH else "private")
    assert (d.timestamp, d.clock) == (event.timestamp, event.clock)


# ---- client services -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "data", "expected"),
    [
        ("login", {"user": "ana"}, Login("ana")),
        ("login", {"username": " ana "}, Login("ana")),
        ("users", {"extra": 1}, ListUsers()),
        ("channels", {}, ListChannels()),
        ("channel", {"channel": "c"}, CreateChannel("c", "")),
        ("channel", {"name": "c", "from": "bob"}, CreateChannel("c", "bob")),
        ("channel", {"name": "c", "user": 5}, CreateChannel("c", "")),
        ("publish", {"user": "a", "channel": "c", "message": "m"}, Publish("a", "c", "m")),
        ("publish", {"src": "a", "name": "c", "message": "m"}, Publish("a", "c", "m")),
        (
            "publish",
            {"from": "a", "channel": "c", "message": "m", "request_id": "r"},
            Publish("a", "c", "m", "r"),
        ),
        ("message", {"src": "a", "dst": "b", "message": "m"}, SendMessage("a", "b", "m")),
        ("message", {"from": "a", "to": "b", "message": "m"}, SendMessage("a", "b", "m")),
        (
            "message",
            {"user": "a", "dst": "b", "message": "m", "request_id": "x" * 65},  # too long
            SendMessage("a", "b", "m"),
        ),
        ("history", {"name": "c"}, ReadHistory(channel="c")),
        (
            "history",
            {"from": "a", "to": "b", "limit": 5, "before_clock": 0},
            ReadHistory(user="a", peer="b", limit=5, before_clock=0),
        ),
    ],
)
def test_client_requests_are_parsed_with_their_aliases(
    service: str, data: dict[str, Any], expected: Any
) -> None:
    assert protocol.parse_client_request(service, data) == expected


@pytest.mark.parametrize(
    ("service", "data", "reason"),
    [
        ("fly", {}, "unknown service 'fly'"),
        ("login", {}, "missing field 'user/username'"),
        ("publish", {"user": "a", "channel": "c", "message": ""}, "message is empty"),
        ("history", {"channel": "c", "limit": 0}, "field 'limit' must be between 1 and 1000"),
    ],
)
def test_bad_client_requests_are_refusals_with_the_reply_text(
    service: str, data: dict[str, Any], reason: str
) -> None:
    refusal = protocol.parse_client_request(service, data)
    assert refusal == Refusal(reason)
    assert refusal.reply == {"status": "erro", "description": reason, "message": reason}


def test_our_clients_send_one_request_id_per_post_or_message() -> None:
    for service in ("publish", "message"):
        data = protocol.client_request(service, {"message": "m"})
        assert len(data["request_id"]) == 32
        assert protocol.client_request(service, data) == data  # a resend keeps it
    assert protocol.client_request("login", {"user": "a"}) == {"user": "a"}


def test_client_replies() -> None:
    assert same_bytes(protocol.channels_reply(["a"]), {"channels": ["a"], "users": ["a"]})
    assert protocol.users_reply(["a"]) == {"users": ["a"]}
    assert (protocol.ok(), protocol.success()) == ({"status": "OK"}, {"status": "sucesso"})
    assert protocol.refused(Refusal("no").reply) and not protocol.refused(protocol.ok())


def test_history_entries() -> None:
    reply = protocol.history_reply(EVENTS[2:])
    assert reply["status"] == "OK"
    post, private = reply["messages"]
    assert same_bytes(
        post,
        {
            "user": "bob",
            "src": "bob",
            "message": "hi",
            "timestamp": 2,
            "clock": 9,
            "id": "b:7",
            "channel": "general",
        },
    )
    assert (private["src"], private["dst"], private["clock"]) == ("ana", "bob", 11)
    assert "channel" not in private


# ---- server to server ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "data", "expected"),
    [
        ("election", {}, lambda i: ElectionRequest(i)),
        ("clock", {}, lambda i: ClockRequest(i)),
        ("status", {}, lambda i: StatusRequest(i)),
        ("adjust", protocol.adjust_request(-0.5), lambda i: AdjustRequest(i, -0.5)),
        ("adjust", {"delta": 2}, lambda i: AdjustRequest(i, 2.0)),
        ("sync", protocol.sync_request({"a": 3}, 10), lambda i: SyncRequest(i, {"a": 3}, 10)),
        (
            "sync",
            {"heads": {"a": "3", 7: 1}},
            lambda i: SyncRequest(i, {"a": 3}, 0),
        ),  # keys are names
        ("sync", {"heads": "x", "limit": "x"}, lambda i: SyncRequest(i, {}, 0)),
    ],
)
def test_peer_requests_are_typed(service: str, data: dict[str, Any], expected: Any) -> None:
    inbound = make_inbound(service, data, key="peer")
    assert protocol.parse_peer_request(inbound) == expected(inbound)


@pytest.mark.parametrize(
    "delta",
    [None, "1.0", True, math.nan, math.inf, -math.inf, 601.0, -601, 10**400, 3.15e7],
)
def test_adjust_refuses_what_is_not_a_sane_correction(delta: Any) -> None:
    data = {} if delta is None else {"delta": delta}
    refusal = protocol.parse_peer_request(make_inbound("adjust", data, key="peer"))
    assert refusal == Refusal("adjust needs a 'delta' in seconds between ±600")


@pytest.mark.parametrize("delta", [0, -2, 0.25, 600.0, -599.9])
def test_adjust_takes_corrections_within_ten_minutes(delta: float) -> None:
    inbound = make_inbound("adjust", {"delta": delta}, key="peer")
    assert protocol.parse_peer_request(inbound) == AdjustRequest(inbound, float(delta))


def test_unknown_peer_services_are_refused() -> None:
    refusal = protocol.parse_peer_request(make_inbound("login", {"user": "a"}, key="peer"))
    assert refusal == Refusal("unknown service 'login'")


def test_peer_replies_round_trip() -> None:
    assert protocol.parse_push_reply(protocol.push_reply({"a": 2})) == {"a": 2}
    assert protocol.parse_push_reply({"status": "OK"}) is None
    assert protocol.parse_clock_reply(protocol.clock_reply(1700000000.25)) == 1700000000.25
    assert protocol.parse_clock_reply({"time": 1_700_000_000_250}) == 1700000000.25
    assert protocol.parse_clock_reply({"time": True}) is None
    assert protocol.parse_clock_reply({}) is None
    assert protocol.parse_election_reply(protocol.election_reply())
    assert not protocol.parse_election_reply({"status": "erro"})
    assert same_bytes(protocol.status_reply({"name": "a"}), {"status": "OK", "name": "a"})


def test_every_service_name_is_served_by_one_table() -> None:
    tables = (protocol.CLIENT_SERVICES, protocol.PEER_SERVICES, protocol.REFERENCE_SERVICES)
    assert sorted(name for table in tables for name in table) == sorted(Service)


# ---- server to reference -------------------------------------------------------------------


def test_reference_requests_round_trip() -> None:
    rank = protocol.rank_request("a", "tcp://10.0.0.1:5560")
    assert protocol.parse_reference_request("rank", rank) == RankRequest("a", "tcp://10.0.0.1:5560")
    assert protocol.parse_reference_request("rank", {"name": "a"}) == RankRequest("a", None)
    heartbeat = protocol.heartbeat_request("a")
    assert protocol.parse_reference_request("heartbeat", heartbeat) == HeartbeatRequest("a")
    assert protocol.parse_reference_request("list", {}) == ListRequest()


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("rank", {}),
        ("rank", {"user": "a", "address": "tcp://*:5560"}),
        ("heartbeat", {"user": "a b"}),
        ("publish", {}),
    ],
)
def test_bad_reference_requests_are_refused(service: str, data: dict[str, Any]) -> None:
    assert isinstance(protocol.parse_reference_request(service, data), Refusal)


def test_reference_replies_round_trip() -> None:
    assert protocol.parse_rank_reply(protocol.rank_reply(3)) == 3
    assert protocol.parse_rank_reply({"rank": 0}) == 0  # other references count from 0
    assert protocol.parse_rank_reply({"rank": True}) is None
    assert protocol.parse_rank_reply({}) is None
    peers = (Peer("a", 1, "tcp://x:1"), Peer("b", 2, ""))
    reply = protocol.list_reply(peers)
    assert same_bytes(
        reply,
        {"list": [{"name": "a", "rank": 1, "address": "tcp://x:1"}, {"name": "b", "rank": 2}]},
    )
    assert protocol.parse_list_reply(reply, "me") == (
        Peer("a", 1, "tcp://x:1"),
        Peer("b", 2, "tcp://b:5560"),  # no address: the protocol's default port
    )


def test_list_replies_are_read_liberally() -> None:
    items = [
        {"name": "b", "rank": "2", "address": "", "load": 0.3},
        {"name": "me", "rank": 9},
        "junk",
        {"rank": 4},
        {"name": 5},
        {"name": "a", "rank": 0, "address": "tcp://x:1"},
    ]
    assert protocol.parse_list_reply({"list": items}, "me") == (
        Peer("a", 0, "tcp://x:1"),
        Peer("b", 2, "tcp://b:5560"),
    )
    assert protocol.parse_list_reply({"list": "nope"}, "me") == ()
