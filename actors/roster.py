"""A set of names kept in order, so that a page of it costs a bisection, not a sort."""

from __future__ import annotations

import bisect
from collections.abc import Iterable


class Roster:
    def __init__(self, names: Iterable[str] = ()) -> None:
        self._set = set(names)
        self._sorted = sorted(self._set)

    def add(self, name: str) -> None:
        if name not in self._set:
            self._set.add(name)
            bisect.insort(self._sorted, name)

    def __contains__(self, name: object) -> bool:
        return name in self._set

    def __len__(self) -> int:
        return len(self._set)

    def page(self, after: str, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` names that sort after `after` ("" for the first page), and whether
        more follow."""
        start = bisect.bisect_right(self._sorted, after) if after else 0
        names = self._sorted[start : start + limit]
        return names, start + limit < len(self._sorted)
