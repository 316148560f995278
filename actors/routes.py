"""Late-bound addresses of a process's actors, so actors that talk to each other in both
directions can be started one after the other. Filled once at assembly, read-only after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.base import teller

Tell = Callable[[Any], None]


class Routes:
    def __init__(self, wrap: Callable[[Tell], Tell] = lambda tell: tell) -> None:
        """`wrap` decorates every route (a test network counts each tell as activity)."""
        self._tell: dict[str, Tell] = {}
        self._wrap = wrap

    def add(self, name: str, target: pykka.ActorRef | Tell) -> None:
        tell = teller(target) if isinstance(target, pykka.ActorRef) else target
        self._tell[name] = self._wrap(tell)

    def tell(self, name: str, message: Any) -> None:
        self._tell[name](message)

    def to(self, name: str) -> Tell:
        return lambda message: self._tell[name](message)

    def sender(self, name: str, message: Any) -> Callable[[], None]:
        """A callback that tells `name` this `message` (what a timer fires)."""
        return lambda: self._tell[name](message)
