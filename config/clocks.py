"""The two clocks of a node: a Lamport clock and a physical clock with a Berkeley offset."""

from __future__ import annotations

import math
import threading
import time


class LamportClock:
    """Thread-safe Lamport clock: tick before sending, merge on receiving."""

    def __init__(self, start: int = 0) -> None:
        self._value = start
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def tick(self) -> int:
        with self._lock:
            self._value += 1
            return self._value

    def merge(self, received: int) -> int:
        with self._lock:
            if received > self._value:
                self._value = received
            return self._value


# The largest offset Berkeley rounds may give a clock (seconds): a host further off needs its
# own clock fixed (NTP); a correction that would pass it is refused.
MAX_OFFSET = 600.0


class AdjustedClock:
    """Physical time plus an offset set by clock synchronisation; the OS clock is never touched.

    `skew` simulates a badly set OS clock (tests and demos); `offset` is what Berkeley rounds
    accumulate to correct it.
    """

    def __init__(self, skew: float = 0.0) -> None:
        self.skew = skew
        self.offset = 0.0

    def raw(self) -> float:
        return time.time() + self.skew

    def now(self) -> float:
        return self.raw() + self.offset

    def adjust(self, delta: float) -> bool:
        """Add `delta` to the offset unless the result would pass ±MAX_OFFSET (or is not a
        number); False if refused."""
        offset = self.offset + delta
        if not math.isfinite(offset) or abs(offset) > MAX_OFFSET:
            return False
        self.offset = offset
        return True
