"""Synthetic BBS log lines for the fast tests of `bbs logs`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.invariants import Report, check
from ops.lifetimes import view
from ops.log_reader import LogLine, parse_lines

T0 = 1_800_000_000.0


class Logbook:
    """Per-node lists of log objects, written in order; `t` is seconds after T0."""

    def __init__(self) -> None:
        self.nodes: dict[str, list[dict[str, Any]]] = {}

    def add(
        self, node: str, t: float, lamport: int, event: str, role: str = "server", **fields: Any
    ) -> str:
        """Append a line; returns its location as `<node>.jsonl:<line>`."""
        stamp = datetime.fromtimestamp(T0 + t, UTC).isoformat().replace("+00:00", "Z")
        entry = {
            "timestamp": stamp,
            "level": fields.pop("level", "info"),
            "event": event,
            "role": role,
            "node": node,
            "actor": fields.pop("actor", "main"),
            "lamport": lamport,
            **fields,
        }
        lines = self.nodes.setdefault(node, [])
        lines.append(entry)
        return f"{node}.jsonl:{len(lines)}"

    def lines(self) -> list[LogLine]:
        out = []
        for node, entries in self.nodes.items():
            for i, entry in enumerate(entries, 1):
                lines = parse_lines(f"{node}.jsonl", i, json.dumps(entry))
                assert lines, entry
                out.extend(lines)
        return out

    def check(self) -> Report:
        lines = self.lines()
        return check(view(lines), lines)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for node, entries in self.nodes.items():
            text = "".join(json.dumps(e) + "\n" for e in entries)
            (folder / f"{node}.jsonl").write_text(text)
        return folder


SERVERS = ("server-0", "server-1", "server-2")


def start_servers(book: Logbook, coordinator: str = "server-2", names=SERVERS) -> None:
    """Servers that open their stores and agree on `coordinator` (at t=0.1, lamport < 10)."""
    for i, name in enumerate(names):
        book.add(name, 0.0, 0, "store_opened", events=0, heads={})
        book.add(name, 0.1, 2 + i, "coordinator_elected", coordinator=coordinator)


def stop_servers(book: Logbook, t: float = 10.0, names=SERVERS) -> None:
    """A graceful stop at `t` (lamport 1000+)."""
    for i, name in enumerate(names):
        book.add(name, t, 1000 + i, "signal_received", signal="SIGTERM")
        book.add(name, t + 0.01, 1000 + i, "stopped")
