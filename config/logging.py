"""structlog set-up: one JSON object per line with role, node, actor and Lamport clock.

Python 3.11 threads start with an empty contextvars context, so every actor binds its own
node and actor name in `on_start` (see actors.base); the process defaults fill in the rest.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import structlog

from actors.clocks import LamportClock

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


class _Writer:
    """Stamps the Lamport clock and the time, renders and writes, all under one lock: the
    lines of a process are then in clock order even when several threads log at once."""

    def __init__(self, streams: list[IO[str]], render: Callable[[dict[str, Any]], str]) -> None:
        self._streams = streams
        self._render = render
        self._lock = threading.Lock()

    def msg(self, **event: Any) -> None:
        with self._lock:
            clock = event.pop("_clock", None)
            event["lamport"] = clock.value if clock is not None else 0
            event["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            ordered = {k: event.pop(k) for k in KEY_ORDER if k in event}
            ordered.update(event)
            line = self._render(ordered)
            for stream in self._streams:
                stream.write(line + "\n")
                stream.flush()

    info = debug = warning = error = critical = exception = msg


def _json(event: dict[str, Any]) -> str:
    return json.dumps(event, default=repr, ensure_ascii=False)


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
    writer = _Writer(streams, render)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_process_defaults,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            lambda _, __, event: event,  # the writer renders: it passes as keyword arguments
        ],
        logger_factory=lambda *_: writer,
        cache_logger_on_first_use=False,
    )
