"""structlog set-up: one JSON object per line with role, node, actor and Lamport clock.

Python 3.11 threads start with an empty contextvars context, so every actor binds its own
node and actor name in `on_start` (see actors.base); the process defaults fill in the rest.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable
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
    clock = _clock_var.get() or _process["clock"]
    event["lamport"] = clock.value if clock is not None else 0
    return event


def _order_keys(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: event.pop(k) for k in KEY_ORDER if k in event}
    ordered.update(event)
    return ordered


class _TeeLogger:
    def __init__(self, streams: list[IO[str]]) -> None:
        self._streams = streams
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            for stream in self._streams:
                stream.write(message + "\n")
                stream.flush()

    info = debug = warning = error = critical = exception = msg


def configure(
    role: str,
    node: str,
    clock: LamportClock | None = None,
    fmt: str = "json",
    log_file: str = "",
    stream: IO[str] | None = None,
) -> None:
    _process.update(role=role, node=node, clock=clock)
    renderer: Callable[..., Any] = (
        structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer()
    )
    streams: list[IO[str]] = [stream or sys.stdout]
    if log_file:
        streams.append(open(log_file, "a", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_process_defaults,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            structlog.processors.format_exc_info,
            _order_keys,
            renderer,
        ],
        logger_factory=lambda *_: _TeeLogger(streams),
        cache_logger_on_first_use=False,
    )


def get_logger(**bound: Any) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(**bound)
