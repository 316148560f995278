"""Session actor of a client or bot: requests through the broker (Lazy Pirate in the pump),
subscriptions through the proxy, and exact-topic filtering of what arrives."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from actors.base import BaseActor, Node, handles
from transport.codec import clock_of, to_seconds
from transport.port import SUB, Call, Publication, Response, Transport

ONCE_ONLY = ("publish", "message")


class Unreachable(RuntimeError):
    """The cluster did not answer after every retry."""


@dataclass(frozen=True)
class ClusterRequest:
    service: str
    data: dict[str, Any]
    result: Future


@dataclass(frozen=True)
class CallDone:
    response: Response
    result: Future


@dataclass(frozen=True)
class Subscribe:
    topic: str
    on: bool = True


@dataclass(frozen=True)
class Incoming:
    """A publication as it came off the wire (possibly for a topic we do not want)."""

    publication: Publication


@dataclass(frozen=True)
class Delivery:
    """A publication for a topic this session subscribed to."""

    topic: str
    kind: str  # "channel" or "private"
    user: str
    channel: str
    dst: str
    message: str
    timestamp: float
    clock: int


def to_delivery(topic: str, message: dict[str, Any]) -> Delivery:
    data = message.get("data") if isinstance(message.get("data"), dict) else {}

    def pick(*names: str) -> str:
        for source in (message, data):
            for name in names:
                value = source.get(name)
                if isinstance(value, str) and value:
                    return value
        return ""

    private = (
        message.get("type") == "private"
        or message.get("service") == "message"
        or (bool(pick("dst", "to")) and not pick("channel"))
    )
    return Delivery(
        topic=topic,
        kind="private" if private else "channel",
        user=pick("user", "src", "from"),
        channel=pick("channel"),
        dst=pick("dst", "to"),
        message=pick("message"),
        timestamp=to_seconds(message.get("timestamp", data.get("timestamp"))),
        clock=clock_of(message),
    )


class SessionActor(BaseActor):
    actor_name = "session"

    def __init__(
        self, node: Node, transport: Transport, broker: str, on_delivery: Callable[[Delivery], None]
    ) -> None:
        super().__init__(node)
        self.transport = transport
        self.broker = broker
        self.on_delivery = on_delivery
        self.topics: set[str] = set()
        self.dropped = 0

    @handles(ClusterRequest)
    def _call(self, c: ClusterRequest) -> None:
        timing = self.node.timing
        data = c.data
        if c.service in ONCE_ONLY and "request_id" not in data:
            data = {**data, "request_id": uuid.uuid4().hex}  # every resend carries the same id
        call = Call(self.broker, c.service, data, timing.request_timeout, timing.request_retries)
        self.call(call, lambda response: CallDone(response, c.result))

    @handles(CallDone)
    def _done(self, d: CallDone) -> None:
        if d.response.ok:
            d.result.set_result(d.response.data)
        else:
            self.log.warning(
                "cluster_unreachable", service=d.response.service, reason=d.response.error
            )
            d.result.set_exception(
                Unreachable(f"no answer from the cluster at {self.broker} ({d.response.error})")
            )

    @handles(Subscribe)
    def _subscribe(self, s: Subscribe) -> None:
        if s.on and s.topic not in self.topics:
            self.topics.add(s.topic)
            self.transport.subscribe(SUB, s.topic, True)
        elif not s.on and s.topic in self.topics:
            self.topics.discard(s.topic)
            self.transport.subscribe(SUB, s.topic, False)

    @handles(Incoming)
    def _incoming(self, i: Incoming) -> None:
        # ZeroMQ matches prefixes: a subscriber of `ana` also receives `anabel`.
        if i.publication.topic not in self.topics:
            self.dropped += 1
            return
        self.on_delivery(to_delivery(i.publication.topic, i.publication.message))
