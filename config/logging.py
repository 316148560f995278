"""structlog set-up: one JSON object per line with role, node, actor and Lamport clock.

Python 3.11 threads start with an empty contextvars context, so every actor binds its own
node and actor name in `on_start` (see actors.base); the process defaults fill in the rest.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import structlog

from config.clocks import LamportClock

FLUSH_EVERY = 0.1
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


def _json(event: dict[str, Any]) -> str:
    return json.dumps(event, default=repr, ensure_ascii=False)


class _Writer:
    """Stamps the Lamport clock and the time, renders and buffers, all under one lock: the
    lines of a process are then in clock order even when several threads log at once.

    Lines are written in batches, at the latest FLUSH_EVERY seconds after they were logged
    (one write per batch instead of one per line: logging is on every request's path). A
    process killed with SIGKILL loses at most that much of its log; a normal exit loses none.
    """

    def __init__(self) -> None:
        self._streams: list[IO[str]] = []
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

    def output_to(self, streams: list[IO[str]], render: Callable[[dict[str, Any]], str]) -> None:
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
) -> None:
    _process.update(role=role, node=node, clock=clock)
    console = structlog.dev.ConsoleRenderer()
    render = (lambda event: console(None, "", event)) if fmt == "console" else _json
    streams: list[IO[str]] = [stream or sys.stdout]
    if log_file:
        streams.append(open(log_file, "a", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    _WRITER.output_to(streams, render)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_process_defaults,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            lambda _, __, event: event,  # the writer renders: it passes as keyword arguments
        ],
        logger_factory=lambda *_: _WRITER,
        cache_logger_on_first_use=False,
    )
