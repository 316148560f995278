"""Catch-up as pure state: the peers a replica pulls from with `sync`, grouped in rounds, and
the callbacks that wait until what was pulled is on disk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NextPage:
    """Pull the next page from `peer`."""

    peer: str


@dataclass(frozen=True)
class RoundDone:
    """The last pull of a round ended: `events` pulled in `seconds`."""

    events: int
    seconds: float


@dataclass
class CatchUp:
    """A round starts with a pull while none runs and ends when no peer pulled from has more.

    Waiting callbacks are released once no pull runs and no batch of other origins' events
    (pulled, pushed or published) is on its way to disk, so whatever they trigger sees
    everything fetched so far.
    """

    pulling: set[str] = field(default_factory=set)
    events: int = 0  # pulled in the current round
    started: float = 0.0
    applying: int = 0  # batches on their way to disk
    waiting: list[Callable[[], None]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return bool(self.pulling)

    def pull(self, peer: str, now: float) -> bool:
        """Start pulling from `peer`; False if that pull is already running."""
        if peer in self.pulling:
            return False
        if not self.pulling:
            self.started = now
        self.pulling.add(peer)
        return True

    def page_done(
        self, peer: str, count: int, more: bool, now: float
    ) -> NextPage | RoundDone | None:
        """A page from `peer` brought `count` new events (a failed pull: none, no more);
        `more` if the peer has further pages and is still live. None: the round goes on
        without this peer, or it ended having found nothing."""
        self.events += count
        if more:
            return NextPage(peer)
        self.pulling.discard(peer)
        if self.pulling or not self.events:
            return None
        done = RoundDone(self.events, now - self.started)
        self.events = 0
        return done

    def wait(self, callback: Callable[[], None]) -> None:
        self.waiting.append(callback)

    def storing(self) -> None:
        """A batch of other origins' events went to disk."""
        self.applying += 1

    def stored(self) -> None:
        """A batch of other origins' events is durable."""
        self.applying -= 1

    def release(self) -> list[Callable[[], None]]:
        """The callbacks to run now: every waiting one once the replica is settled."""
        if self.pulling or self.applying:
            return []
        released, self.waiting = self.waiting, []
        return released
