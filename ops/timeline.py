"""One timeline from the lines of every node: ordered by Lamport clock, wall time breaking
ties, then filtered by node, role, actor, event or level (shell-style patterns)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from ops.log_reader import LogLine

STANDARD_KEYS = ("timestamp", "level", "event", "role", "node", "actor", "lamport")


@dataclass
class Filters:
    """Each attribute lists accepted patterns; an empty list accepts everything. Patterns of
    one attribute are alternatives; different attributes must all match."""

    node: list[str] = field(default_factory=list)
    role: list[str] = field(default_factory=list)
    actor: list[str] = field(default_factory=list)
    event: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)

    def accept(self, line: LogLine) -> bool:
        return all(
            not patterns or any(fnmatchcase(value, p) for p in patterns)
            for value, patterns in (
                (line.node, self.node),
                (line.role, self.role),
                (line.actor, self.actor),
                (line.event, self.event),
                (line.level, self.level),
            )
        )


def order_key(line: LogLine) -> tuple[int, float, str, str, int]:
    lamport = line.lamport if line.lamport is not None else -1
    when = line.time if line.time is not None else float("inf")
    return (lamport, when, line.node, line.source, line.line_no)


def merge(lines: Iterable[LogLine], filters: Filters | None = None) -> list[LogLine]:
    chosen = lines if filters is None else (ln for ln in lines if filters.accept(ln))
    return sorted(chosen, key=order_key)


def clock_time(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--.---"
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S.%f")[:-3]


def extras(line: LogLine) -> str:
    return " ".join(
        f"{k}={json.dumps(v, separators=(',', ':'), ensure_ascii=False)}"
        for k, v in line.fields.items()
        if k not in STANDARD_KEYS
    )


def render(lines: Sequence[LogLine]) -> str:
    """One text line per log line: lamport, UTC time, node, actor, level, event, fields."""
    node_w = max((len(ln.node) for ln in lines), default=4)
    actor_w = max((len(ln.actor) for ln in lines), default=5)
    rows = []
    for ln in lines:
        lamport = ln.lamport if ln.lamport is not None else "-"
        head = f"{lamport:>7}  {clock_time(ln.time)}  {ln.node:<{node_w}}  {ln.actor:<{actor_w}}"
        rows.append(f"{head}  {ln.level:<7}  {ln.event}  {extras(ln)}".rstrip())
    return "\n".join(rows)


def as_json(line: LogLine) -> str:
    return json.dumps({**line.fields, "source": line.where}, ensure_ascii=False)
