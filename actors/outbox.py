"""The origin's outbox as pure state: its own events that some live peer may still lack, and
which batch to push to each peer."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

from actors.pages import PAGE_BYTES, take_page, wire_size
from transport.protocol import Event

PUSH_BATCH = 1000  # events in one `replicate` push (and at most PAGE_BYTES of them)
OUTBOX_LIMIT = 200_000  # events kept; a peer further behind catches up with `sync`
OUTBOX_BYTES = 64 * 2**20  # ... and their encoded bytes: the largest posts are 40 KB each


@dataclass
class Outbox:
    """Our own events in sequence order, until every live peer has applied them.

    At most one push per peer is in flight: the next one starts from what its answer says
    the peer holds, so a batch is never sent twice on purpose. A peer that refused a push
    (it could not store it) rests a while before the next one.
    """

    batch: int = PUSH_BATCH
    budget: int = PAGE_BYTES
    limit: int = OUTBOX_LIMIT
    max_bytes: int = OUTBOX_BYTES
    events: OrderedDict[int, Event] = field(default_factory=OrderedDict)
    sizes: dict[int, int] = field(default_factory=dict)  # encoded once, when added
    total_bytes: int = 0
    in_flight: set[str] = field(default_factory=set)
    resting: dict[str, float] = field(default_factory=dict)  # peer -> no push before then

    def __len__(self) -> int:
        return len(self.events)

    def add(self, event: Event) -> None:
        self.events[event.seq] = event
        self.sizes[event.seq] = wire_size(event)
        self.total_bytes += self.sizes[event.seq]
        while len(self.events) > self.limit or self.total_bytes > self.max_bytes:
            self._forget_oldest()

    def next_push(self, peer: str, acked: int, now: float = 0.0) -> list[Event]:
        """The batch to push to `peer`, which holds our events up to `acked`: empty while a
        push to it is in flight or it rests, or when it lacks nothing kept here. A batch
        returned counts as in flight until `answered(peer)`."""
        if peer in self.in_flight or now < self.resting.get(peer, now):
            return []
        batch = self._batch_after(acked)
        if batch:
            self.in_flight.add(peer)
        return batch

    def answered(self, peer: str, rest_until: float | None = None) -> None:
        """The push to `peer` is over (answered or failed); if it refused it, no push to it
        before `rest_until`."""
        self.in_flight.discard(peer)
        if rest_until is None:
            self.resting.pop(peer, None)
        else:
            self.resting[peer] = rest_until

    def trim(self, floor: int) -> None:
        """Forget the events up to `floor`, the lowest head every live peer has applied."""
        while self.events and next(iter(self.events)) <= floor:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        seq, _ = self.events.popitem(last=False)
        self.total_bytes -= self.sizes.pop(seq)

    def _batch_after(self, acked: int) -> list[Event]:
        """The oldest events past `acked`, within the bounds of one push."""
        lacking = itertools.dropwhile(lambda e: e.seq <= acked, self.events.values())
        batch, _ = take_page(lacking, lambda e: self.sizes[e.seq], self.batch, self.budget)
        return batch
