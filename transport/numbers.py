"""Numbers from the wire, bounded: every clock, timestamp, count and correction that arrives
from a socket passes through one of these before anything uses it.

Why these bounds:
- MAX_CLOCK = 2**53 - 1: a received Lamport clock above it is no clock at all (read as 0,
  "missing", which the protocol allows). It is the largest integer every peer's number type
  holds exactly (JSON numbers are doubles in JavaScript), 285 years of a million ticks a
  second, and 2**10 below SQLite's and MessagePack's 64-bit limits. A clock is never
  clamped: a clamped value would order a later message before an earlier one. How far one
  message may move a clock is bounded separately (config.clocks.MAX_JUMP).
- Timestamps are seconds since the epoch between 0 and MAX_TIMESTAMP (the year 2242);
  anything else (NaN, infinities, 1e300, negative) is replaced by the receiver's own time.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

MAX_CLOCK = 2**53 - 1
MAX_TIMESTAMP = float(2**33)
MAX_SEQ = 2**53 - 1


def whole(value: Any) -> int | None:
    """An integer from an int, an integral finite float or a numeric string; None otherwise
    (booleans, NaN, infinities, text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def bounded_int(value: Any, lo: int, hi: int) -> int | None:
    """`value` as an integer if it is one within [lo, hi]; None otherwise."""
    number = whole(value)
    return number if number is not None and lo <= number <= hi else None


def wire_clock(value: Any) -> int:
    """A received Lamport clock: 0 when missing, unreadable or out of range."""
    number = whole(value)
    return number if number is not None and 0 <= number <= MAX_CLOCK else 0


def finite(value: Any, lo: float, hi: float) -> float | None:
    """A real number within [lo, hi] (ints accepted); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) and lo <= number <= hi else None


def wire_timestamp(value: Any, default: float | None = None) -> float:
    """A timestamp in seconds, milliseconds, nanoseconds or ISO-8601; `default` (now) when
    missing, unreadable or out of range."""
    fallback = time.time() if default is None else default
    if isinstance(value, str) and len(value) <= 64:
        try:
            value = float(value)
        except ValueError:
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except (ValueError, OverflowError, OSError):
                return fallback
    number = finite(value, 0.0, math.inf)
    if number is None:
        return fallback
    if number > 1e17:
        number /= 1e9
    elif number > 1e11:
        number /= 1e3
    return number if number <= MAX_TIMESTAMP else fallback
