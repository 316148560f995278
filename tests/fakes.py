"""Test doubles for actor tests: a recording transport, an in-process network, small helpers.

- `FakeTransport` records what an actor replies, publishes and requests; a test completes or
  fails a recorded request by hand (`sent.complete(data)` / `sent.fail()`).
- `FakeNetwork` joins several in-process nodes: a request sent to a node's endpoint reaches
  that node's `on_request`, its reply comes back through `on_done`, publications reach every
  node subscribed to a prefix of the topic. Links can be cut (`partition`), messages dropped
  (`drop`) or delayed (`delay`). Time is a ManualScheduler: timeouts and delays are virtual,
  and `settle()` runs the system until nothing moves, so no test sleeps. Network decisions
  are deterministic; the actors' own threads are real.
- The Lamport rule of the pump is reproduced by the network transport: tick on every send
  and reply, merge on every receive.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pykka
import structlog

from actors.base import Ping
from actors.messages import NewWrites, WritesDone
from actors.routes import Routes
from actors.scheduler import ManualScheduler
from config.clocks import AdjustedClock, LamportClock
from config.settings import default_peer_endpoint
from transport import codec
from transport.port import Call, Inbound, Outgoing, Publication, Response
from transport.protocol import Event

T = TypeVar("T")
ASK_TIMEOUT = 5.0
_tokens = itertools.count(1)


# ---- helpers ------------------------------------------------------------------------------


def make_inbound(
    service: str,
    data: dict[str, Any] | None = None,
    clock: int = 0,
    key: str = "clients",
    fmt: str = codec.MSGPACK,
) -> Inbound:
    """A request as the pump hands it to an actor."""
    return Inbound(key, next(_tokens), codec.Request(service, dict(data or {}), clock, fmt))


def history_order(event: Event) -> tuple[int, str, int]:
    """The one history order every replica shares (a sort key)."""
    return (event.clock, event.origin, event.seq)


def barrier(*refs: pykka.ActorRef) -> None:
    """Return once each actor has handled everything told to it before (FIFO mailboxes)."""
    for ref in refs:
        ref.ask(Ping(), timeout=ASK_TIMEOUT)


def stop_all_actors() -> None:
    pykka.ActorRegistry.stop_all(block=True, timeout=ASK_TIMEOUT)


class Mailbox:
    """A route target that records every message told to it; a batch message (NewWrites,
    WritesDone) is recorded as its items, which is what the tests reason about."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.batches: list[Any] = []  # the batch messages as told

    def __call__(self, message: Any) -> None:
        if isinstance(message, NewWrites | WritesDone):
            self.batches.append(message)
            self.messages.extend(message.writes if isinstance(message, NewWrites) else message.done)
        else:
            self.messages.append(message)

    def of(self, kind: type[T]) -> list[T]:
        return [m for m in self.messages if isinstance(m, kind)]

    def only(self, kind: type[T]) -> T:
        found = self.of(kind)
        assert len(found) == 1, f"expected one {kind.__name__}, got {self.messages!r}"
        return found[0]


# ---- a transport that records -------------------------------------------------------------


@dataclass
class Reply:
    inbound: Inbound
    data: dict[str, Any]
    clock: int | None = None


@dataclass
class Published:
    key: str
    topic: str
    message: dict[str, Any]
    clock: int | None


@dataclass
class SentRequest:
    call: Call
    on_done: Callable[[Response], None]
    answered: bool = False

    @property
    def endpoint(self) -> str:
        return self.call.endpoint

    @property
    def service(self) -> str:
        return self.call.service

    @property
    def data(self) -> dict[str, Any]:
        return self.call.data

    def complete(self, data: dict[str, Any] | None = None, rtt: float = 0.0) -> None:
        self._finish(Response(True, self.endpoint, self.service, dict(data or {}), rtt=rtt))

    def fail(self, error: str = "timeout") -> None:
        self._finish(Response(False, self.endpoint, self.service, error=error))

    def _finish(self, response: Response) -> None:
        assert not self.answered, f"{self.service} to {self.endpoint} already answered"
        self.answered = True
        self.on_done(response)


