"""The two clocks of a node: a Lamport clock and a physical clock with a Berkeley offset."""

from __future__ import annotations

import math
import threading
import time

# How far one received clock may move ours: 2**40 is a trillion events, decades of this
# cluster's traffic, so every honest jump fits (a replica rebuilt from nothing catching up),
# while one forged message cannot carry the cluster's clocks near their end.
MAX_JUMP = 2**40


class LamportClock:
    """Thread-safe Lamport clock: tick before sending, merge on receiving (a received value
    more than MAX_JUMP ahead is ignored)."""

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
            if self._value < received <= self._value + MAX_JUMP:
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
