"""Token buckets per sender: bursts, steady rate, independence, bounded memory."""

from __future__ import annotations

from actors.rate_limit import Fairness, FairShare, RateLimit


def test_a_burst_is_allowed_then_the_steady_rate() -> None:
    limit = RateLimit(rate=10.0, burst=5.0)
    assert [limit.allow("a", 0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert limit.allow("a", 0.05) is False  # half a token
    assert limit.allow("a", 0.1) is True  # one token after 1/rate seconds
    assert limit.allow("a", 0.1) is False


def test_senders_do_not_share_a_bucket() -> None:
    limit = RateLimit(rate=1.0, burst=1.0)
    assert limit.allow("a", 0.0) and not limit.allow("a", 0.0)
    assert limit.allow("b", 0.0)


def test_a_quiet_sender_gets_its_whole_burst_back_but_no_more() -> None:
    limit = RateLimit(rate=10.0, burst=3.0)
    for _ in range(3):
        limit.allow("a", 0.0)
    assert [limit.allow("a", 100.0) for _ in range(4)] == [True, True, True, False]


def test_quiet_senders_are_forgotten() -> None:
    limit = RateLimit(rate=10.0, burst=10.0)
    for i in range(1000):
        limit.allow(i, 0.0)
    assert len(limit) == 1000
    limit.allow("late", 5.0)  # everyone else has been quiet for longer than a refill
    assert len(limit) == 1


def test_the_table_never_exceeds_its_bound_even_under_a_flood_of_new_keys() -> None:
    limit = RateLimit(rate=1.0, burst=1000.0, max_keys=100)
    for i in range(10_000):
        limit.allow(i, i * 0.001)
        assert len(limit) <= 101


def test_a_cost_spends_that_many_tokens() -> None:
    limit = RateLimit(rate=100.0, burst=1000.0)
    assert limit.allow("a", 0.0, cost=900)
    assert not limit.allow("a", 0.0, cost=200)
    assert limit.allow("a", 1.0, cost=200)


def test_fairness_refuses_with_a_reason_per_kind() -> None:
    fair = Fairness(FairShare(request_burst=2, new_name_burst=1, stored_bytes_burst=100))
    assert fair.request("c", 0.0) is None and fair.request("c", 0.0) is None
    assert "requests" in (fair.request("c", 0.0) or "")
    assert fair.new_name("c", 0.0) is None
    assert "new users or channels" in (fair.new_name("c", 0.0) or "")
    assert fair.stored("c", 60, 0.0) is None
    refusal = fair.stored("c", 60, 0.0) or ""
    assert refusal.startswith("rate limit:") and "per connection" in refusal
    assert fair.request("other", 0.0) is None
