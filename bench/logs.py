"""Reading the servers' JSON-lines logs (<data_dir>/logs/<name>.jsonl)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.log_reader import BATCHED, unbatch


def epoch(iso: str) -> float:
    """Seconds since the epoch of an ISO-8601 log timestamp."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def read(path: Path, offset: int = 0, events: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The log lines from byte `offset` on (only the named events, if given; a batch line
    counts as the lines it stands for), each with `t` = its timestamp in epoch seconds."""
    if not path.exists():
        return []
    names = set(events) | {batch for batch, item in BATCHED.items() if item in events}
    wanted = tuple(f'"{e}"' for e in names)  # a cheap filter before parsing
    out = []
    with path.open("rb") as f:
        f.seek(offset)
        for raw in f:
            line = raw.decode("utf-8", "replace")
            if wanted and not any(w in line for w in wanted):
                continue
            try:
                records = unbatch(json.loads(line))
                t = epoch(records[0]["timestamp"])
            except (ValueError, KeyError, TypeError, IndexError):
                continue
            out.extend({**r, "t": t} for r in records if not events or r.get("event") in events)
    return out


def wait_for(path: Path, event: str, offset: int = 0, timeout: float = 60.0) -> dict[str, Any]:
    """The first `event` logged after byte `offset`; raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = read(path, offset, (event,))
        if found:
            return found[0]
        time.sleep(0.05)
    raise TimeoutError(f"{path.name}: no {event} within {timeout:.0f}s")
