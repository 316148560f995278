"""Persistence actor: owns the SQLite connection (created in its own thread) and commits
queued appends together (group commit): appends wait until the mailbox holds nothing more
(or MAX_GROUP events wait), so one transaction and one fsync cover the whole burst.

Every Append is answered with Appended: what is now durable, and what was not stored (a full
disk fails the whole transaction) so that its sender can release it and fetch it again."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actors.base import BaseActor, Node, handles
from actors.event_store import EventStore, Stored, move_aside
from actors.messages import Append, Appended, HistoryQuery
from transport import protocol
from transport.port import Transport
from transport.protocol import Event, StoreLimitRequest, SyncRequest

MAX_GROUP = 5000  # events: a commit waits for no more than this many


@dataclass(frozen=True)
class Snapshot:
    heads: dict[str, int]
    users: list[str]
    channels: list[str]
    accounts: list[Event]


class PersistenceActor(BaseActor):
    actor_name = "persistence"

    def __init__(
        self,
        node: Node,
        path: Path | str,
        transport: Transport,
        on_appended: Callable[[Appended], None],
        max_db_mb: float = 0.0,
    ) -> None:
        super().__init__(node)
        self.path = path
        self.transport = transport
        self.on_appended = on_appended
        self.max_db_mb = max_db_mb
        self.store: EventStore | None = None
        self.queued: list[Append] = []
        self.waiting = 0  # events in `queued`
        self.failures: set[str] = set()  # kinds logged since the last clean commit
        self.opened = Snapshot({}, [], [], [])

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
        heads = self.opened.heads
        self.log.info("store_opened", path=str(self.path), events=sum(heads.values()), heads=heads)

    def _open(self) -> None:
        self.store = EventStore(self.path, self.max_db_mb)
        try:
            store = self.store
            store.check()
            self.opened = Snapshot(store.heads(), store.users(), store.channels(), store.accounts())
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
        self.queued.append(message)
        self.waiting += len(message.events)

    def after_message(self) -> None:
        if self.queued and (self.actor_inbox.empty() or self.waiting >= MAX_GROUP):
            self._flush()

    def _flush(self) -> None:
        if not self.queued or self.store is None:
            return
        batch, self.queued, self.waiting = self.queued, [], 0
        events = [e for m in batch for e in m.events]
        try:
            stored = self.store.append(events)
        except sqlite3.Error as exc:
            error = f"cannot store: {exc}"
            stored = Stored([], dict.fromkeys(events, error))
        self._log_failures(stored, len(events))
        heads = self.store.heads()
        fresh = set(stored.fresh)
        for m in batch:
            mine = tuple(e for e in m.events if e in fresh)
            fresh -= set(mine)  # an event claimed twice is new for the first Append only
            failed = tuple(e for e in m.events if e in stored.refused)
            error = stored.refused[failed[0]] if failed else ""
            self.on_appended(Appended(m.tag, mine, heads, failed, error))

    def _log_failures(self, stored: Stored, count: int) -> None:
        """Each kind of failure once while they last; their end once."""
        kinds = set(stored.refused.values())
        for error in sorted(kinds - self.failures):
            self.log.error("store_append_failed", error=error, events=count)
        if self.failures and not kinds:
            self.log.info("store_append_recovered", errors=sorted(self.failures))
        self.failures = (self.failures | kinds) if kinds else set()

    @handles(StoreLimitRequest)
    def _store_limit(self, r: StoreLimitRequest) -> None:
        """Operator service `store_limit` {max_db_mb}: a new cap on the database's size."""
        assert self.store is not None
        self.store.limit(r.max_db_mb)
        self.log.info("store_limit_set", max_db_mb=r.max_db_mb)
        self.transport.reply(r.inbound, protocol.store_limit_reply(r.max_db_mb))

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
        events, more = self.store.since(q.heads, q.limit)
        self.transport.reply(q.inbound, protocol.sync_reply(events, more, self.store.heads()))
