"""The bully election (highest live rank wins) as a pure state machine.

Inputs carry `now`; outputs are actions for the actor to carry out, so every interleaving
can be tested without threads or sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Phase(Enum):
    IDLE = "idle"
    ELECTING = "electing"  # sent `election` upwards, waiting for an OK
    AWAITING_ANNOUNCE = "awaiting"  # a higher server answered OK; it should announce


@dataclass(frozen=True)
class SendElection:
    peer: str


@dataclass(frozen=True)
class Announce:
    """Publish that this server is the coordinator."""


@dataclass(frozen=True)
class Elected:
    coordinator: str
    previous: str | None


Action = SendElection | Announce | Elected


@dataclass
class Bully:
    name: str
    answer_timeout: float
    announce_timeout: float
    rank: int | None = None
    ranks: dict[str, int] = field(default_factory=dict)
    coordinator: str | None = None
    phase: Phase = Phase.IDLE
    deadline: float = 0.0
    started_at: float | None = None

    def set_membership(self, rank: int | None, ranks: dict[str, int], now: float) -> list[Action]:
        self.rank = rank
        self.ranks = {n: r for n, r in ranks.items() if n != self.name}
        if self.phase is Phase.IDLE and (
            self.coordinator is None or self._outranks(self.coordinator)
        ):
            return self.start(now)
        return []

    def _outranks(self, name: str) -> bool:
        """True when `name` is a known server ranked below us (so it must not lead)."""
        rank = self.ranks.get(name)
        return name != self.name and rank is not None and self.rank is not None and rank < self.rank

    def start(self, now: float) -> list[Action]:
        if self.rank is None:
            return []
        if self.started_at is None:
            self.started_at = now
        higher = sorted(n for n, r in self.ranks.items() if r > self.rank)
        if not higher:
            return self._win()
        self.phase, self.deadline = Phase.ELECTING, now + self.answer_timeout
        return [SendElection(peer) for peer in higher]

    def _win(self) -> list[Action]:
        actions: list[Action] = [Announce()]
        actions += self._set_coordinator(self.name)
        return actions

    def _set_coordinator(self, name: str) -> list[Action]:
        previous, self.coordinator = self.coordinator, name
        self.phase, self.started_at = Phase.IDLE, None
        return [Elected(name, previous)] if previous != name else []

    def on_answer(self, ok: bool, now: float) -> list[Action]:
        if ok and self.phase is Phase.ELECTING:
            self.phase, self.deadline = Phase.AWAITING_ANNOUNCE, now + self.announce_timeout
        return []

    def on_election_request(self, now: float) -> list[Action]:
        """A lower server asks; the actor replies OK, and we take over the election."""
        return self.start(now) if self.phase is Phase.IDLE else []

    def knows(self, name: str) -> bool:
        """Whether `name` is this server or a peer the reference lists."""
        return name == self.name or name in self.ranks

    def on_announce(self, name: str, now: float) -> list[Action]:
        """An announcement naming an unknown server is ignored: it is forged, or from a
        server the reference has not listed to us yet (it announces again soon)."""
        if not self.knows(name):
            return []
        if self._outranks(name):
            return self.start(now)  # a lower server claims it: bully it
        return self._set_coordinator(name)

    def on_coordinator_lost(self, now: float) -> list[Action]:
        if self.phase is not Phase.IDLE:
            return []
        self.coordinator = None
        return self.start(now)

    def on_tick(self, now: float) -> list[Action]:
        if self.phase is Phase.ELECTING and now >= self.deadline:
            return self._win()
        if self.phase is Phase.AWAITING_ANNOUNCE and now >= self.deadline:
            return self.start(now)
        if self.phase is Phase.IDLE and self.coordinator is None:
            return self.start(now)
        return []

    @property
    def is_coordinator(self) -> bool:
        return self.coordinator == self.name
