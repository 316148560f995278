"""Every accepted timestamp unit (the protocol's "be liberal" rule), bounded."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from transport.numbers import wire_timestamp

# ---- timestamps ---------------------------------------------------------------------------

SECONDS = 1_700_000_000.25


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (SECONDS, SECONDS),  # float seconds
        (1_700_000_000, 1_700_000_000.0),  # int seconds
        (1_700_000_000_250, SECONDS),  # milliseconds (> 1e11)
        (1_700_000_000_250_000_000, SECONDS),  # nanoseconds (> 1e17)
        (8e9, 8e9),  # not above 1e11: still seconds (the year 2223)
        ("1700000000.25", SECONDS),  # number in a string
        ("1700000000250", SECONDS),
        ("2023-11-14T22:13:20.25Z", SECONDS),  # ISO-8601, Z
        ("2023-11-14T22:13:20.250+00:00", SECONDS),  # ISO-8601, offset
        ("2023-11-15T00:13:20.25+02:00", SECONDS),
    ],
)
def test_timestamps_in_every_accepted_unit(value: Any, seconds: float) -> None:
    assert wire_timestamp(value) == pytest.approx(seconds, abs=1e-3)


@pytest.mark.parametrize("value", [None, "", "yesterday", True, math.nan, math.inf, {"t": 1}, [1]])
def test_unreadable_timestamp_falls_back_to_the_default(value: Any) -> None:
    assert wire_timestamp(value, default=42.0) == 42.0


def test_unreadable_timestamp_without_default_is_now() -> None:
    before = time.time()
    assert before <= wire_timestamp("garbage") <= time.time()
