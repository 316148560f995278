"""The cluster side of `bbs web`: one socket pump shared by every browser session.

A pump per browser (what `ChatClient` is: a pump and a session actor, two threads and a
ZeroMQ context each) does not scale to hundreds of browsers on two cores, so the gateway
keeps one: one SUB socket on the proxy's XPUB, subscribed to a topic while any session wants
it, whose publications are handed to the sessions by exact topic (roles/web_topics.py);
and the broker's frontend for requests, each session in a lane of its own (its own REQ
socket and connection in the pump: its requests go one at a time with the Lazy Pirate
retries of every client, and the cluster's per-connection fair share is per browser).

The pump's callbacks run in its thread and only hand over to the asyncio loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

import structlog

from actors.base import Node
from actors.session import Unreachable
from roles.web_topics import TopicBook
from transport import protocol
from transport.browser import delivery_frame, text_frame
from transport.keys import Curve
from transport.port import SUB, Call, Publication, Response
from transport.pump import Pump

log = structlog.get_logger()
Deliver = Callable[[bytes], None]  # a session's way of taking one encoded WebSocket frame


class Gateway:
    def __init__(
        self,
        node: Node,
        broker: str,
        proxy_sub: str,
        loop: asyncio.AbstractEventLoop,
        curve: Curve | None = None,
    ) -> None:
        self.node = node
        self.broker = broker
        self.loop = loop
        self.book = TopicBook()
        self.sessions: dict[Hashable, Deliver] = {}
        self.delivered = 0
        self.pump = Pump.start(node, curve)
        try:
            self.pump.subscriber_batches(SUB, proxy_sub, [], self._on_publications)
            self.pump.ready()
        except BaseException:
            self.pump.stop()
            raise

    def close(self) -> None:
        self.pump.stop()

    # ---- sessions and their topics ------------------------------------------------------

    def attach(self, session: Hashable, deliver: Deliver) -> None:
        self.sessions[session] = deliver

    def detach(self, session: Hashable) -> None:
        self.sessions.pop(session, None)
        for topic in self.book.drop(session):
            self.pump.subscribe(SUB, topic, False)

    def follow(self, session: Hashable, topic: str, on: bool = True, private: bool = False) -> None:
        """Deliver `topic`'s channel posts (or, `private`, the private messages to the user
        `topic`) to `session`, or stop."""
        if on and self.book.add(session, topic, private):
            self.pump.subscribe(SUB, topic, True)
        elif not on and self.book.remove(session, topic, private):
            self.pump.subscribe(SUB, topic, False)

    def _on_publications(self, batch: list[Publication]) -> None:
        """What one round of the pump read: one hand-over to the event loop."""
        self.loop.call_soon_threadsafe(self._fan_out, batch)

    def _fan_out(self, batch: list[Publication]) -> None:
        for publication in batch:
            delivery = protocol.parse_delivery(publication.topic, publication.message)
            readers = self.book.readers(publication.topic, delivery.kind == "private")
            if not readers:
                continue  # a longer topic the prefix match let through, or nobody reads it now
            frame = text_frame(delivery_frame(delivery))  # encoded once for every reader
            for session in readers:
                self.sessions[session](frame)
            self.delivered += len(readers)

    # ---- requests -----------------------------------------------------------------------

    async def call(self, lane: str, service: str, data: dict[str, Any]) -> dict[str, Any]:
        """One request of the session `lane`; the reply's data, or Unreachable once the
        Lazy Pirate retries are spent."""
        done: asyncio.Future[Response] = self.loop.create_future()
        timing = self.node.timing
        call = Call(
            self.broker, service, data, timing.request_timeout, timing.request_retries, lane
        )
        self.pump.request(call, lambda r: self.loop.call_soon_threadsafe(_settle, done, r))
        response = await done
        if not response.ok:
            log.warning("cluster_unreachable", service=service, reason=response.error)
            raise Unreachable(f"no answer from the cluster at {self.broker} ({response.error})")
        return response.data


def _settle(done: asyncio.Future[Response], response: Response) -> None:
    if not done.done():  # the browser may have left (the task awaiting it was cancelled)
        done.set_result(response)
