"""structlog set-up: one JSON object per line with role, node, actor and Lamport clock.

Python 3.11 threads start with an empty contextvars context, so every actor binds its own
node and actor name in `on_start` (see actors.base); the process defaults fill in the rest.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
import structlog

from config.clocks import LamportClock

FLUSH_EVERY = 0.1
# A log line echoes at most this much of any one text value (requests can carry 1 MiB);
# tracebacks get more room.
MAX_ECHO_CHARS = 300
MAX_TRACEBACK_CHARS = 8000
KEY_ORDER = ("timestamp", "level", "event", "role", "node", "actor", "lamport")

_clock_var: contextvars.ContextVar[LamportClock | None] = contextvars.ContextVar(
    "bbs_lamport", default=None
)
_process: dict[str, Any] = {"role": "-", "node": "-", "clock": None}


def bind_node(role: str, node: str, clock: LamportClock, actor: str | None = None) -> None:
    """Bind this thread's log context to a node (call from the thread that logs)."""
    _clock_var.set(clock)
    structlog.contextvars.bind_contextvars(
        role=role, node=node, actor=actor or threading.current_thread().name
    )


def _add_process_defaults(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("role", _process["role"])
    event.setdefault("node", _process["node"])
    event.setdefault("actor", threading.current_thread().name)
    event["_clock"] = _clock_var.get() or _process["clock"]
    return event


class Sink(Protocol):
    """Where rendered lines go: a text stream or a RotatingFile."""

    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


def cap_texts(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: cut long text values (see MAX_ECHO_CHARS)."""
    for key, value in event.items():
        limit = MAX_TRACEBACK_CHARS if key == "exception" else MAX_ECHO_CHARS
        if isinstance(value, str) and len(value) > limit:
            event[key] = f"{value[:limit]}... ({len(value) - limit} more characters)"
    return event


class RotatingFile:
    """An append-only text file that never grows past `max_bytes`: when full, `name.jsonl`
    becomes `name.1.jsonl` (the older ones shift up to `name.<keep>.jsonl`, the oldest is
    dropped) and a new `name.jsonl` starts. Log readers take the whole folder."""

    def __init__(self, path: str | Path, max_bytes: int, keep: int = 3) -> None:
        self.path = Path(path)
        self.max_bytes, self.keep = max_bytes, keep
        self._file = self.path.open("a", encoding="utf-8")
        self._size = self.path.stat().st_size

    def _older(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.stem}.{n}{self.path.suffix}")

    def write(self, text: str) -> None:
        size = len(text.encode())
        if self._size and self._size + size > self.max_bytes:
            self._rotate()
        self._file.write(text)
        self._size += size

    def flush(self) -> None:
        self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        for n in range(self.keep, 1, -1):
            if self._older(n - 1).exists():
                os.replace(self._older(n - 1), self._older(n))
        os.replace(self.path, self._older(1))
        self._file = self.path.open("a", encoding="utf-8")
        self._size = 0


def _json(event: dict[str, Any]) -> str:
    try:
        return orjson.dumps(event, default=repr).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits (orjson's limit)
        return json.dumps(event, default=repr, ensure_ascii=False)


class _Writer:
    """Stamps the Lamport clock and the time, renders and buffers, all under one lock: the
    lines of a process are then in clock order even when several threads log at once.

    Lines are written in batches, at the latest FLUSH_EVERY seconds after they were logged
    (one write per batch instead of one per line: logging is on every request's path). A
    process killed with SIGKILL loses at most that much of its log; a normal exit loses none.
    """

    def __init__(self) -> None:
        self._streams: list[Sink] = []
        self._render: Callable[[dict[str, Any]], str] = _json
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._flusher: threading.Thread | None = None  # started by the first configure()

    def msg(self, **event: Any) -> None:
        with self._lock:
            clock = event.pop("_clock", None)
            event["lamport"] = clock.value if clock is not None else 0
            event["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            ordered = {k: event.pop(k) for k in KEY_ORDER if k in event}
            ordered.update(event)
            self._lines.append(self._render(ordered))
            if ordered.get("level") in ("error", "critical"):
                self._write()

    info = debug = warning = error = critical = exception = msg

    def output_to(self, streams: list[Sink], render: Callable[[dict[str, Any]], str]) -> None:
        with self._lock:
            self._write()
            self._streams, self._render = streams, render
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="log-flush", daemon=True
                )
                self._flusher.start()
                atexit.register(self.flush)

    def flush(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        for stream in self._streams:
            with contextlib.suppress(ValueError, OSError):  # a closed stream at exit
                stream.write(text)
                stream.flush()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY)
            self.flush()


_WRITER = _Writer()


def configure(
    role: str,
    node: str,
    clock: LamportClock | None = None,
    fmt: str = "json",
    log_file: str = "",
    stream: IO[str] | None = None,
    log_max_mb: float = 64.0,
) -> None:
    """Log as `role`/`node` to `stream` (stdout) and, if given, to `log_file`, which
    rotates at `log_max_mb` megabytes keeping three older files."""
    _process.update(role=role, node=node, clock=clock)
    console = structlog.dev.ConsoleRenderer()
    render = (lambda event: console(None, "", event)) if fmt == "console" else _json
    streams: list[Sink] = [stream or sys.stdout]
    if log_file:
        streams.append(RotatingFile(log_file, int(log_max_mb * 1024 * 1024)))
    _WRITER.output_to(streams, render)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_process_defaults,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            cap_texts,
            lambda _, __, event: event,  # the writer renders: it passes as keyword arguments
        ],
        logger_factory=lambda *_: _WRITER,
        cache_logger_on_first_use=False,
    )
