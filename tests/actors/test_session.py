"""SessionActor (the client side of the wire) with a fake transport: exact-topic filtering,
subscriptions, requests and their failure, and the publication shapes peers send."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import msgpack
import pykka
import pytest

from actors.base import Node, Ping
from actors.session import ClusterRequest, Incoming, SessionActor, Subscribe, Unreachable
from config.timing import Timing
from tests.fakes import FakeTransport
from transport.codec import split_publication
from transport.port import Publication, Response
from transport.protocol import Delivery, Event, parse_delivery, publication

BROKER = "tcp://broker.test:5555"
TIMING = Timing(request_timeout=1.5, request_retries=2)


class Harness:
    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.deliveries: list[Delivery] = []
        self.ref = SessionActor.start(
            Node("client", "test", timing=TIMING), self.transport, BROKER, self.deliveries.append
        )

    def tell(self, message: Any) -> None:
        self.ref.tell(message)

    def settle(self) -> None:
        """Barrier: everything told before has been handled (mailboxes are FIFO)."""
        self.ref.ask(Ping(), timeout=5)

    def arrive(self, topic: str, message: dict[str, Any]) -> None:
        self.tell(Incoming(Publication("sub", topic, message)))

    @property
    def dropped(self) -> int:
        return self.ref.proxy().dropped.get(timeout=5)

    def call(self, service: str, **data: Any) -> Future:
        """What ChatClient.call does: a Call carrying a future."""
        result: Future = Future()
        self.tell(ClusterRequest(service, data, result))
        self.settle()
        return result


@pytest.fixture
def session() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.ref.stop(timeout=5)
    assert not pykka.ActorRegistry.get_by_urn(harness.ref.actor_urn)
    assert harness.transport.replies == [] and harness.transport.publishes == []  # never serves


def stamped(topic: str, payload: dict[str, Any], clock: int) -> tuple[str, dict[str, Any]]:
    """A server's publication as the pump sends it: the event's clock at both levels."""
    return topic, {**payload, "clock": clock, "data": {**payload["data"], "clock": clock}}


def private(src: str, dst: str, text: str, clock: int = 5) -> tuple[str, dict[str, Any]]:
    event = Event(
        "server-0", 1, clock, "message", user=src, dst=dst, message=text, timestamp=1_700_000_000.25
    )
    return stamped(*publication(event), clock)


def post(user: str, channel: str, text: str, clock: int = 5) -> tuple[str, dict[str, Any]]:
    event = Event(
        "server-0",
        1,
        clock,
        "publish",
        user=user,
        channel=channel,
        message=text,
        timestamp=1_700_000_000.25,
    )
    return stamped(*publication(event), clock)


# ---- filtering ----------------------------------------------------------------------------


def test_a_prefix_match_is_dropped_and_the_exact_topic_delivered(session: Harness) -> None:
    session.tell(Subscribe("ana"))
    session.arrive(*private("bob", "anabel", "for anabel"))
    session.arrive(*private("bob", "ana", "for ana"))
    session.settle()
    assert [d.message for d in session.deliveries] == ["for ana"]
    assert session.dropped == 1


def test_nothing_is_delivered_before_subscribing_or_after_unsubscribing(session: Harness) -> None:
    session.arrive(*post("bob", "geral", "too early"))
    session.tell(Subscribe("geral"))
    session.arrive(*post("bob", "geral", "on time"))
    session.tell(Subscribe("geral", on=False))
    session.arrive(*post("bob", "geral", "too late"))
    session.settle()
    assert [d.message for d in session.deliveries] == ["on time"]
    assert session.dropped == 2


def test_subscriptions_reach_the_transport_once(session: Harness) -> None:
    session.tell(Subscribe("ana"))
    session.tell(Subscribe("ana"))
    session.tell(Subscribe("geral"))
    session.tell(Subscribe("geral", on=False))
    session.tell(Subscribe("geral", on=False))
    session.tell(Subscribe("never", on=False))
    session.settle()
    assert session.transport.subscriptions == [
        ("sub", "ana", True),
        ("sub", "geral", True),
        ("sub", "geral", False),
    ]


# ---- requests -----------------------------------------------------------------------------


def test_a_call_goes_to_the_broker_with_the_client_timing(session: Harness) -> None:
    result = session.call("login", user="ana")
    [sent] = session.transport.requests
    assert (sent.endpoint, sent.service, sent.data) == (BROKER, "login", {"user": "ana"})
    assert (sent.call.timeout, sent.call.retries) == (
        TIMING.request_timeout,
        TIMING.request_retries,
    )
    assert not result.done()
    sent.on_done(Response(True, BROKER, "login", {"status": "sucesso", "clock": 4}))
    assert result.result(timeout=5) == {"status": "sucesso", "clock": 4}


def test_publish_and_message_carry_a_request_id_other_services_do_not(session: Harness) -> None:
    session.call("publish", user="ana", channel="x", message="m")
    session.call("message", src="ana", dst="bob", message="m")
    session.call("users")
    ids = [sent.data.get("request_id") for sent in session.transport.requests]
    assert ids[0] and ids[1] and ids[0] != ids[1] and ids[2] is None


def test_a_failed_response_raises_unreachable(session: Harness) -> None:
    result = session.call("users")
    session.transport.requests[0].on_done(Response(False, BROKER, "users", error="timeout"))
    with pytest.raises(Unreachable, match=r"tcp://broker\.test:5555.*timeout"):
        result.result(timeout=5)


def test_an_error_reply_is_data_not_an_exception(session: Harness) -> None:
    result = session.call("publish", user="ana", channel="x", message="m")
    refused = {"status": "erro", "message": "unknown channel"}
    session.transport.requests[0].on_done(Response(True, BROKER, "publish", refused))
    assert result.result(timeout=5)["status"] == "erro"


# ---- publication shapes -------------------------------------------------------------------


def test_our_servers_channel_post(session: Harness) -> None:
    session.tell(Subscribe("geral"))
    session.arrive(*post("bob", "geral", "oi", clock=12))
    session.settle()
    assert session.deliveries == [
        Delivery("geral", "channel", "bob", "geral", "", "oi", 1_700_000_000.25, 12)
    ]


def test_our_servers_private_message(session: Harness) -> None:
    session.tell(Subscribe("ana"))
    session.arrive(*private("bob", "ana", "psst", clock=13))
    session.settle()
    assert session.deliveries == [
        Delivery("ana", "private", "bob", "", "ana", "psst", 1_700_000_000.25, 13)
    ]


CHANNEL_UNION = {  # protocol.md, "Publications", channel post
    "service": "publish",
    "type": "channel",
    "user": "bob",
    "src": "bob",
    "channel": "geral",
    "message": "oi",
    "timestamp": 1_700_000_000.5,
    "clock": 9,
    "data": {
        "user": "bob",
        "channel": "geral",
        "message": "oi",
        "timestamp": 1_700_000_000.5,
        "clock": 9,
    },
}
PRIVATE_UNION = {  # protocol.md, "Publications", private message
    "service": "message",
    "type": "private",
    "src": "bob",
    "from": "bob",
    "user": "bob",
    "dst": "ana",
    "to": "ana",
    "message": "psst",
    "timestamp": 1_700_000_000.5,
    "clock": 9,
    "data": {
        "src": "bob",
        "dst": "ana",
        "message": "psst",
        "timestamp": 1_700_000_000.5,
        "clock": 9,
    },
}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (CHANNEL_UNION, ("channel", "bob", "geral", "", "oi")),
        (PRIVATE_UNION, ("private", "bob", "", "ana", "psst")),
        # Peers that keep the fields only inside `data`, or only at the top level.
        (
            {"service": "publish", "data": CHANNEL_UNION["data"]},
            ("channel", "bob", "geral", "", "oi"),
        ),
        (
            {"service": "message", "data": PRIVATE_UNION["data"]},
            ("private", "bob", "", "ana", "psst"),
        ),
        (
            {
                "type": "private",
                "from": "bob",
                "to": "ana",
                "message": "psst",
                "clock": 9,
                "timestamp": 1_700_000_000_500,
            },
            ("private", "bob", "", "ana", "psst"),
        ),
    ],
)
def test_delivery_parsing_of_peer_shapes(
    message: dict[str, Any], expected: tuple[str, ...]
) -> None:
    d = parse_delivery("topic", message)
    assert (d.kind, d.user, d.channel, d.dst, d.message) == expected
    assert d.timestamp == pytest.approx(1_700_000_000.5)
    assert d.clock == 9


def test_a_single_frame_publication_is_split_at_the_first_space(session: Harness) -> None:
    frames = [b"ana " + msgpack.packb(PRIVATE_UNION)]
    topic, payload = split_publication(frames)
    session.tell(Subscribe("ana"))
    session.arrive(topic, msgpack.unpackb(payload))
    session.settle()
    assert [(d.topic, d.message) for d in session.deliveries] == [("ana", "psst")]
