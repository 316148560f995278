"""Timers for actors. Pykka has none: one thread runs due callbacks (usually a `tell`).

ManualScheduler has the same interface and lets tests drive time by hand.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger()


@dataclass(order=True)
class _Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    interval: float | None = field(compare=False, default=None)
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        self.cancelled = True


class _Heap:
    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._seq = itertools.count()

    def add(self, when: float, callback: Callable[[], None], interval: float | None) -> _Timer:
        timer = _Timer(when, next(self._seq), callback, interval)
        heapq.heappush(self._heap, timer)
        return timer

    def pop_due(self, now: float) -> list[_Timer]:
        due = []
        while self._heap and self._heap[0].when <= now:
            timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            due.append(timer)
            if timer.interval is not None:
                timer.when = now + timer.interval
                heapq.heappush(self._heap, timer)
        return due

    def next_due(self) -> float | None:
        return self._heap[0].when if self._heap else None


def _fire(timer: _Timer) -> None:
    try:
        timer.callback()
    except Exception:
        log.exception("timer_callback_failed")


class Scheduler:
    """A daemon thread that runs callbacks after a delay or every interval."""

    def __init__(self) -> None:
        self._heap = _Heap()
        self._cond = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def now(self) -> float:
        return time.monotonic()

    def after(self, delay: float, callback: Callable[[], None]) -> _Timer:
        with self._cond:
            timer = self._heap.add(self.now() + delay, callback, None)
            self._cond.notify()
        return timer

    def every(self, interval: float, callback: Callable[[], None]) -> _Timer:
        with self._cond:
            timer = self._heap.add(self.now() + interval, callback, interval)
            self._cond.notify()
        return timer

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify()
        self._thread.join(2)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._running:
                    return
                due = self._heap.pop_due(self.now())
                if not due:
                    nxt = self._heap.next_due()
                    self._cond.wait(None if nxt is None else max(0.0, nxt - self.now()))
                    continue
            for timer in due:
                _fire(timer)


class ManualScheduler:
    """Scheduler for tests: time moves only when `advance` is called."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._heap = _Heap()

    def now(self) -> float:
        return self._now

    def after(self, delay: float, callback: Callable[[], None]) -> _Timer:
        return self._heap.add(self._now + delay, callback, None)

    def every(self, interval: float, callback: Callable[[], None]) -> _Timer:
        return self._heap.add(self._now + interval, callback, interval)

    def advance(self, seconds: float) -> None:
        end = self._now + seconds
        while True:
            nxt = self._heap.next_due()
            if nxt is None or nxt > end:
                break
            self._now = max(self._now, nxt)
            for timer in self._heap.pop_due(self._now):
                _fire(timer)
        self._now = end

    def stop(self) -> None:
        """Nothing runs in the background."""
