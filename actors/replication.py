"""Replication actor: makes local writes durable on enough replicas, applies the events of
other origins, and catches up (on start, on a gap, and by periodic anti-entropy).

Server-to-server services it owns (see docs/protocol.md):
- `replicate` {events: [...]} -> {status, heads}: push of an origin's own events; the reply
  comes once they are durable here and says what this replica holds (`erro` if they could not
  be stored: they are fetched again later).
- `sync` {heads, limit} -> {status, events, more, heads}: pull of what the caller lacks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from actors.base import BaseActor, Node, handles
from actors.catch_up import CatchUp, NextPage, RoundDone
from actors.messages import (
    AcksDue,
    Answered,
    AntiEntropyDue,
    Append,
    Appended,
    Applied,
    Backlogged,
    LocalWrites,
    Membership,
    NewWrites,
    PeerPush,
    PublishedEvents,
    PushAnswered,
    RefreshThenRetry,
    SeenPublished,
    SyncAnswered,
    SyncStep,
    WriteDone,
    WriteFailed,
    WritesDone,
)
from actors.outbox import Outbox
from actors.replication_log import Acknowledgement, AckTracker, ReplicaHeads
from actors.routes import Routes
from transport import protocol
from transport.port import PUB, Call, Outgoing, Transport
from transport.protocol import Event, Peer, PushRequest, Service, SyncRequest

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
        wall: Callable[[], float] = time.time,
        publish_events: bool = True,
    ) -> None:
        """`publish_events`: also publish each local event on the `replication` topic, as the
        assignment asks; a secure cluster does not (its servers replicate by push, and the
        topic is readable by anyone who reaches the proxy)."""
        super().__init__(node)
        self.transport = transport
        self.routes = routes
        self.publish_events = publish_events
        self.now = now
        self.wall = wall  # OS time like the log timestamps, which stored_ms is read against
        self.replica = ReplicaHeads(dict(heads))
        self.durable_heads = dict(heads)
        self.tracker = AckTracker(node.timing.replication_ack_timeout)
        self.behind = False  # what the chat was last told (Backlogged)
        self.peers: dict[str, Peer] = {}
        self.outbox = Outbox()
        self.catch_up = CatchUp()
        self.last_catchup: dict[str, Any] = {}
        self.seal_to: dict[int, str] = {}  # seq of a local private message -> key to seal to

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

    @handles(NewWrites)
    def _new_writes(self, batch: NewWrites) -> None:
        me, now = self.node.name, self.now()
        events = []
        for w in batch.writes:
            event = Event(
                origin=me,
                seq=self.replica.next_seq(me),
                clock=self.node.lamport.tick(),
                op=w.op,
                timestamp=self.node.clock.now(),
                **w.fields,
            )
            self.tracker.add(w.token, event, now)
            if w.seal_to:
                self.seal_to[event.seq] = w.seal_to
            events.append(event)
        # pushed once durable here: a peer never holds a write its origin failed to store
        self.routes.tell("persistence", Append(tuple(events), LocalWrites()))

    def _push_all(self) -> None:
        for peer in self.peers.values():
            self._push(peer)

    def _push(self, peer: Peer) -> None:
        batch = self.outbox.next_push(peer.name, self.tracker.acked.get(peer.name, 0), self.now())
        if batch:
            data = protocol.push_request(batch, self.node.name)
            self._call(peer, Service.REPLICATE, data, PushAnswered)

    @handles(PushAnswered)
    def _on_push_reply(self, r: PushAnswered) -> None:
        if r.ok and protocol.refused(r.data):  # it could not store them (disk full)
            self.outbox.answered(r.peer, self.now() + self.node.timing.refused_push_retry)
            return
        self.outbox.answered(r.peer)
        if not r.ok:
            return  # lost: pushed again on the next AcksDue tick
        before = self.tracker.acked.get(r.peer, 0)
        heads = protocol.parse_push_reply(r.data)
        if heads is not None:
            self.tracker.peer_applied(r.peer, heads.get(self.node.name, 0), now=self.now())
        self._check_acks()
        # At once only if the peer moved on: one that is still catching up (or storing the
        # same events from a sync) gets the next push on the tick, not in a busy loop.
        if r.peer in self.peers and self.tracker.acked.get(r.peer, 0) > before:
            self._push(self.peers[r.peer])

    def _check_acks(self) -> None:
        now = self.now()
        done, lagging = self.tracker.ready(now)
        behind = self.tracker.behind(now)
        if behind != self.behind:
            self.behind = behind
            self.routes.tell("chat", Backlogged(behind))
        for peer in lagging:
            self.log.warning("replica_lagging", peer=peer)
        if done:
            self._acknowledge(done)
        self.outbox.trim(self.tracker.min_acked())

    def _acknowledge(self, done: list[Acknowledgement]) -> None:
        """Release writes to the chat together, logged one line per group that shares a
        copy count and a commit (ops.log_reader reads each id as a `write_acknowledged`)."""
        wall = self.wall()
        groups: dict[tuple[int, bool, float], list[Acknowledgement]] = {}
        for ack in done:
            groups.setdefault((ack.copies, ack.degraded, ack.durable_at), []).append(ack)
        for (copies, degraded, durable_at), acks in groups.items():
            ids = [ack.event.id for ack in acks]
            for event_id in ids if degraded and self.peers else ():
                self.log.warning("write_degraded", id=event_id, copies=copies)
            self.log.info(
                "writes_acknowledged",
                ids=ids,
                copies=copies,
                degraded=degraded,
                # since durable here: the log-based replication lag starts from there
                stored_ms=round((wall - durable_at) * 1000, 3),
            )
        self.routes.tell("chat", WritesDone(tuple(WriteDone(a.token, a.event) for a in done)))

    # ---- storage callbacks ------------------------------------------------------------

    @handles(Appended)
    def _appended(self, a: Appended) -> None:
        self.durable_heads = a.heads
        tag = a.tag
        if isinstance(tag, LocalWrites):
            self._local_appended(a)
            return
        self.replica.release(a.failed)
        self.catch_up.stored()
        if a.fresh:
            self.log.info("events_applied", ids=[e.id for e in a.fresh], via=VIA[type(tag)])
            self.routes.tell("chat", Applied(a.fresh))
        if isinstance(tag, PeerPush):
            self.transport.reply(
                tag.inbound, protocol.push_reply(a.heads, a.error if a.failed else "")
            )
        elif isinstance(tag, SyncStep):
            self._sync_step_done(tag.peer, tag.more and not a.failed, len(a.fresh))
        self._release_if_settled()

    def _local_appended(self, a: Appended) -> None:
        wall, publications = self.wall(), []
        for event in a.fresh:
            self.tracker.durable(event.seq, wall)
            self.outbox.add(event)
            seal_to = self.seal_to.pop(event.seq, "")
            published = protocol.replication_publication(event, self.node.clock.now(), seal_to)
            if published is not None and self.publish_events:
                topic, message = published
                publications.append(Outgoing(PUB, topic, message, event.clock))
        if publications:
            self.transport.send_batch([], publications)
        dropped = self.tracker.fail(a.failed)
        for write in dropped:  # its seq goes to the next write
            self.seal_to.pop(write.event.seq, None)
        if dropped:
            # the next local write takes the first failed seq: this origin's log has no hole
            self.replica.release([dropped[0].event])
            for write in dropped:
                self.routes.tell("chat", WriteFailed(write.token, a.error))
        self._push_all()
        self._check_acks()

    def _apply(self, events: list[Event], tag: PeerPush | SyncStep | SeenPublished) -> None:
        self.catch_up.storing()
        self.routes.tell("persistence", Append(tuple(events), tag))

    # ---- serving peers ----------------------------------------------------------------

    @handles(SyncRequest)
    def _serve_sync(self, s: SyncRequest) -> None:
        batch = self.node.timing.catchup_batch
        self.routes.tell("persistence", replace(s, limit=min(s.limit or batch, batch)))

    @handles(PushRequest)
    def _receive_push(self, p: PushRequest) -> None:
        take, gaps = self.replica.accept(e for e in p.events if e.origin != self.node.name)
        self._catch_up_gaps(gaps, p.origin)
        if take:
            self._apply(take, PeerPush(p.inbound))
        else:
            self.transport.reply(p.inbound, protocol.push_reply(self.durable_heads))

    @handles(PublishedEvents)
    def _published(self, p: PublishedEvents) -> None:
        # Our peers push their events (acknowledged, in order, in batches); the publication
        # only matters for origins that do not push to us.
        me = self.node.name
        theirs = [e for e in p.events if e.origin != me and e.origin not in self.peers]
        if not theirs:
            return
        take, gaps = self.replica.accept(theirs)
        self._catch_up_gaps(gaps, theirs[0].origin)
        if take:
            self._apply(take, SeenPublished())

    # ---- catch-up ---------------------------------------------------------------------

    def _catch_up_gaps(self, gaps: set[str], hint: Any) -> None:
        if not gaps:
            return
        self.log.warning("replica_gap_detected", origins=sorted(gaps))
        peer = self.peers.get(hint) if isinstance(hint, str) else None
        peer = peer or next(iter(self.peers.values()), None)
        if peer is not None:
            self._pull(peer)

    def _pull(self, peer: Peer) -> None:
        if self.catch_up.pull(peer.name, self.now()):
            self._sync_from(peer)

    def _sync_from(self, peer: Peer) -> None:
        request = protocol.sync_request(dict(self.replica.claimed), self.node.timing.catchup_batch)
        self._call(peer, Service.SYNC, request, SyncAnswered)

    @handles(SyncAnswered)
    def _on_sync_reply(self, r: SyncAnswered) -> None:
        page = protocol.parse_sync_reply(r.data) if r.ok else None
        if page is None:
            self._sync_step_done(r.peer, False, 0)
            return
        take, _ = self.replica.accept(page.events)
        if take:
            self._apply(take, SyncStep(r.peer, page.more))
        else:
            self._sync_step_done(r.peer, page.more, 0)

    def _sync_step_done(self, peer: str, more: bool, count: int) -> None:
        step = self.catch_up.page_done(peer, count, more and peer in self.peers, self.now())
        if isinstance(step, NextPage):
            self._sync_from(self.peers[step.peer])
            return
        if isinstance(step, RoundDone):
            self._round_done(step)
        self._release_if_settled()

    def _round_done(self, done: RoundDone) -> None:
        seconds = round(done.seconds, 3)
        self.last_catchup = {"events": done.events, "seconds": seconds, "at": self.node.clock.now()}
        self.log.info("catchup_done", events=done.events, seconds=seconds, heads=self.durable_heads)

    def _release_if_settled(self) -> None:
        # the chat actor has been told every Applied before a callback hands it a retry
        for callback in self.catch_up.release():
            callback()

    def refresh(self, then: Callable[[], None]) -> None:
        """Pull from every live peer until none has more, then call `then`."""
        self.catch_up.wait(then)
        for peer in self.peers.values():
            self._pull(peer)
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
        if self.peers and not self.catch_up.running:
            self._pull(random.choice(list(self.peers.values())))
