"""Berkeley clock synchronisation as a pure computation."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean, median


@dataclass(frozen=True)
class Sample:
    """A server's clock reading as seen by the coordinator."""

    their_time: float
    rtt: float
    received_at: float

    @property
    def offset(self) -> float:
        """Their clock minus ours, compensating half the round trip."""
        return self.their_time + self.rtt / 2 - self.received_at


def adjustments(offsets: dict[str, float], outlier_threshold: float) -> dict[str, float]:
    """The correction each clock must add so that all agree on the fault-tolerant average.

    `offsets` holds every participant's offset to the coordinator (the coordinator's is 0).
    Clocks farther than `outlier_threshold` from the median do not pull the average, but
    they are corrected like the others.
    """
    if not offsets:
        return {}
    centre = median(offsets.values())
    kept = [o for o in offsets.values() if abs(o - centre) <= outlier_threshold] or [centre]
    target = mean(kept)
    return {name: target - offset for name, offset in offsets.items()}
