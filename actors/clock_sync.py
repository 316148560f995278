"""Clock actor: answers `clock` and `adjust`; on the coordinator, runs Berkeley rounds every
N handled messages and at least every `clock_sync_interval` seconds.

`adjust` {delta} -> {status}: our extension; the receiver adds delta (seconds) to its offset.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from actors.base import BaseActor, Node, handles
from actors.berkeley import Sample, adjustments
from actors.messages import (
    AdjustAnswered,
    ClockRoundDue,
    ClockSampled,
    Membership,
    MessageHandled,
)
from actors.routes import Routes
from config.clocks import MAX_OFFSET
from transport import protocol
from transport.port import Call, Transport
from transport.protocol import (
    AdjustRequest,
    ClockRequest,
    CoordinatorAnnounced,
    Peer,
    Refusal,
    Service,
)


class ClockSyncActor(BaseActor):
    actor_name = "clock"

    def __init__(
        self,
        node: Node,
        transport: Transport,
        routes: Routes,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(node)
        self.transport = transport
        self.routes = routes
        self.now = now
        self.last_round = -float("inf")
        self.peers: dict[str, Peer] = {}
        self.coordinator: str | None = None
        self.handled = 0
        self.round: dict[str, Sample | None] | None = None
        self.rounds = 0

    def stats(self) -> dict[str, Any]:
        return {"offset": self.node.clock.offset, "rounds": self.rounds}

    @handles(Membership)
    def _membership(self, m: Membership) -> None:
        self.peers = {p.name: p for p in m.peers}

    @handles(CoordinatorAnnounced)
    def _coordinator(self, a: CoordinatorAnnounced) -> None:
        self.coordinator = a.name
        if a.name == self.node.name:
            self._start_round("elected")

    @handles(ClockRequest)
    def _clock(self, c: ClockRequest) -> None:
        self.transport.reply(c.inbound, protocol.clock_reply(self.node.clock.now()))

    @handles(AdjustRequest)
    def _adjust(self, a: AdjustRequest) -> None:
        clock = self.node.clock
        if not clock.adjust(a.delta):
            self.log.warning("clock_adjust_refused", delta=a.delta, offset=clock.offset)
            text = f"a correction of {a.delta:g}s would put this clock past ±{MAX_OFFSET:g}s"
            self.transport.reply(a.inbound, Refusal(text).reply)
            return
        self.log.info("clock_adjusted", delta=a.delta, offset=clock.offset)
        self.transport.reply(a.inbound, protocol.ok())

    @handles(MessageHandled)
    def _handled(self, m: MessageHandled) -> None:
        every = self.node.timing.clock_sync_every_messages
        before, self.handled = self.handled, self.handled + m.count
        if (
            self.handled // every > before // every
            and self.now() - self.last_round >= self.node.timing.clock_sync_min_interval
        ):
            self._start_round("messages")

    @handles(ClockRoundDue)
    def _tick(self, _: ClockRoundDue) -> None:
        self._start_round("interval")

    def _start_round(self, reason: str) -> None:
        if self.coordinator != self.node.name or self.round is not None:
            return
        if not self.peers:
            return
        self.round = dict.fromkeys(self.peers)
        self.last_round = self.now()
        clock = self.node.clock
        for peer in self.peers.values():
            call = Call(
                peer.address, Service.CLOCK, {}, self.node.timing.peer_timeout, 0, lane="clock"
            )
            # the answer is stamped with our time when it arrives, as Berkeley needs
            self.call(call, lambda r, n=peer.name: ClockSampled(n, r, clock.now()))
        self.log.debug("clock_round_started", reason=reason)

    @handles(ClockSampled)
    def _reply(self, r: ClockSampled) -> None:
        if self.round is None or r.peer not in self.round:
            return
        their = protocol.parse_clock_reply(r.data) if r.ok else None
        if their is not None:
            self.round[r.peer] = Sample(their, r.response.rtt, r.received_at)
        else:
            del self.round[r.peer]
        if all(s is not None for s in self.round.values()):
            self._finish_round({n: s for n, s in self.round.items() if s is not None})

    @handles(AdjustAnswered)
    def _adjusted(self, r: AdjustAnswered) -> None:
        if not r.ok or protocol.refused(r.data):
            self.log.warning("clock_adjust_failed", peer=r.peer, reason=r.response.error or r.data)

    def _finish_round(self, samples: dict[str, Sample]) -> None:
        self.round = None
        offsets = {n: s.offset for n, s in samples.items()}
        offsets[self.node.name] = 0.0
        deltas = adjustments(offsets, self.node.timing.clock_outlier_threshold)
        for name, delta in deltas.items():
            peer = self.peers.get(name)
            if abs(delta) > MAX_OFFSET:  # that host's own clock is wrong: say so, do not follow
                self.log.warning("clock_correction_out_of_range", server=name, delta=delta)
            elif name == self.node.name:
                if not self.node.clock.adjust(delta):
                    self.log.warning("clock_adjust_refused", delta=delta)
            elif peer is not None:
                call = Call(
                    peer.address,
                    Service.ADJUST,
                    protocol.adjust_request(delta),
                    self.node.timing.peer_timeout,
                    0,
                    "clock",
                )
                self.call(call, partial(AdjustAnswered, name))
        self.rounds += 1
        self.log.info(
            "clock_sync_round",
            offsets={n: round(o, 6) for n, o in offsets.items()},
            adjustments={n: round(d, 6) for n, d in deltas.items()},
            offset=round(self.node.clock.offset, 6),
        )
