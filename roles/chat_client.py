"""A blocking client API over the session actor, shared by the interactive client, the bot,
tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path
from typing import Any

import pykka

from actors.base import Node
from actors.session import (
    ClusterRequest,
    Incoming,
    SessionActor,
    Subscribe,
    Unreachable,
    UseKey,
)
from config.timing import DEFAULT_TIMING, Timing
from roles.keyring import DEFAULT_HOME, account_key
from transport import protocol, sealing
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
        keys_home: Path = DEFAULT_HOME,
        curve: Curve | None = None,
    ) -> None:
        """`keys_home`: where the key pair of each claimed name is kept (roles.keyring)."""
        self.node = node or Node("client", "client", timing=timing)
        self.user = ""
        self._actors: list[pykka.ActorRef] = []  # stopped in reverse by close()
        self.token = ""  # of a claimed name, sent with the requests that act as the user
        self.keys_home = keys_home
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
        self._tell(ClusterRequest(service, data, result, self.token))
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

    def login(self, user: str, password: str = "", new_password: str = "") -> dict[str, Any]:
        """Log in; with a password, claim the name if it is free (or prove it if it is
        claimed, and change it to `new_password` if given), and have private messages
        sealed to this account's key."""
        key = account_key(self.keys_home, user) if password else b""
        public_key = sealing.public_key_of(key) if key else ""
        request = protocol.login_request(user, password, public_key, new_password)
        reply = self.call("login", **request)
        if protocol.login_accepted(reply):
            self.user = user
            self.token = protocol.parse_login_token(reply)
            if key:
                self._tell(UseKey(key))
            self.subscribe(user)
            self.subscribe(f"user:{user}")  # where one team's servers publish them
        return reply

    def who(self) -> dict[str, Any]:
        """Who is online now (`online`: sorted names); also this session's keep-alive."""
        return self.call("who", **({"user": self.user} if self.user else {}))

    def close(self) -> None:
        for ref in reversed(self._actors):
            ref.stop(block=True, timeout=5)
