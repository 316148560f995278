"""Registry actor of the reference role: `rank`, `list`, `heartbeat`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from actors.base import BaseActor, Node, handles
from actors.messages import ClientRequest, ExpiryDue
from actors.rank_book import RankBook, TakenOver
from transport import codec
from transport.endpoints import peer_endpoint
from transport.port import Transport


class RegistryActor(BaseActor):
    actor_name = "registry"

    def __init__(
        self,
        node: Node,
        transport: Transport,
        book_path: Path | None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(node)
        self.transport = transport
        self.path = book_path
        self.now = now
        timeout = node.timing.liveness_timeout
        self.book = RankBook.load(book_path, timeout) if book_path else RankBook(timeout)

    @handles(ClientRequest)
    def _request(self, message: ClientRequest) -> None:
        inbound = message.inbound
        service, data = inbound.request.service, inbound.request.data
        try:
            reply = self._answer(service, data)
        except (codec.FieldError, TakenOver) as exc:
            reply = codec.error_data(str(exc))
        self.transport.reply(inbound, reply)

    def _answer(self, service: str, data: dict) -> dict:
        now = self.now()
        if service == "rank":
            name = codec.require_name(data, "user", "name")
            address = peer_endpoint(data["address"]) if data.get("address") else None
            known = name in self.book.ranks
            rank = self.book.rank(name, now, address)
            if not known or address:
                self._save()
            if not known:
                self.log.info("server_registered", server=name, rank=rank, address=address)
            return {"rank": rank}
        if service == "list":
            return {"list": self.book.alive(now)}
        if service == "heartbeat":
            name = codec.require_name(data, "user", "name")
            if not self.book.heartbeat(name, now):
                return codec.error_data(f"unknown server '{name}': ask for a rank first")
            return {"status": codec.OK}
        return codec.error_data(f"unknown service '{service}'")

    def _save(self) -> None:
        if self.path is not None:
            self.book.save(self.path)

    @handles(ExpiryDue)
    def _expire(self, _: ExpiryDue) -> None:
        for name in self.book.expired(self.now()):
            self.log.warning("server_expired", server=name)
