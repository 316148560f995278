"""Replication bookkeeping as pure state: which events a replica may apply, and when an
origin may acknowledge a write to its client."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from transport.protocol import Event


@dataclass
class ReplicaHeads:
    """Per origin, the highest sequence number claimed: handed to storage (durable or in
    flight), so that it is not asked for twice. What the replica *holds* is the store's heads.

    Only contiguous events are accepted, so a replica's state is always a prefix of every
    origin's log and a `heads` vector describes it exactly. Events that storage failed to
    store are released: claimed again when they come back (from a push or a sync).
    """

    claimed: dict[str, int] = field(default_factory=dict)

    def accept(self, events: Iterable[Event]) -> tuple[list[Event], set[str]]:
        """The events to apply now, in order, and the origins in which a gap was seen."""
        take: list[Event] = []
        gaps: set[str] = set()
        for event in sorted(events, key=lambda e: (e.origin, e.seq)):
            head = self.claimed.get(event.origin, 0)
            if event.seq == head + 1:
                self.claimed[event.origin] = event.seq
                take.append(event)
            elif event.seq > head + 1:
                gaps.add(event.origin)
        return take, gaps

    def next_seq(self, origin: str) -> int:
        seq = self.claimed.get(origin, 0) + 1
        self.claimed[origin] = seq
        return seq

    def release(self, events: Iterable[Event]) -> None:
        """These events were not stored: per origin, claim again from the first of them."""
        for event in events:
            head = self.claimed.get(event.origin, 0)
            self.claimed[event.origin] = min(head, event.seq - 1)


@dataclass
class PendingWrite:
    token: object
    event: Event
    started: float
    durable_at: float | None = None


@dataclass
class Acknowledgement:
    token: object
    event: Event
    copies: int
    degraded: bool
    durable_at: float


@dataclass
class AckTracker:
    """When may the origin tell the client OK?

    - always once durable here AND applied by every live, healthy peer (read-your-writes on
      any replica);
    - a peer that has not applied it and has answered nothing for `timeout` is marked
      lagging (it is gone or cut off) and no longer waited for, as long as one peer has it;
      a peer that still answers is waited for up to 1.5 x `timeout` (meanwhile `behind`
      tells the chat to shed new writes, so a slow peer is not silently left out);
    - with no healthy peer left, the write is acknowledged on this replica alone (degraded).
    A lagging peer is healthy again once it has applied every write acknowledged so far.
    """

    timeout: float
    pending: OrderedDict[int, PendingWrite] = field(default_factory=OrderedDict)
    acked: dict[str, int] = field(default_factory=dict)
    lagging: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)
    last_acknowledged: int = 0
    heard: dict[str, float] = field(default_factory=dict)  # when each peer last answered

    def set_live(self, peers: Iterable[str]) -> None:
        self.live = set(peers)
        self.lagging &= self.live

    def add(self, token: object, event: Event, now: float) -> None:
        self.pending[event.seq] = PendingWrite(token, event, now)

    def fail(self, events: Iterable[Event]) -> list[PendingWrite]:
        """These writes were not stored: drop the first of them still pending and every later
        one (past a hole, storage refuses it). Returns the dropped writes in order; their
        sequence numbers are free again. A notice about a write already dropped (its seq may
        now belong to a newer write) changes nothing."""
        seqs = [e.seq for e in events if (p := self.pending.get(e.seq)) and p.event == e]
        if not seqs:
            return []
        dropped = [seq for seq in self.pending if seq >= min(seqs)]
        return [self.pending.pop(seq) for seq in dropped]

    def durable(self, seq: int, at: float) -> None:
        """Write `seq` is durable here since `at` (the clock its logs report lag with)."""
        if seq in self.pending:
            self.pending[seq].durable_at = at

    def peer_applied(self, peer: str, head: int, *, now: float) -> None:
        self.heard[peer] = now
        self.acked[peer] = max(self.acked.get(peer, 0), head)
        if peer in self.lagging and self.acked[peer] >= self.last_acknowledged:
            self.lagging.discard(peer)

    def healthy(self) -> set[str]:
        return self.live - self.lagging

    def ready(self, now: float) -> tuple[list[Acknowledgement], set[str]]:
        """Writes that may be acknowledged now (in order) and peers newly marked lagging."""
        done: list[Acknowledgement] = []
        newly_lagging: set[str] = set()
        for seq, p in list(self.pending.items()):
            if p.durable_at is None:
                break
            have = {peer for peer, head in self.acked.items() if head >= seq and peer in self.live}
            missing = self.healthy() - have
            gone = {peer for peer in missing if self._given_up(peer, p.started, now)}
            self.lagging |= gone
            newly_lagging |= gone
            if missing - gone:
                break
            del self.pending[seq]
            self.last_acknowledged = seq
            copies = 1 + len(have)
            done.append(Acknowledgement(p.token, p.event, copies, not have, p.durable_at))
        return done, newly_lagging

    def _given_up(self, peer: str, started: float, now: float) -> bool:
        silent = now - max(started, self.heard.get(peer, started))
        return silent >= self.timeout or now - started >= 1.5 * self.timeout

    def behind(self, now: float) -> bool:
        """Whether the oldest waiting write has waited half the timeout for a peer that is
        still answering (a slow peer, not a gone one): time to shed new writes."""
        for seq, p in self.pending.items():
            if p.durable_at is None or now - p.started < self.timeout / 2:
                return False
            have = {peer for peer, head in self.acked.items() if head >= seq}
            waiting = self.healthy() - have
            return any(now - self.heard.get(peer, -1e18) < self.timeout / 4 for peer in waiting)
        return False

    def min_acked(self) -> int:
        heads = [self.acked.get(peer, 0) for peer in self.live]
        return min(heads) if heads else self.last_acknowledged