class FakeTransport:
    """Implements transport.port.Transport by recording every call."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.publishes: list[Published] = []
        self.requests: list[SentRequest] = []
        self.subscriptions: list[tuple[str, str, bool]] = []
        self.batches = 0  # send_batch calls

    def reply(self, inbound: Inbound, data: dict[str, Any]) -> None:
        self.replies.append(Reply(inbound, dict(data)))

    def publish(
        self, key: str, topic: str, message: dict[str, Any], clock: int | None = None
    ) -> None:
        self.publishes.append(Published(key, topic, message, clock))

    def send_batch(
        self, replies: list[tuple[Inbound, dict[str, Any]]], publications: list[Outgoing]
    ) -> None:
        self.batches += 1
        for inbound, data in replies:
            self.reply(inbound, data)
        for p in publications:
            self.publish(p.key, p.topic, p.message, p.clock)

    def request(self, call: Call, on_done: Callable[[Response], None]) -> None:
        self.requests.append(SentRequest(call, on_done))

    def subscribe(self, key: str, topic: str, on: bool = True) -> None:
        self.subscriptions.append((key, topic, on))

    # ---- queries ------------------------------------------------------------------------

    def sent(self, service: str, pending_only: bool = False) -> list[SentRequest]:
        return [
            r for r in self.requests if r.service == service and not (pending_only and r.answered)
        ]

    def replied(self, inbound: Inbound) -> bool:
        return any(r.inbound.token == inbound.token for r in self.replies)

    def reply_to(self, inbound: Inbound) -> Reply:
        """The one reply to `inbound` (a REQ client must get exactly one)."""
        found = [r for r in self.replies if r.inbound.token == inbound.token]
        assert len(found) == 1, f"expected one reply to {inbound.request.service}, got {found!r}"
        return found[0]

    def published_on(self, topic: str) -> list[Published]:
        return [p for p in self.publishes if p.topic == topic]


# ---- an in-process network ----------------------------------------------------------------


@dataclass
class _Call:
    src: str
    endpoint: str
    service: str
    on_done: Callable[[Response], None]
    sent_at: float
    done: bool = False


class NetTransport(FakeTransport):
    """A node's transport on a FakeNetwork: records like FakeTransport, and also sends."""

    def __init__(self, network: FakeNetwork, node: NetNode) -> None:
        super().__init__()
        self.network, self.node = network, node

    def reply(self, inbound: Inbound, data: dict[str, Any]) -> None:
        clock = self.node.lamport.tick()
        self.replies.append(Reply(inbound, dict(data), clock))
        self.network._post(
            self.node.name, lambda: self.network._reply(self.node, inbound, dict(data), clock)
        )

    def publish(
        self, key: str, topic: str, message: dict[str, Any], clock: int | None = None
    ) -> None:
        stamp = clock if clock is not None else self.node.lamport.tick()
        body = codec.stamped_publication(message, stamp)
        self.publishes.append(Published(key, topic, body, stamp))
        self.network._post(
            self.node.name, lambda: self.network._publish(self.node, topic, body, stamp)
        )

    def request(self, call: Call, on_done: Callable[[Response], None]) -> None:
        super().request(call, on_done)
        clock = self.node.lamport.tick()
        self.network._post(
            self.node.name, lambda: self.network._request(self.node, call, on_done, clock)
        )


class NetNode:
    """One process on the network: its clocks, transport, routes and actors."""

    def __init__(
        self, network: FakeNetwork, name: str, endpoint: str, clock: AdjustedClock | None
    ) -> None:
        self.network = network
        self.name = name
        self.endpoint = endpoint
        self.lamport = LamportClock()
        self.clock = clock or AdjustedClock()
        self.transport = NetTransport(network, self)
        self.routes = Routes(wrap=network._counted)  # every tell counts as network activity
        self.actors: dict[str, pykka.ActorRef] = {}
        self.graph: Any = None  # a server's ServerGraph, set by the test that starts one
        self.topics: set[str] = set()
        # What the node does with a request or publication that reaches it (set by the test).
        self.on_request: Callable[[Inbound], None] = lambda inbound: None
        self.on_publication: Callable[[Publication], None] = lambda publication: None

    def add(self, name: str, target: pykka.ActorRef | Callable[[Any], None]) -> Any:
        """Route `name` to an actor (or callable)."""
        if isinstance(target, pykka.ActorRef):
            self.actors[name] = target
        self.routes.add(name, target)
        return target

    def subscribe(self, *topics: str) -> None:
        self.topics.update(topics)

    def inbound(
        self, service: str, data: dict[str, Any] | None = None, clock: int = 0, key: str = "clients"
    ) -> Inbound:
        """A client's request arriving at this node (the pump merges its clock first)."""
        self.lamport.merge(clock)
        return make_inbound(service, data, clock, key)


