"""Registry actor of the reference role: `rank`, `list`, `heartbeat`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, assert_never

from actors.base import BaseActor, Node, handles
from actors.messages import ClientRequest, ExpiryDue
from actors.rank_book import RankBook, TakenOver
from transport import protocol
from transport.codec import error_data
from transport.port import Transport
from transport.protocol import HeartbeatRequest, ListRequest, RankRequest, ReferenceCall, Refusal


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
        request = protocol.parse_reference_request(inbound.request.service, inbound.request.data)
        try:
            reply = self._answer(request)
        except TakenOver as exc:
            reply = error_data(str(exc))
        self.transport.reply(inbound, reply)

    def _answer(self, request: ReferenceCall | Refusal) -> dict[str, Any]:
        now = self.now()
        match request:
            case Refusal():
                return request.reply
            case RankRequest(name=name, address=address):
                known = name in self.book.ranks
                rank = self.book.rank(name, now, address)
                if not known or address:
                    self._save()
                if not known:
                    self.log.info("server_registered", server=name, rank=rank, address=address)
                return protocol.rank_reply(rank)
            case ListRequest():
                return protocol.list_reply(self.book.alive(now))
            case HeartbeatRequest(name=name):
                if not self.book.heartbeat(name, now):
                    return error_data(f"unknown server '{name}': ask for a rank first")
                return protocol.ok()
        assert_never(request)

    def _save(self) -> None:
        if self.path is not None:
            self.book.save(self.path)

    @handles(ExpiryDue)
    def _expire(self, _: ExpiryDue) -> None:
        for name in self.book.expired(self.now()):
            self.log.warning("server_expired", server=name)
