"""A blocking client API over the session actor, shared by the interactive client, the bot,
tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

import pykka

from actors.base import Node
from actors.session import ClusterRequest, Incoming, SessionActor, Subscribe, Unreachable
from config.timing import DEFAULT_TIMING, Timing
from transport.keys import Curve
from transport.port import SUB
from transport.protocol import Delivery
from transport.pump import Pump

__all__ = ["ChatClient", "Delivery", "Unreachable"]
CALL_GUARD = 120.0


class ChatClient:
    def __init__(
        self,
        broker: str,
        proxy_sub: str,
        on_delivery: Callable[[Delivery], None],
        node: Node | None = None,
        timing: Timing = DEFAULT_TIMING,
        curve: Curve | None = None,
    ) -> None:
        self.node = node or Node("client", "client", timing=timing)
        self.user = ""
        self._actors: list[pykka.ActorRef] = []  # stopped in reverse by close()
        try:
            self.pump = Pump.start(self.node, curve)
            self._actors.append(self.pump.ref)
            self.session = SessionActor.start(self.node, self.pump, broker, on_delivery)
            self._actors.append(self.session)
            self.pump.subscriber(SUB, proxy_sub, [], lambda pub: self.session.tell(Incoming(pub)))
            self.pump.ready()
        except BaseException:  # e.g. a malformed endpoint: leave no actor thread behind
            self.close()
            raise

    def call(self, service: str, **data: Any) -> dict[str, Any]:
        """Send one request; returns the reply's data or raises Unreachable."""
        result: Future = Future()
        self._tell(ClusterRequest(service, data, result))
        # The pump always settles a call (reply or Unreachable after its retries); the bound
        # only guards against a dead pump. Calls from several threads queue one by one.
        try:
            return result.result(timeout=CALL_GUARD)
        except FuturesTimeout as exc:
            raise Unreachable(f"no answer from the client's transport in {CALL_GUARD}s") from exc

    def subscribe(self, topic: str, on: bool = True) -> None:
        self._tell(Subscribe(topic, on))

    def _tell(self, message: object) -> None:
        try:
            self.session.tell(message)
        except pykka.ActorDeadError as exc:
            raise Unreachable("the client is closed") from exc

    def login(self, user: str) -> dict[str, Any]:
        reply = self.call("login", user=user)
        if reply.get("status") == "sucesso":
            self.user = user
            self.subscribe(user)
        return reply

    def close(self) -> None:
        for ref in reversed(self._actors):
            ref.stop(block=True, timeout=5)
