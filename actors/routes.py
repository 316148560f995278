"""Late-bound addresses of a process's actors, so actors that talk to each other in both
directions can be started one after the other. Filled once at assembly, read-only after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.base import teller


class Routes:
    def __init__(self) -> None:
        self._tell: dict[str, Callable[[Any], None]] = {}

    def add(self, name: str, target: pykka.ActorRef | Callable[[Any], None]) -> None:
        self._tell[name] = teller(target) if isinstance(target, pykka.ActorRef) else target

    def tell(self, name: str, message: Any) -> None:
        self._tell[name](message)

    def to(self, name: str) -> Callable[[Any], None]:
        return lambda message: self._tell[name](message)
