"""Presence: who is online, with one definition on every replica.

A user is online while a client request naming them (login, publish, message, history, a
`users` or `who` with `user`: our client's keep-alive) reached any replica in the last
PRESENCE_WINDOW seconds. The chat actor tells this actor those names, once per batch of
requests; every few seconds each replica sends its table to its peers (`presence`) and
merges theirs from the reply. The tables carry ages ("seen 4.2 s ago"), not times, so
replicas' clocks need not agree: a name is at most one exchange period plus a round trip
late on another replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.base import BaseActor, Node, handles
from actors.messages import Answered, Membership
from transport import protocol
from transport.port import Call, Inbound, Transport
from transport.protocol import MAX_PRESENCE, PRESENCE_WINDOW, PresenceRequest, Service


class Presence:
    """The table: name -> when (monotonic seconds) a request last named them."""

    def __init__(self, window: float = PRESENCE_WINDOW, limit: int = MAX_PRESENCE) -> None:
        self.window, self.limit = window, limit
        self.last: dict[str, float] = {}

    def seen(self, user: str, now: float) -> None:
        self.last.pop(user, None)  # most recent last: the oldest go first when full
        self.last[user] = now
        self._bound(now)

    def merge(self, ages: dict[str, float], now: float) -> None:
        """A peer's table (ages in seconds) into ours: the most recent sighting wins."""
        for user, age in ages.items():
            at = now - age
            if age <= self.window and at > self.last.get(user, -float("inf")):
                self.last[user] = at
        self._bound(now)

    def _bound(self, now: float) -> None:
        if len(self.last) <= self.limit:
            return
        self.last = dict(sorted(self._fresh(now).items(), key=lambda kv: kv[1])[-self.limit :])

    def _fresh(self, now: float) -> dict[str, float]:
        self.last = {u: t for u, t in self.last.items() if now - t <= self.window}
        return self.last

    def online(self, now: float) -> list[str]:
        return sorted(self._fresh(now))

    def ages(self, now: float) -> dict[str, float]:
        """What a `presence` exchange carries (at most `limit` names, all within the window)."""
        return {u: max(0.0, now - t) for u, t in self._fresh(now).items()}


@dataclass(frozen=True)
class Seen:
    """Client requests named these users (the chat actor tells them once per batch)."""

    users: tuple[str, ...]


@dataclass(frozen=True)
class AnswerWithOnline:
    """Reply to `inbound` with `data` plus the `online` list (`who`, `users`)."""

    inbound: Inbound
    data: dict[str, Any]


@dataclass(frozen=True)
class PresenceDue:
    """Timer: send our table to every peer."""


@dataclass(frozen=True)
class PresenceAnswered(Answered):
    """A peer's table, in reply to ours."""


class PresenceActor(BaseActor):
    actor_name = "presence"

    def __init__(
        self, node: Node, transport: Transport, now: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(node)
        self.transport, self.now = transport, now
        self.presence = Presence()
        self.peers: dict[str, str] = {}  # name -> peer endpoint

    @handles(Seen)
    def _seen(self, s: Seen) -> None:
        now = self.now()
        for user in s.users:
            self.presence.seen(user, now)

    @handles(AnswerWithOnline)
    def _answer(self, a: AnswerWithOnline) -> None:
        online = self.presence.online(self.now())
        self.transport.reply(a.inbound, protocol.with_online(a.data, online))

    @handles(Membership)
    def _membership(self, m: Membership) -> None:
        self.peers = {p.name: p.address for p in m.peers}

    @handles(PresenceDue)
    def _exchange(self, _: PresenceDue) -> None:
        request = protocol.presence_request(self.presence.ages(self.now()))
        timing = self.node.timing
        for name, address in self.peers.items():
            call = Call(address, Service.PRESENCE, request, timing.peer_timeout, 0, "presence")
            self.call(call, lambda response, peer=name: PresenceAnswered(peer, response))

    @handles(PresenceAnswered)
    def _answered(self, a: PresenceAnswered) -> None:
        if a.ok:
            self.presence.merge(protocol.parse_presence(a.data), self.now())

    @handles(PresenceRequest)
    def _request(self, r: PresenceRequest) -> None:
        now = self.now()
        self.presence.merge(r.ages, now)
        self.transport.reply(r.inbound, protocol.presence_reply(self.presence.ages(now)))
