"""Replication actor: makes local writes durable on enough replicas, applies the events of
other origins, and catches up (on start, on a gap, and by periodic anti-entropy).

Server-to-server services it owns (see docs/protocol.md):
- `replicate` {events: [...]} -> {status, heads}: push of an origin's own events; the reply
  comes once they are durable here and says what this replica holds.
- `sync` {heads, limit} -> {status, events, more, heads}: pull of what the caller lacks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from actors.base import BaseActor, Node, handles
from actors.chat_rules import replication_message
from actors.events import Event
from actors.messages import (
    AcksDue,
    Answered,
    AntiEntropyDue,
    Append,
    Appended,
    Applied,
    LocalWrite,
    LocalWrites,
    Membership,
    Peer,
    PeerPush,
    PeerRequest,
    PushAnswered,
    RefreshThenRetry,
    Replicated,
    SeenPublished,
    ServeSync,
    SyncAnswered,
    SyncStep,
    WriteDone,
)
from actors.outbox import Outbox
from actors.replication_log import AckTracker, ReplicaHeads
from actors.routes import Routes
from transport import codec
from transport.port import Call, Inbound, Transport

PUB = "pub"
VIA = {PeerPush: "peer", SyncStep: "sync", SeenPublished: "pub"}  # events_applied's `via`


class ReplicationActor(BaseActor):
    actor_name = "replication"

    def __init__(
        self,
        node: Node,
        transport: Transport,
        routes: Routes,
        heads: dict[str, int],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(node)
        self.transport = transport
        self.routes = routes
        self.now = now
        self.replica = ReplicaHeads(dict(heads))
        self.durable_heads = dict(heads)
        self.tracker = AckTracker(node.timing.replication_ack_timeout)
        self.peers: dict[str, Peer] = {}
        self.outbox = Outbox()
        self.refreshing: set[str] = set()
        self.applying = 0  # batches of other origins' events on their way to disk
        self.stored_at: dict[int, float] = {}  # seq -> wall time our own write became durable
        self.on_refreshed: list[Callable[[], None]] = []
        self.round_started = 0.0
        self.round_events = 0
        self.last_catchup: dict[str, Any] = {}

    def stats(self) -> dict[str, Any]:
        return {
            "heads": dict(self.durable_heads),
            "lagging": sorted(self.tracker.lagging),
            "pending_writes": len(self.tracker.pending),
            "outbox": len(self.outbox),
            "last_catchup": self.last_catchup,
        }

    def _call(
        self,
        peer: Peer,
        service: str,
        data: dict[str, Any],
        answer: type[Answered],
    ) -> None:
        timing = self.node.timing
        call = Call(
            peer.address,
            service,
            data,
            timing.replication_call_timeout,
            timing.peer_retries,
            lane=service,
        )
        self.call(call, partial(answer, peer.name))

    # ---- membership -------------------------------------------------------------------

    @handles(Membership)
    def _membership(self, m: Membership) -> None:
        self.peers = {p.name: p for p in m.peers}
        self.tracker.set_live(self.peers)
        self._push_all()
        self._check_acks()

    # ---- local writes -----------------------------------------------------------------

    @handles(LocalWrite)
    def _local_write(self, w: LocalWrite) -> None:
        me = self.node.name
        event = Event(
            origin=me,
            seq=self.replica.next_seq(me),
            clock=self.node.lamport.tick(),
            op=w.op,
            timestamp=self.node.clock.now(),
            **w.fields,
        )
        self.tracker.add(w.token, event, self.now())
        self.outbox.add(event)
        self.routes.tell("persistence", Append((event,), LocalWrites()))
        self._push_all()

    def _push_all(self) -> None:
        for peer in self.peers.values():
            self._push(peer)

    def _push(self, peer: Peer) -> None:
        batch = self.outbox.next_push(peer.name, self.tracker.acked.get(peer.name, 0))
        if batch:
            data = {"events": [e.to_wire() for e in batch], "origin": self.node.name}
            self._call(peer, "replicate", data, PushAnswered)

    @handles(PushAnswered)
    def _on_push_reply(self, r: PushAnswered) -> None:
        self.outbox.answered(r.peer)
        if not r.ok:
            return
        heads = r.data.get("heads")
        if isinstance(heads, dict):
            self.tracker.peer_applied(r.peer, codec.as_int(heads.get(self.node.name, 0)))
        self._check_acks()
        if r.peer in self.peers:
            self._push(self.peers[r.peer])

    def _check_acks(self) -> None:
        done, lagging = self.tracker.ready(self.now())
        for peer in lagging:
            self.log.warning("replica_lagging", peer=peer)
        for ack in done:
            if ack.degraded and self.peers:
                self.log.warning("write_degraded", id=ack.event.id, copies=ack.copies)
            stored_at = self.stored_at.pop(ack.event.seq, None)
            self.log.info(
                "write_acknowledged",
                id=ack.event.id,
                op=ack.event.op,
                copies=ack.copies,
                degraded=ack.degraded,
                # since durable here: the log-based replication lag starts from there
                stored_ms=round((time.time() - stored_at) * 1000, 3) if stored_at else None,
            )
            self.routes.tell("chat", WriteDone(ack.token, ack.event))
        self.outbox.trim(self.tracker.min_acked())

    # ---- storage callbacks ------------------------------------------------------------

    @handles(Appended)
    def _appended(self, a: Appended) -> None:
        self.durable_heads = a.heads
        tag = a.tag
        if isinstance(tag, LocalWrites):
            for event in a.fresh:
                self.stored_at[event.seq] = time.time()
                self.tracker.durable(event.seq)
                self.transport.publish(
                    PUB,
                    "replication",
                    replication_message(event, self.node.clock.now()),
                    clock=event.clock,
                )
            self._check_acks()
            return
        self.applying -= 1
        if a.fresh:
            self.log.info("events_applied", ids=[e.id for e in a.fresh], via=VIA[type(tag)])
            self.routes.tell("chat", Applied(a.fresh))
        if isinstance(tag, PeerPush):
            self.transport.reply(tag.inbound, {"status": codec.OK, "heads": a.heads})
        elif isinstance(tag, SyncStep):
            self._sync_step_done(tag.peer, tag.more, len(a.fresh))
        self._release_if_settled()

    def _apply(self, events: list[Event], tag: PeerPush | SyncStep | SeenPublished) -> None:
        self.applying += 1
        self.routes.tell("persistence", Append(tuple(events), tag))

    # ---- serving peers ----------------------------------------------------------------

    @handles(PeerRequest)
    def _peer_request(self, p: PeerRequest) -> None:
        request = p.inbound.request
        if request.service == "sync":
            heads = request.data.get("heads")
            heads = (
                {str(k): codec.as_int(v) for k, v in heads.items()}
                if isinstance(heads, dict)
                else {}
            )
            limit = codec.as_int(request.data.get("limit")) or self.node.timing.catchup_batch
            self.routes.tell(
                "persistence",
                ServeSync(p.inbound, heads, min(limit, self.node.timing.catchup_batch)),
            )
        elif request.service == "replicate":
            self._receive_push(p.inbound)

    def _receive_push(self, inbound: Inbound) -> None:
        raw = inbound.request.data.get("events")
        events = [e for e in map(Event.from_wire, raw if isinstance(raw, list) else []) if e]
        take, gaps = self.replica.accept(e for e in events if e.origin != self.node.name)
        self._catch_up_gaps(gaps, inbound.request.data.get("origin"))
        if take:
            self._apply(take, PeerPush(inbound))
        else:
            self.transport.reply(inbound, {"status": codec.OK, "heads": self.durable_heads})

    @handles(Replicated)
    def _replicated(self, r: Replicated) -> None:
        # Our peers push their events (acknowledged, in order, in batches); the publication
        # only matters for origins that do not push to us.
        if r.event.origin == self.node.name or r.event.origin in self.peers:
            return
        take, gaps = self.replica.accept([r.event])
        self._catch_up_gaps(gaps, r.event.origin)
        if take:
            self._apply(take, SeenPublished())

    # ---- catch-up ---------------------------------------------------------------------

    def _catch_up_gaps(self, gaps: set[str], hint: Any) -> None:
        if not gaps:
            return
        self.log.warning("replica_gap_detected", origins=sorted(gaps))
        peer = self.peers.get(hint) if isinstance(hint, str) else None
        peer = peer or next(iter(self.peers.values()), None)
        if peer is not None and peer.name not in self.refreshing:
            self._sync_from(peer)

    def _sync_from(self, peer: Peer) -> None:
        self.refreshing.add(peer.name)
        self._call(
            peer,
            "sync",
            {"heads": dict(self.replica.claimed), "limit": self.node.timing.catchup_batch},
            SyncAnswered,
        )

    @handles(SyncAnswered)
    def _on_sync_reply(self, r: SyncAnswered) -> None:
        if not r.ok or r.data.get("status") != codec.OK:
            self._sync_step_done(r.peer, False, 0)
            return
        raw = r.data.get("events")
        events = [e for e in map(Event.from_wire, raw if isinstance(raw, list) else []) if e]
        take, _ = self.replica.accept(events)
        more = bool(r.data.get("more"))
        if take:
            self._apply(take, SyncStep(r.peer, more))
        else:
            self._sync_step_done(r.peer, more, 0)

    def _sync_step_done(self, peer: str, more: bool, count: int) -> None:
        self.round_events += count
        if more and peer in self.peers:
            self._sync_from(self.peers[peer])
            return
        self.refreshing.discard(peer)
        if not self.refreshing:
            self._round_finished()

    def _round_finished(self) -> None:
        if self.round_events:
            elapsed = time.monotonic() - self.round_started
            self.last_catchup = {
                "events": self.round_events,
                "seconds": round(elapsed, 3),
                "at": self.node.clock.now(),
            }
            self.log.info(
                "catchup_done",
                events=self.round_events,
                seconds=round(elapsed, 3),
                heads=self.durable_heads,
            )
        self.round_events = 0
        self._release_if_settled()

    def _release_if_settled(self) -> None:
        """Run the refresh callbacks once no pull is running and nothing pulled or pushed is
        still on its way to disk (so the chat actor has seen every Applied first)."""
        if self.refreshing or self.applying:
            return
        callbacks, self.on_refreshed = self.on_refreshed, []
        for callback in callbacks:
            callback()

    def refresh(self, then: Callable[[], None]) -> None:
        """Pull from every live peer until none has more, then call `then`."""
        self.on_refreshed.append(then)
        if not self.refreshing:
            self.round_started = time.monotonic()
        for peer in self.peers.values():
            if peer.name not in self.refreshing:
                self._sync_from(peer)
        self._release_if_settled()

    @handles(RefreshThenRetry)
    def _refresh_then_retry(self, r: RefreshThenRetry) -> None:
        self.refresh(lambda: self.routes.tell("chat", r.request))

    # ---- timers -----------------------------------------------------------------------

    @handles(AcksDue)
    def _acks_due(self, _: AcksDue) -> None:
        self._check_acks()
        self._push_all()

    @handles(AntiEntropyDue)
    def _anti_entropy(self, _: AntiEntropyDue) -> None:
        if self.peers and not self.refreshing:
            self._sync_from(random.choice(list(self.peers.values())))
