"""Per-sender fairness: token buckets that refuse what one sender asks beyond its share.

Pure state: `allow(key, now)` spends a token if there is one. Buckets of senders that have
been quiet long enough to be full again are forgotten, and the table never holds more than
`max_keys` (a flood of new senders pushes the oldest out: a forgotten sender starts again
with a full bucket, which every new sender gets anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimit:
    """At most `rate` actions a second per key, with bursts of up to `burst`."""

    rate: float
    burst: float
    max_keys: int = 100_000
    _buckets: dict[object, _Bucket] = field(default_factory=dict)
    _swept_at: float = 0.0

    def allow(self, key: object, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens of `key`'s bucket if it holds that many (a cost above the
        burst can never pass)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._sweep(now)
            if len(self._buckets) >= self.max_keys:  # a flood of new senders: drop the oldest
                del self._buckets[next(iter(self._buckets))]
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if now - self._swept_at > self.burst / self.rate:
            self._sweep(now)
        if bucket.tokens < cost:
            return False
        bucket.tokens -= cost
        return True

    def _sweep(self, now: float) -> None:
        """Forget the buckets that would be full by now (their owners were quiet)."""
        refill = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < refill}
        self._swept_at = now

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True)
class FairShare:
    """What one client connection may ask of one server (defaults in the README)."""

    requests_per_second: float = 1000.0
    request_burst: float = 2000.0
    new_names_per_second: float = 10.0  # logins of unknown users, channel creations
    new_name_burst: float = 50.0
    stored_bytes_per_second: float = 256 * 1024  # text of posts and private messages
    stored_bytes_burst: float = 1024 * 1024
    password_checks_per_second: float = 5.0  # logins with a password (each costs ~40 ms)
    password_check_burst: float = 20.0


DEFAULT_SHARE = FairShare()


class Fairness:
    """The buckets of every connection; each check returns None or the refusal's text.
    The key is the connection, or for the stored bytes of a claimed name its account."""

    def __init__(self, share: FairShare = DEFAULT_SHARE) -> None:
        self.share = share
        self.requests = RateLimit(share.requests_per_second, share.request_burst)
        self.names = RateLimit(share.new_names_per_second, share.new_name_burst)
        self.bytes = RateLimit(share.stored_bytes_per_second, share.stored_bytes_burst)
        self.passwords = RateLimit(share.password_checks_per_second, share.password_check_burst)

    def request(self, sender: object, now: float) -> str | None:
        if self.requests.allow(sender, now):
            return None
        return _refusal(f"{self.share.requests_per_second:g} requests")

    def new_name(self, sender: object, now: float) -> str | None:
        if self.names.allow(sender, now):
            return None
        return _refusal(f"{self.share.new_names_per_second:g} new users or channels")

    def stored(self, sender: object, size: int, now: float) -> str | None:
        if self.bytes.allow(sender, now, cost=size):
            return None
        return _refusal(f"{self.share.stored_bytes_per_second / 1024:g} KiB of messages")

    def password_check(self, sender: object, now: float) -> str | None:
        if self.passwords.allow(sender, now):
            return None
        return _refusal(f"{self.share.password_checks_per_second:g} logins with a password")


def _refusal(what: str) -> str:
    return f"rate limit: at most {what} a second per connection; retry later"
