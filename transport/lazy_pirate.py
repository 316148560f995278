"""Lazy Pirate retry policy for a request the process owns (zguide ch. 4), as pure state."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    WAIT = "wait"
    RESEND = "resend"
    GIVE_UP = "give_up"


@dataclass
class LazyPirate:
    """One outstanding request: each timeout costs a retry until none is left.

    On RESEND the owner must close and reopen its REQ socket before sending again (a REQ
    socket that lost its reply is stuck in lockstep otherwise).
    """

    timeout: float
    retries: int
    sent_at: float
    attempts: int = 1

    @property
    def deadline(self) -> float:
        return self.sent_at + self.timeout

    def check(self, now: float) -> Verdict:
        if now < self.deadline:
            return Verdict.WAIT
        if self.attempts > self.retries:
            return Verdict.GIVE_UP
        self.attempts += 1
        self.sent_at = now
        return Verdict.RESEND
