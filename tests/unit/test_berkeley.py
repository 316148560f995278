"""Berkeley clock synchronisation: samples, outliers, convergence."""

from __future__ import annotations

import random

import pytest

from actors.berkeley import Sample, adjustments


def test_offset_compensates_half_the_round_trip() -> None:
    # Asked at 100.0 on our clock; their clock read 100.1 at the midpoint (our 100.1): no offset.
    assert Sample(their_time=100.1, rtt=0.2, received_at=100.2).offset == pytest.approx(0.0)
    assert Sample(their_time=102.1, rtt=0.2, received_at=100.2).offset == pytest.approx(2.0)
    assert Sample(their_time=98.0, rtt=0.0, received_at=100.0).offset == pytest.approx(-2.0)


def test_without_rtt_compensation_a_slow_link_would_look_like_skew() -> None:
    sample = Sample(their_time=100.5, rtt=1.0, received_at=101.0)
    assert sample.offset == pytest.approx(0.0)
    assert sample.their_time - sample.received_at == pytest.approx(-0.5)


def test_everyone_moves_to_the_average_of_the_agreeing_clocks() -> None:
    deltas = adjustments({"coord": 0.0, "a": 0.2, "b": -0.4, "c": 0.5}, outlier_threshold=1.0)
    target = (0.0 + 0.2 - 0.4 + 0.5) / 4
    assert deltas == pytest.approx(
        {"coord": target, "a": target - 0.2, "b": target + 0.4, "c": target - 0.5}
    )


def test_outliers_do_not_pull_the_average_but_are_corrected() -> None:
    deltas = adjustments({"coord": 0.0, "a": 0.1, "b": -0.1, "far": 30.0}, outlier_threshold=1.0)
    assert deltas["coord"] == pytest.approx(0.0)  # the average of 0, 0.1, -0.1
    assert deltas["far"] == pytest.approx(-30.0)
    assert deltas["a"] == pytest.approx(-0.1)


def test_when_everyone_disagrees_the_median_is_the_target() -> None:
    deltas = adjustments({"coord": 0.0, "a": -2.0, "b": 2.0}, outlier_threshold=1.0)
    assert deltas == pytest.approx({"coord": 0.0, "a": 2.0, "b": -2.0})


def test_no_offsets_no_adjustments() -> None:
    assert adjustments({}, outlier_threshold=1.0) == {}


def simulate_round(
    skews: dict[str, float],
    coordinator: str,
    delays: dict[str, tuple[float, float]],
    threshold: float,
) -> dict[str, float]:
    """One Berkeley round over links with (outbound, return) delays; returns corrected skews."""
    t0 = 5000.0  # true time when the coordinator asks everyone
    coord_skew = skews[coordinator]
    offsets = {coordinator: 0.0}
    for name, skew in skews.items():
        if name == coordinator:
            continue
        out, back = delays[name]
        their_time = t0 + out + skew
        received_at = t0 + out + back + coord_skew
        offsets[name] = Sample(their_time, out + back, received_at).offset
    deltas = adjustments(offsets, threshold)
    return {name: skews[name] + deltas[name] for name in skews}


@pytest.mark.parametrize("seed", range(20))
def test_two_second_skews_converge_within_fifty_ms(seed: int) -> None:
    rng = random.Random(seed)
    skews = {f"s{i}": rng.uniform(-2.0, 2.0) for i in range(5)}
    delays = {name: (rng.uniform(0.0, 0.04), rng.uniform(0.0, 0.04)) for name in skews}
    coordinator = rng.choice(sorted(skews))
    corrected = simulate_round(skews, coordinator, delays, threshold=1.0)
    assert max(corrected.values()) - min(corrected.values()) < 0.05
    # with symmetric links the agreement is exact
    symmetric = {name: (d, d) for name, (d, _) in delays.items()}
    exact = simulate_round(skews, coordinator, symmetric, threshold=1.0)
    assert max(exact.values()) - min(exact.values()) == pytest.approx(0.0, abs=1e-9)


def test_the_agreed_time_is_not_dragged_by_one_wild_clock() -> None:
    skews = {"coord": 0.0, "a": 0.3, "b": -0.3, "wild": 3600.0}
    delays = dict.fromkeys(skews, (0.01, 0.01))
    corrected = simulate_round(skews, "coord", delays, threshold=1.0)
    assert all(abs(v) < 0.05 for v in corrected.values())
