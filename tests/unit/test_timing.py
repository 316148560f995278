"""Timing.validate(): the invariants that tie the intervals together."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config.timing import DEFAULT_TIMING, Timing, TimingError


def test_defaults_are_valid_and_fail_over_within_five_seconds() -> None:
    assert Timing().validate() == DEFAULT_TIMING
    assert DEFAULT_TIMING.failover_bound == pytest.approx(1.0 + 0.5 * 2 + 0.6 + 1.5 + 2 * 0.1)
    assert DEFAULT_TIMING.failover_bound <= 5.0
    assert DEFAULT_TIMING.liveness_timeout == pytest.approx(3.0)


@pytest.mark.parametrize(
    "name",
    [
        "request_timeout",
        "peer_timeout",
        "heartbeat_interval",
        "election_answer_timeout",
        "replication_ack_timeout",
        "clock_sync_every_messages",
        "catchup_batch",
        "election_tick_interval",
        "ack_check_interval",
        "replication_call_timeout",
        "anti_entropy_interval",
        "refused_push_retry",
    ],
)
@pytest.mark.parametrize("value", [0, -1])
def test_non_positive_values_are_refused_by_name(name: str, value: float) -> None:
    with pytest.raises(TimingError, match=name):
        replace(Timing(), **{name: value}).validate()


def test_zero_peer_retries_is_allowed_but_negative_is_not() -> None:
    assert Timing(peer_retries=0).validate().peer_retries == 0
    with pytest.raises(TimingError, match="peer_retries"):
        Timing(peer_retries=-1).validate()


def test_slow_failover_is_refused() -> None:
    slow = Timing(announce_timeout=4.0)
    assert slow.failover_bound > 5.0
    with pytest.raises(TimingError, match="coordinator"):
        slow.validate()
    assert slow.validate(failover_target=10.0) is slow


def test_more_peer_retries_lengthen_failure_detection() -> None:
    assert Timing(peer_retries=3).peer_failure_detection == pytest.approx(1.0 + 0.5 * 4)


def test_liveness_must_span_more_than_one_heartbeat() -> None:
    with pytest.raises(TimingError, match="liveness"):
        Timing(liveness_intervals=1).validate()


def test_replication_ack_must_fit_in_the_request_deadline() -> None:
    with pytest.raises(TimingError, match="replication_ack_timeout"):
        Timing(replication_ack_timeout=2.0, request_deadline=2.0).validate()


def test_server_must_answer_before_the_client_retries() -> None:
    with pytest.raises(TimingError, match="request_timeout"):
        Timing(request_deadline=2.5, request_timeout=2.5).validate()


def test_a_slow_election_tick_counts_in_the_failover_bound() -> None:
    slow_tick = replace(Timing(), election_tick_interval=0.5, election_answer_timeout=1.0)
    assert slow_tick.failover_bound == pytest.approx(1.0 + 0.5 * 2 + 1.0 + 1.5 + 2 * 0.5)
    with pytest.raises(TimingError, match="coordinator"):
        slow_tick.validate()


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"ack_check_interval": 1.0}, "ack_check_interval"),
        ({"election_tick_interval": 0.6}, "election_tick_interval"),
    ],
)
def test_ticks_must_be_finer_than_what_they_time(changes: dict, complaint: str) -> None:
    with pytest.raises(TimingError, match=complaint):
        replace(Timing(), **changes).validate(failover_target=10.0)
