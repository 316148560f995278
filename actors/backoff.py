"""Per-name back-off of password attempts: after k wrong passwords in a row for a name,
attempts at it are refused for base * 2**(k-1) seconds, up to `cap`.

Pure state with the time passed in; at most `max_names` names are remembered (the oldest
failure is forgotten first), so a flood of guesses at new names cannot grow it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    until: float


class Backoff:
    def __init__(self, base: float = 1.0, cap: float = 300.0, max_names: int = 10_000) -> None:
        self.base, self.cap, self.max_names = base, cap, max_names
        self._names: OrderedDict[str, _Failures] = OrderedDict()

    def wait(self, name: str, now: float) -> float:
        """Seconds before `name` may be tried again (0: now)."""
        failures = self._names.get(name)
        return max(0.0, failures.until - now) if failures else 0.0

    def failed(self, name: str, now: float) -> float:
        """Count a wrong password; returns the seconds `name` is now locked for."""
        failures = self._names.pop(name, None) or _Failures(0, now)
        failures.count += 1
        delay = min(self.cap, self.base * 2 ** min(failures.count - 1, 32))
        failures.until = now + delay
        self._names[name] = failures
        if len(self._names) > self.max_names:
            self._names.popitem(last=False)
        return delay

    def succeeded(self, name: str) -> None:
        self._names.pop(name, None)

    def __len__(self) -> int:
        return len(self._names)
