"""Numbers from the wire are bounded before anything uses them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transport.numbers import (
    MAX_CLOCK,
    MAX_TIMESTAMP,
    bounded_int,
    finite,
    wire_clock,
    wire_timestamp,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "clock"),
    [
        (7, 7),
        (7.9, 7),
        ("12", 12),
        (MAX_CLOCK, MAX_CLOCK),
        (MAX_CLOCK + 1, 0),  # out of range: no clock, never a clamped one
        (2**64 - 1, 0),
        (2**63, 0),
        (1e300, 0),
        ("1e300", 0),
        (10**400, 0),
        (-5, 0),
        (math.nan, 0),
        (math.inf, 0),
        ("inf", 0),
        ("nan", 0),
        (True, 0),
        (None, 0),
        ([1], 0),
        ("9" * 1000, 0),
    ],
)
def test_clocks_are_bounded(value: object, clock: int) -> None:
    assert wire_clock(value) == clock


@given(st.one_of(st.integers(), st.floats(), st.text(), st.none(), st.booleans()))
def test_any_value_gives_a_clock_within_bounds(value: object) -> None:
    assert 0 <= wire_clock(value) <= MAX_CLOCK


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1_700_000_000, 1_700_000_000.0),
        (1_700_000_000_123, 1_700_000_000.123),
        (1_700_000_000_123_456_789, 1_700_000_000.123456789),
        ("2026-11-30T01:00:00Z", 1_796_000_400.0),
        ("1700000000.5", 1_700_000_000.5),
        (math.nan, NOW),
        (math.inf, NOW),
        (-1, NOW),
        (1e300, NOW),
        (1e11, NOW),  # seconds past the year 2242
        (10**400, NOW),
        ("inf", NOW),
        ("not a time", NOW),
        (None, NOW),
        (True, NOW),
    ],
)
def test_timestamps_are_read_in_every_unit_and_bounded(value: object, seconds: float) -> None:
    assert wire_timestamp(value, NOW) == pytest.approx(seconds)


@given(st.one_of(st.integers(), st.floats(), st.text(), st.none()))
def test_any_value_gives_a_timestamp_within_bounds(value: object) -> None:
    assert 0.0 <= wire_timestamp(value, NOW) <= MAX_TIMESTAMP


def test_bounded_ints_and_finite_numbers() -> None:
    assert bounded_int(5, 1, 10) == 5
    assert bounded_int(11, 1, 10) is None
    assert bounded_int("3", 1, 10) == 3
    assert bounded_int(math.nan, 1, 10) is None
    assert finite(0.5, -1.0, 1.0) == 0.5
    assert finite(math.nan, -1.0, 1.0) is None
    assert finite(10**400, -1.0, math.inf) is None
    assert finite(True, -1.0, 1.0) is None
