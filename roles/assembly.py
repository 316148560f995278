"""Start a role's parts in dependency order, stop them in reverse, stop on signals."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pykka
import pykka.debug
import structlog

log = structlog.get_logger()


class Assembly:
    """Everything a role started, stopped in reverse order exactly once."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self._stopped = threading.Event()

    def add(self, name: str, stop: Callable[[], None]) -> None:
        self._stops.append((name, stop))

    @contextmanager
    def unwinding(self) -> Iterator[Assembly]:
        """Build inside this block: if any part fails to start, what started is stopped
        (Pykka's actor threads would otherwise keep the process alive)."""
        try:
            yield self
        except BaseException:
            self.stop()
            raise

    def add_actor(self, name: str, ref: pykka.ActorRef) -> pykka.ActorRef:
        self.add(name, lambda: ref.stop(block=True, timeout=5))
        return ref

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for name, stop in reversed(self._stops):
            try:
                stop()
            except Exception:
                log.exception("stop_failed", part=name)
        log.info("stopped")


def run_until_signal(assembly: Assembly) -> None:
    """Block the main thread until SIGINT/SIGTERM, then stop everything."""
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGUSR1, pykka.debug.log_thread_tracebacks)
    while not done.wait(0.5):
        pass
    assembly.stop()
