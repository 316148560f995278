"""Reading BBS JSON log lines from files, folders or standard input.

A source is a file, a folder (every *.jsonl, *.log and *.json file directly inside it) or `-`
for standard input. Lines that are not JSON objects with an `event` are skipped and counted;
a `docker compose logs` prefix (`server-1  | {...}`) is tolerated.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

STDIN = "-"
LOG_SUFFIXES = (".jsonl", ".log", ".json")


@dataclass(frozen=True)
class LogLine:
    """One log object and where it was read (source and 1-based line number)."""

    source: str
    line_no: int
    fields: dict[str, Any]
    event: str
    node: str
    role: str
    actor: str
    level: str
    lamport: int | None
    time: float | None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line_no}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


@dataclass
class LogSet:
    lines: list[LogLine] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # source -> non-log lines

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp (or a number of seconds); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _decode(text: str) -> dict[str, Any] | None:
    candidates = [text]
    prefix, bar, rest = text.partition("| ")
    if bar and "{" not in prefix:
        candidates.append(rest)
    for candidate in candidates:
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("event"), str):
            return obj
    return None


# Events a server logs once per batch, and the event each of their entries stands for.
BATCHED = {"requests_handled": "request_handled", "writes_acknowledged": "write_acknowledged"}


def unbatch(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """A batch line as the per-item lines it stands for; any other line as itself.

    `requests_handled` {fields, replies: [[...], ...]} -> one `request_handled` per reply with
    those fields; `writes_acknowledged` {ids, ...} -> one `write_acknowledged` per id."""
    event = obj.get("event")
    if event == "requests_handled":
        names, rows = obj.get("fields"), obj.get("replies")
        if isinstance(names, list) and isinstance(rows, list):
            base = {k: v for k, v in obj.items() if k not in ("fields", "replies")}
            item = BATCHED[event]
            return [
                {**base, "event": item, **dict(zip(names, r, strict=False))}
                for r in rows
                if isinstance(r, list)
            ]
    if event == "writes_acknowledged" and isinstance(obj.get("ids"), list):
        base = {k: v for k, v in obj.items() if k != "ids"}
        return [{**base, "event": BATCHED[event], "id": i} for i in obj["ids"]]
    return [obj]


def parse_lines(source: str, line_no: int, text: str) -> list[LogLine]:
    """The LogLines one line of text stands for (see `unbatch`); none if it is no BBS log
    object."""
    obj = _decode(text.strip())
    return [] if obj is None else [_log_line(source, line_no, o) for o in unbatch(obj)]


def _log_line(source: str, line_no: int, obj: dict[str, Any]) -> LogLine:
    return LogLine(
        source=source,
        line_no=line_no,
        fields=obj,
        event=obj["event"],
        node=str(obj.get("node", "-")),
        role=str(obj.get("role", "-")),
        actor=str(obj.get("actor", "-")),
        level=str(obj.get("level", "-")),
        lamport=_as_int(obj.get("lamport")),
        time=parse_time(obj.get("timestamp")),
    )


def expand(sources: Iterable[str]) -> list[str]:
    """Files to read, in order, without duplicates: folders become their log files."""
    out: list[str] = []
    for source in sources:
        path = Path(source)
        if source != STDIN and path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in LOG_SUFFIXES)
            out.extend(str(p) for p in files)
        else:
            out.append(source)
    seen: set[str] = set()
    unique = []
    for name in out:
        key = name if name == STDIN else str(Path(name).resolve())
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def _read_stream(source: str, stream: IO[str], into: LogSet) -> None:
    for line_no, text in enumerate(stream, 1):
        if not text.strip():
            continue
        lines = parse_lines(source, line_no, text)
        if not lines:
            into.skipped[source] += 1
        into.lines.extend(lines)


def read(sources: Iterable[str], stdin: IO[str] | None = None) -> LogSet:
    """Every log line of the sources, in source order then file order.

    Raises FileNotFoundError for a source that does not exist.
    """
    logs = LogSet()
    for source in expand(sources):
        if source == STDIN:
            _read_stream(STDIN, stdin or sys.stdin, logs)
            continue
        with open(source, encoding="utf-8", errors="replace") as stream:
            _read_stream(source, stream, logs)
    return logs


def by_node(lines: Iterable[LogLine]) -> Iterator[tuple[tuple[str, str], list[LogLine]]]:
    """Lines grouped per (source, node), each group in file order: one stream per process
    history as it was written."""
    groups: dict[tuple[str, str], list[LogLine]] = {}
    for line in lines:
        groups.setdefault((line.source, line.node), []).append(line)
    yield from groups.items()
