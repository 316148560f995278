"""What actors need from the transport; the Pump implements it and tests use a fake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from transport.pump import Inbound, Response


class Transport(Protocol):
    def reply(self, inbound: Inbound, data: dict[str, Any]) -> None: ...

    def publish(
        self, key: str, topic: str, message: dict[str, Any], clock: int | None = None
    ) -> None: ...

    def request(
        self,
        endpoint: str,
        service: str,
        data: dict[str, Any],
        on_done: Callable[[Response], None],
        timeout: float,
        retries: int,
        lane: str = "",
    ) -> None: ...

    def subscribe(self, key: str, topic: str, on: bool = True) -> None: ...
