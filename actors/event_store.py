"""The durable event log of one server: SQLite in WAL mode, synchronous=FULL.

The log of events (origin, seq) is the source of truth; users and channels are derived
tables kept in the same transaction. A batch of events is one transaction, so a burst of
writes costs one fsync (group commit) and nothing is acknowledged before it is on disk.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from transport.protocol import EVENT_FIELDS, Event, Operation

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    origin TEXT NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL, op TEXT NOT NULL,
    user TEXT NOT NULL, channel TEXT NOT NULL, dst TEXT NOT NULL, message TEXT NOT NULL,
    timestamp REAL NOT NULL, request_id TEXT NOT NULL, pair TEXT NOT NULL,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_channel ON events (channel, clock, origin, seq)
    WHERE op = '{Operation.PUBLISH}';
CREATE INDEX IF NOT EXISTS events_by_pair ON events (pair, clock, origin, seq)
    WHERE op = '{Operation.MESSAGE}';
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS channels (name TEXT PRIMARY KEY) WITHOUT ROWID;
"""

COLUMNS = ", ".join(EVENT_FIELDS)  # in the order of Event's fields: a row is an Event
PLACEHOLDERS = ",".join("?" * (len(EVENT_FIELDS) + 1))  # the columns and `pair`


def conversation(a: str, b: str) -> str:
    """Key of the private conversation between two users, whoever speaks."""
    return "\x00".join(sorted((a, b)))


def move_aside(path: Path) -> Path:
    """Rename a database and its WAL files to `<name>.unreadable-<time>`; returns the new
    name of the database."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name + suffix))
    return aside


def _row_to_event(row: tuple) -> Event:
    origin, seq, clock, op, *rest = row
    return Event(origin, seq, clock, Operation(op), *rest)


class EventStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def append(self, events: Iterable[Event]) -> list[Event]:
        """Store events durably in one transaction; returns those that were new."""
        fresh = []
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for e in events:
                pair = conversation(e.user, e.dst) if e.op == Operation.MESSAGE else ""
                cur = self.db.execute(
                    f"INSERT OR IGNORE INTO events ({COLUMNS}, pair) VALUES ({PLACEHOLDERS})",
                    (
                        e.origin,
                        e.seq,
                        e.clock,
                        e.op,
                        e.user,
                        e.channel,
                        e.dst,
                        e.message,
                        e.timestamp,
                        e.request_id,
                        pair,
                    ),
                )
                if cur.rowcount:
                    fresh.append(e)
                    if e.user:
                        self.db.execute("INSERT OR IGNORE INTO users VALUES (?)", (e.user,))
                    if e.op == Operation.CHANNEL:
                        self.db.execute("INSERT OR IGNORE INTO channels VALUES (?)", (e.channel,))
        return fresh

    def heads(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT origin, MAX(seq) FROM events GROUP BY origin"))

    def max_clock(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(clock), 0) FROM events").fetchone()[0]

    def users(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM users ORDER BY name")]

    def channels(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM channels ORDER BY name")]

    def since(self, heads: dict[str, int], limit: int) -> list[Event]:
        """Events the holder of `heads` lacks, in per-origin order, at most `limit`."""
        out: list[Event] = []
        origins = [r[0] for r in self.db.execute("SELECT DISTINCT origin FROM events")]
        for origin in sorted(origins):
            if len(out) >= limit:
                break
            rows = self.db.execute(
                f"SELECT {COLUMNS} FROM events WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
                (origin, heads.get(origin, 0), limit - len(out)),
            )
            out.extend(_row_to_event(r) for r in rows)
        return out

    def channel_history(self, channel: str, limit: int, before_clock: int | None) -> list[Event]:
        return self._history(
            f"op = '{Operation.PUBLISH}' AND channel = ?", (channel,), limit, before_clock
        )

    def private_history(self, a: str, b: str, limit: int, before_clock: int | None) -> list[Event]:
        return self._history(
            f"op = '{Operation.MESSAGE}' AND pair = ?", (conversation(a, b),), limit, before_clock
        )

    def _history(
        self, where: str, args: tuple, limit: int, before_clock: int | None
    ) -> list[Event]:
        """The newest `limit` entries older than `before_clock`, oldest first.

        A page never splits entries that share a Lamport clock (concurrent posts on different
        replicas): it grows to hold all of them, so paging on with `before_clock` = the
        page's oldest clock reaches every entry exactly once.
        """
        order = "ORDER BY clock DESC, origin DESC, seq DESC"
        page_where, page_args = where, args
        if before_clock is not None:
            page_where, page_args = f"{where} AND clock < ?", (*args, before_clock)
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM events WHERE {page_where} {order} LIMIT ?", (*page_args, limit)
        ).fetchall()
        if len(rows) == limit:
            oldest = rows[-1][2]
            ties = self.db.execute(  # `clock = ?` alone, so the index seeks straight to it
                f"SELECT {COLUMNS} FROM events WHERE {where} AND clock = ? {order}",
                (*args, oldest),
            ).fetchall()
            rows = [r for r in rows if r[2] != oldest] + ties
        return [_row_to_event(r) for r in reversed(rows)]