class FakeNetwork:
    """Nodes joined by links that can be cut, lossy or slow; time is virtual.

    Transports post what actors send; `settle()` hands it over in a deterministic order
    (by node, then by sending actor) and repeats until no actor and no link has anything left
    to do. A request that gets no reply fails after timeout * (retries + 1) virtual seconds,
    as the pump's Lazy Pirate would. Unlike the pump, calls to one endpoint are not queued.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.scheduler = ManualScheduler(start)
        self.nodes: dict[str, NetNode] = {}
        self.activity = 0
        self._lock = threading.Lock()
        self._outbox: list[tuple[str, str, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._ready: deque[Callable[[], None]] = deque()
        self._calls: dict[int, _Call] = {}
        self._cut: set[frozenset[str]] = set()
        self._drops: dict[tuple[str, str], int] = {}
        self._delays: dict[tuple[str, str], float] = {}

    def now(self) -> float:
        return self.scheduler.now()

    def node(
        self, name: str, endpoint: str | None = None, clock: AdjustedClock | None = None
    ) -> NetNode:
        node = NetNode(self, name, endpoint or default_peer_endpoint(name), clock)
        self.nodes[name] = node
        return node

    # ---- faults -------------------------------------------------------------------------

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut every link between nodes of different groups."""
        sets = [set(g) for g in groups]
        for i, left in enumerate(sets):
            for right in sets[i + 1 :]:
                self._cut.update(frozenset((a, b)) for a in left for b in right)

    def heal(self) -> None:
        self._cut.clear()
        self._drops.clear()

    def drop(self, src: str, dst: str, count: int = 1) -> None:
        """Lose the next `count` messages from src to dst."""
        self._drops[(src, dst)] = count

    def delay(self, src: str, dst: str, seconds: float) -> None:
        self._delays[(src, dst)] = seconds

    def linked(self, a: str, b: str) -> bool:
        return a == b or frozenset((a, b)) not in self._cut

    # ---- running ------------------------------------------------------------------------

    def settle(self, max_rounds: int = 1000) -> None:
        """Deliver and let actors work until a whole round changes nothing."""
        for _ in range(max_rounds):
            before = self.activity
            for name in sorted(self.nodes):
                for ref in self.nodes[name].actors.values():
                    if ref.is_alive():
                        barrier(ref, ref)  # twice: lets an actor's tell-to-self run too
            with self._lock:
                batch = sorted(self._outbox, key=lambda item: item[:3])
                self._outbox.clear()
            for *_, thunk in batch:
                thunk()
            while self._ready:
                self._ready.popleft()()
            if self.activity == before:
                return
        raise AssertionError("the network did not settle")

    def advance(self, seconds: float, step: float = 0.05) -> None:
        """Move virtual time forward in steps, settling after each."""
        self.settle()
        steps = max(1, round(seconds / step))
        for _ in range(steps):
            self.scheduler.advance(seconds / steps)
            self.settle()

    def run_until(self, condition: Callable[[], bool], within: float, step: float = 0.05) -> float:
        """Advance until `condition()` holds; returns the virtual time it took."""
        start = self.now()
        self.settle()
        while not condition():
            if self.now() - start > within:
                raise AssertionError(f"condition not reached within {within}s virtual time")
            self.scheduler.advance(step)
            self.settle()
        return self.now() - start

    # ---- plumbing (thunks run in the test thread, in a deterministic order) -------------

    def _counted(self, tell: Callable[[Any], None]) -> Callable[[Any], None]:
        def counted(message: Any) -> None:
            with self._lock:
                self.activity += 1
            tell(message)

        return counted

    def _post(self, node: str, thunk: Callable[[], None]) -> None:
        # the sending actor's name, as every actor binds it for its log lines
        sender = structlog.contextvars.get_contextvars().get("actor", "")
        with self._lock:
            self.activity += 1
            self._outbox.append((node, sender, next(self._order), thunk))

    def _send(self, src: str, dst: str, arrive: Callable[[], None]) -> None:
        if not self.linked(src, dst):
            return
        dropped = self._drops.get((src, dst), 0)
        if dropped:
            self._drops[(src, dst)] = dropped - 1
            return
        delay = self._delays.get((src, dst), 0.0)
        if delay:
            self.scheduler.after(delay, lambda: self._arrive_late(src, dst, arrive))
        else:
            self._ready.append(arrive)

    def _arrive_late(self, src: str, dst: str, arrive: Callable[[], None]) -> None:
        if self.linked(src, dst):
            with self._lock:
                self.activity += 1
            arrive()

    def _finish(self, call: _Call, response: Response) -> None:
        if call.done:
            return
        call.done = True
        with self._lock:
            self.activity += 1
        call.on_done(response)

    def _request(
        self, src: NetNode, sent: Call, on_done: Callable[[Response], None], clock: int
    ) -> None:
        endpoint, service = sent.endpoint, sent.service
        call = _Call(src.name, endpoint, service, on_done, self.now())
        self.scheduler.after(
            sent.timeout * (sent.retries + 1),
            lambda: self._finish(call, Response(False, endpoint, service, error="timeout")),
        )
        dst = next((n for n in self.nodes.values() if n.endpoint == endpoint), None)
        if dst is None:
            return
        token = next(_tokens)

        def arrive() -> None:
            dst.lamport.merge(clock)
            self._calls[token] = call
            body = codec.stamped(sent.data, clock, src.clock.now())
            dst.on_request(Inbound("peer", token, codec.Request(service, body, clock)))

        self._send(src.name, dst.name, arrive)

    def _reply(self, node: NetNode, inbound: Inbound, data: dict[str, Any], clock: int) -> None:
        call = self._calls.pop(inbound.token, None)
        if call is None:
            return  # a client's request: the reply stays recorded on the node's transport
        body = codec.stamped(data, clock, node.clock.now())

        def arrive() -> None:
            self.nodes[call.src].lamport.merge(clock)
            self._finish(
                call,
                Response(True, call.endpoint, call.service, body, rtt=self.now() - call.sent_at),
            )

        self._send(node.name, call.src, arrive)

    def _publish(self, src: NetNode, topic: str, body: dict[str, Any], clock: int) -> None:
        for name in sorted(self.nodes):
            node = self.nodes[name]
            if not any(topic.startswith(t) for t in node.topics):
                continue

            def arrive(node: NetNode = node) -> None:
                node.lamport.merge(clock)
                node.on_publication(Publication("sub", topic, body))

            self._send(src.name, name, arrive)
