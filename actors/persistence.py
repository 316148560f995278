"""Persistence actor: owns the SQLite connection (created in its own thread) and commits
queued appends together (group commit): a Flush is queued behind the appends already in the
mailbox, so one transaction and one fsync cover the whole burst."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actors.base import BaseActor, Node, handles
from actors.event_store import EventStore, move_aside
from actors.messages import Append, Appended, Flush, HistoryQuery
from transport import protocol
from transport.port import Transport
from transport.protocol import SyncRequest


@dataclass(frozen=True)
class Snapshot:
    heads: dict[str, int]
    users: list[str]
    channels: list[str]


class PersistenceActor(BaseActor):
    actor_name = "persistence"

    def __init__(
        self,
        node: Node,
        path: Path | str,
        transport: Transport,
        on_appended: Callable[[Appended], None],
    ) -> None:
        super().__init__(node)
        self.path = path
        self.transport = transport
        self.on_appended = on_appended
        self.store: EventStore | None = None
        self.queued: list[Append] = []
        self.heads: dict[str, int] = {}
        self.opened = Snapshot({}, [], [])

    def started(self) -> None:
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            # Unreadable (corrupt, not a database): keep it for inspection and start empty;
            # catch-up then rebuilds this replica from its peers.
            aside = move_aside(Path(self.path))
            self.log.error(
                "store_unreadable", path=str(self.path), error=str(exc), moved_to=str(aside)
            )
            self._open()
        self.log.info(
            "store_opened", path=str(self.path), events=sum(self.heads.values()), heads=self.heads
        )

    def _open(self) -> None:
        self.store = EventStore(self.path)
        try:
            self.heads = self.store.heads()
            self.opened = Snapshot(dict(self.heads), self.store.users(), self.store.channels())
            # A restarted server must not issue clocks below those it stored: new posts would
            # sort before old ones in every replica's history.
            self.node.lamport.merge(self.store.max_clock())
        except sqlite3.DatabaseError:
            self.store.close()
            self.store = None
            raise

    def on_stop(self) -> None:
        self._flush()
        if self.store is not None:
            self.store.close()

    def snapshot(self) -> Snapshot:
        """What the store held when it was opened (seeds the other actors)."""
        return self.opened

    @handles(Append)
    def _append(self, message: Append) -> None:
        if not self.queued:
            self.actor_ref.tell(Flush())
        self.queued.append(message)

    @handles(Flush)
    def _on_flush(self, _: Flush) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self.queued or self.store is None:
            return
        batch, self.queued = self.queued, []
        fresh = self.store.append(e for m in batch for e in m.events)
        fresh_ids = {e.id for e in fresh}
        for e in fresh:
            self.heads[e.origin] = max(self.heads.get(e.origin, 0), e.seq)
        for m in batch:
            mine = tuple(e for e in m.events if e.id in fresh_ids)
            self.on_appended(Appended(m.tag, mine, dict(self.heads)))

    @handles(HistoryQuery)
    def _history(self, q: HistoryQuery) -> None:
        assert self.store is not None
        query = q.query
        if query.channel:
            events = self.store.channel_history(query.channel, query.limit, query.before_clock)
        else:
            events = self.store.private_history(
                query.user, query.peer, query.limit, query.before_clock
            )
        self.transport.reply(q.inbound, protocol.history_reply(events))

    @handles(SyncRequest)
    def _sync(self, q: SyncRequest) -> None:
        assert self.store is not None
        self._flush()
        events = self.store.since(q.heads, q.limit + 1)
        more = len(events) > q.limit
        self.transport.reply(q.inbound, protocol.sync_reply(events[: q.limit], more, self.heads))
