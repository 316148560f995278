"""The socket pump: the actor that owns every ZeroMQ socket of a process.

Other actors never touch a socket, nor this module: a role hands them a `Pump`, which is
their transport.port.Transport, and each of its calls tells the pump actor a typed command.
The pump actor's inbox (transport/pump_inbox.py) polls the sockets while it waits for
commands, so commands and socket events are handled in one loop, in the actor's thread; the
pump is started, pinged and stopped like every other actor (it is a BaseActor, the one thing
of actors/ it uses). Socket events come back to the actors as typed messages (`Inbound`,
`Publication`, `Response`) through callbacks that `tell` them.

The pump is also the one place where the Lamport rule lives: it merges the clock of
everything it receives, and ticks the clock for every request and reply it sends and every
publication it stamps. A publication that carries an event's clock goes out with that clock
unticked: the event was stamped when it was made, and every replica must see the same one.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pykka
import structlog
import zmq

from actors.base import BaseActor, Node, handles, teller
from transport import codec, sockets
from transport.keys import Curve
from transport.lazy_pirate import LazyPirate, Verdict
from transport.port import Call, Inbound, Outgoing, Publication, Response
from transport.pump_inbox import PumpInbox
from transport.zap import CLUSTER, ZapHandler

log = structlog.get_logger()
BURST = 100  # messages read from one socket per round; a REQ socket holds one reply
MAX_PENDING = 10_000  # requests handed to actors and not answered yet; more are shed at once
HANDLED_FIELDS = ("service", "status", "request_clock", "reply_clock", "latency_ms")
HANDLED_LOG_INTERVAL = 0.1  # seconds: the replies sent meanwhile are logged in one line
# Deadlines (2 s requests, calls' timeouts of 0.5 s and more) are checked at most this often,
# not at every round: a busy pump runs thousands of rounds a second.
DEADLINE_SCAN = 0.01


# ---- the commands the façade tells the pump actor ---------------------------------------


@dataclass(frozen=True)
class Serve:
    """A ROUTER socket answering requests; `hops` routing frames precede the delimiter
    (1 when peers connect directly, 2 behind the broker's DEALER)."""

    key: str
    endpoint: str
    bind: bool
    hops: int
    on_requests: Callable[[list[Inbound]], None]  # what one round read, in arrival order


@dataclass(frozen=True)
class OpenPublisher:
    key: str
    endpoint: str


@dataclass(frozen=True)
class OpenSubscriber:
    key: str
    endpoint: str
    topics: tuple[str, ...]
    on_publications: Callable[[list[Publication]], None]  # what one round read


@dataclass(frozen=True)
class Subscribe:
    key: str
    topic: str
    on: bool


@dataclass(frozen=True)
class Reply:
    inbound: Inbound
    data: dict[str, Any]


@dataclass(frozen=True)
class SendBatch:
    """Replies and publications of one batch, sent in one pump command."""

    replies: list[tuple[Inbound, dict[str, Any]]]
    publications: list[Outgoing]


@dataclass(frozen=True)
class Request:
    call: Call
    on_done: Callable[[Response], None]


@dataclass(frozen=True)
class Ready:
    """Answered, once every command told before is handled, with the first socket-setup
    error (or None)."""


# ---- the pump's own state ------------------------------------------------------------------


@dataclass
class _Call:
    call: Call
    on_done: Callable[[Response], None]
    pirate: LazyPirate | None = None
    payload: bytes = b""


@dataclass
class _Pending:
    key: str
    envelope: list[bytes]
    fmt: str
    service: str
    deadline: float
    clock: int = 0
    received: float = 0.0


@dataclass
class _Channel:
    endpoint: str
    socket: zmq.Socket | None = None
    calls: deque[_Call] = field(default_factory=deque)
    used: float = 0.0  # when the last call started


class PumpActor(BaseActor):
    actor_name = "pump"
    _ctx: zmq.Context

    @staticmethod
    def _create_actor_inbox() -> PumpInbox:
        # Pykka's private hook (see transport/pump_inbox.py and the test that pins it).
        return PumpInbox()

    def __init__(self, node: Node, curve: Curve | None = None) -> None:
        super().__init__(node)
        self._curve = curve
        self._zap: ZapHandler | None = None
        self.inbox = cast(PumpInbox, self.actor_inbox)
        self._named: dict[str, zmq.Socket] = {}
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._pending: dict[int, _Pending] = {}
        self._serving: dict[str, Serve] = {}
        self._tokens = itertools.count(1)
        self._setup_errors: list[zmq.ZMQError] = []
        self._last_round = time.monotonic()
        self._scanned = 0.0  # when deadlines were last checked
        self._shed = 0  # requests shed since the last `requests_shed` line
        self._arrived: dict[str, tuple[Serve, list[Inbound]]] = {}  # read this round
        self._heard: dict[str, tuple[OpenSubscriber, list[Publication]]] = {}  # this round
        self._handled: dict[str, list[list[Any]]] = {}  # replies sent since the last line
        self._handled_logged = 0.0  # when the last `requests_handled` lines were written

    def started(self) -> None:
        self._ctx = zmq.Context()
        self.inbox.on_round = self._check_deadlines
        self.inbox.after_reads = self._hand_over
        self.inbox.poll_ms = round(self.node.timing.pump_poll_interval * 1000)
        if self._curve is not None and self._curve.allowed:
            # ZAP answers handshakes in this thread, polled like any socket of the pump.
            self._zap = ZapHandler(self._ctx, self._curve.allowed)
            self.inbox.watch(self._zap.socket, self._zap.handle, BURST)

    def on_stop(self) -> None:
        self._log_handled(float("inf"))
        self.inbox.close()
        for channel in self._channels.values():
            if channel.socket is not None:
                channel.socket.close(0)
        for sock in self._named.values():
            sock.close(0)
        if self._zap is not None:
            self._zap.close()
        self._ctx.term()

    @handles(Ready)
    def _ready(self, _: Ready) -> zmq.ZMQError | None:
        return self._setup_errors[0] if self._setup_errors else None

    # ---- socket setup -------------------------------------------------------------------

    @handles(Serve)
    def _serve(self, command: Serve) -> None:
        sock = self._open(command.key, zmq.ROUTER, command.endpoint, command.bind)
        if sock is not None:
            self._serving[command.key] = command
            self.inbox.watch(sock, lambda frames: self._on_request(command, frames), BURST)

    @handles(OpenPublisher)
    def _publisher(self, command: OpenPublisher) -> None:
        self._open(command.key, zmq.PUB, command.endpoint)

    @handles(OpenSubscriber)
    def _subscriber(self, command: OpenSubscriber) -> None:
        sock = self._open(command.key, zmq.SUB, command.endpoint)
        if sock is not None:
            for topic in command.topics:
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
            self.inbox.watch(sock, lambda frames: self._on_publication(command, frames), BURST)

    @handles(Subscribe)
    def _subscribe(self, command: Subscribe) -> None:
        option = zmq.SUBSCRIBE if command.on else zmq.UNSUBSCRIBE
        self._named[command.key].setsockopt(option, command.topic.encode())

    def _open(self, key: str, kind: int, endpoint: str, bind: bool = False) -> zmq.Socket | None:
        try:
            sock = self._socket(kind, endpoint, bind)
        except zmq.ZMQError as exc:  # kept for Ready: the role decides what is fatal
            log.error("socket_setup_failed", socket=key, error=str(exc))
            self._setup_errors.append(exc)
            return None
        self._named[key] = sock
        return sock

    def _socket(self, kind: int, endpoint: str, bind: bool = False) -> zmq.Socket:
        """A socket bound or connected to `endpoint` (closed again if that fails: a socket
        left open would block the context's termination)."""
        sock = self._ctx.socket(kind)
        try:
            sockets.configure(sock)
            self._secure(sock, endpoint, bind)
            sock.bind(endpoint) if bind else sock.connect(endpoint)
        except zmq.ZMQError:
            sock.close(0)
            raise
        return sock

    def _secure(self, sock: zmq.Socket, endpoint: str, bind: bool) -> None:
        """Secure mode: what we bind takes allow-listed keys only; what we connect to is a
        CURVE server when its key is known, else plain (the proxy's XPUB)."""
        if self._curve is None:
            return
        if bind:
            sockets.curve_server(sock, self._curve.own, CLUSTER)
        elif (server := self._curve.server_key(endpoint)) is not None:
            sockets.curve_client(sock, self._curve.own, server)

    # ---- serving ------------------------------------------------------------------------

    def _on_request(self, serve: Serve, frames: list[bytes], refusal: str = "") -> None:
        """Hand a request to the actors, or answer it here: `refusal` (a backlog found after
        a pause), bytes that are no request, too many requests already in progress."""
        hops = serve.hops
        cut = hops + 1 if len(frames) > hops and frames[hops] == b"" else hops
        envelope, body = frames[:cut], frames[cut:]
        if not body:
            return
        token = next(self._tokens)
        now = time.monotonic()
        try:
            request = codec.decode_request(body[-1])
        except codec.DecodeError as exc:
            self.node.lamport.merge(exc.clock)
            self._pending[token] = _Pending(
                serve.key, envelope, exc.fmt, exc.service, 0.0, exc.clock, now
            )
            log.warning("request_rejected", reason=str(exc), size=len(body[-1]))
            self._send_reply(token, codec.error_data(str(exc)))
            return
        self.node.lamport.merge(request.clock)
        deadline = now + self.node.timing.request_deadline
        pending = _Pending(
            serve.key, envelope, request.fmt, request.service, deadline, request.clock, now
        )
        if not refusal and len(self._pending) >= MAX_PENDING:
            self._shed += 1
            refusal = "server busy: too many requests in progress; retry later"
        self._pending[token] = pending
        if refusal:
            self._send_reply(token, codec.error_data(refusal))
            return
        sender = envelope[hops - 1] if len(envelope) >= hops else b""
        arrived = self._arrived.setdefault(serve.key, (serve, []))[1]
        arrived.append(Inbound(serve.key, token, request, sender, now))

    def _hand_over(self) -> None:
        """What this round read goes to the actors as one batch per serving socket."""
        arrived, self._arrived = self._arrived, {}
        heard, self._heard = self._heard, {}
        batches = [(s.key, s.on_requests, i) for s, i in arrived.values()]
        batches += [(s.key, s.on_publications, p) for s, p in heard.values()]
        for key, hand, batch in batches:
            try:
                hand(batch)
            except Exception:
                log.exception("pump_handler_failed", socket=key)

    @handles(Reply)
    def _reply(self, command: Reply) -> None:
        self._send_reply(command.inbound.token, command.data)

    @handles(SendBatch)
    def _send_batch(self, command: SendBatch) -> None:
        for inbound, data in command.replies:
            self._send_reply(inbound.token, data)
        for publication in command.publications:
            self._publish(publication)

    def _send_reply(self, token: int, data: dict[str, Any]) -> None:
        pending = self._pending.pop(token, None)
        if pending is None:
            return  # already answered (late reply after the deadline reply)
        clock = self.node.lamport.tick()
        payload = codec.encode(pending.service, data, clock, self.node.clock.now(), pending.fmt)
        self._named[pending.key].send_multipart([*pending.envelope, payload])
        latency_ms = round((time.monotonic() - pending.received) * 1000, 3)
        handled = [pending.service, data.get("status"), pending.clock, clock, latency_ms]
        self._handled.setdefault(pending.key, []).append(handled)

    def _log_handled(self, now: float) -> None:
        """One line per socket for the replies sent in the last HANDLED_LOG_INTERVAL
        (ops.log_reader reads each entry as a `request_handled` event)."""
        if now - self._handled_logged < HANDLED_LOG_INTERVAL:
            return
        self._handled_logged = now
        handled, self._handled = self._handled, {}
        for key, replies in handled.items():
            log.info("requests_handled", socket=key, fields=HANDLED_FIELDS, replies=replies)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        self._log_handled(now)
        paused, self._last_round = now - self._last_round, now
        if paused > self.node.timing.request_deadline:
            self._refuse_backlog(paused)
        if self._shed:
            log.warning("requests_shed", count=self._shed, pending=len(self._pending))
            self._shed = 0
        if now - self._scanned < DEADLINE_SCAN:
            return
        self._scanned = now
        late = [t for t, p in self._pending.items() if p.deadline and p.deadline <= now]
        for token in late:
            log.warning("request_deadline_missed", service=self._pending[token].service)
            self._send_reply(token, codec.error_data("server busy: no answer in time, retry"))
        self._check_calls(now)

    def _refuse_backlog(self, paused: float) -> None:
        """This process did not run for `paused` seconds (stopped, or starved): the client
        requests queued meanwhile are stale (their clients have retried, maybe on another
        replica, which may have stored them), so they are refused, not served."""
        log.warning("pump_paused", seconds=round(paused, 3))
        text = f"this server did not run for {paused:.1f}s; retry"
        for serve in self._serving.values():
            if serve.hops < 2:  # server-to-server requests are idempotent: serve them
                continue
            sock = self._named[serve.key]
            for _ in range(MAX_PENDING):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._on_request(serve, frames, refusal=text)

    # ---- publications -------------------------------------------------------------------

    @handles(Outgoing)
    def _publish(self, command: Outgoing) -> None:
        stamp = command.clock if command.clock is not None else self.node.lamport.tick()
        body = codec.stamped_publication(command.message, stamp)
        self._named[command.key].send_multipart([command.topic.encode(), codec.pack(body)])

    def _on_publication(self, subscriber: OpenSubscriber, frames: list[bytes]) -> None:
        split = codec.split_publication(frames)
        if split is None:
            return
        topic, payload = split
        try:
            message, _ = codec.unpack(payload)
        except codec.DecodeError:
            return
        if not isinstance(message, dict):
            return
        self.node.lamport.merge(codec.clock_of(message))
        heard = self._heard.setdefault(subscriber.key, (subscriber, []))[1]
        heard.append(Publication(subscriber.key, topic, message))

    # ---- outgoing requests (Lazy Pirate, one REQ socket per endpoint and lane) ----------

    @handles(Request)
    def _request(self, command: Request) -> None:
        key = (command.call.endpoint, command.call.lane)
        channel = self._channels.setdefault(key, _Channel(command.call.endpoint))
        channel.calls.append(_Call(command.call, command.on_done))
        if len(channel.calls) == 1:
            self._send_call(channel)

    def _close_channel(self, key: tuple[str, str], channel: _Channel) -> None:
        if channel.socket is not None:
            self.inbox.unwatch(channel.socket)
            channel.socket.close(0)
        del self._channels[key]

    def _reopen(self, channel: _Channel) -> zmq.Socket:
        if channel.socket is not None:
            self.inbox.unwatch(channel.socket)
            channel.socket.close(0)
        sock = self._socket(zmq.REQ, channel.endpoint)
        self.inbox.watch(sock, lambda frames: self._on_call_reply(channel, frames), 1)
        channel.socket = sock
        return sock

    def _send_call(self, channel: _Channel) -> None:
        call = channel.calls[0]
        channel.used = time.monotonic()
        try:
            sock = channel.socket or self._reopen(channel)
        except zmq.ZMQError as exc:  # an endpoint ZeroMQ refuses: this call fails, no other
            log.warning("call_failed", endpoint=channel.endpoint, error=str(exc))
            self._finish_call(channel, False, {}, f"cannot connect: {exc}")
            return
        call.payload = codec.encode(
            call.call.service, call.call.data, self.node.lamport.tick(), self.node.clock.now()
        )
        call.pirate = LazyPirate(call.call.timeout, call.call.retries, time.monotonic())
        sock.send(call.payload)

    def _finish_call(self, channel: _Channel, ok: bool, data: dict[str, Any], error: str) -> None:
        call = channel.calls.popleft()
        rtt = time.monotonic() - call.pirate.sent_at if call.pirate else 0.0
        try:
            call.on_done(Response(ok, channel.endpoint, call.call.service, data, error, rtt))
        except Exception:
            log.exception("call_callback_failed", service=call.call.service)
        if channel.calls:
            self._send_call(channel)

    def _on_call_reply(self, channel: _Channel, frames: list[bytes]) -> None:
        if not channel.calls:
            return
        try:
            message, _ = codec.unpack(frames[-1])
        except codec.DecodeError:
            message = None
        if not isinstance(message, dict):
            self._finish_call(channel, False, {}, "bad reply")
            return
        self.node.lamport.merge(codec.clock_of(message))
        self._finish_call(channel, True, codec.reply_data(message), "")

    def _check_calls(self, now: float) -> None:
        for key, channel in list(self._channels.items()):
            if not channel.calls:
                if now - channel.used > self.node.timing.idle_peer_socket:
                    self._close_channel(key, channel)
                continue
            if channel.calls[0].pirate is None:
                continue
            verdict = channel.calls[0].pirate.check(now)
            if verdict is Verdict.RESEND:
                self._reopen(channel).send(channel.calls[0].payload)
            elif verdict is Verdict.GIVE_UP:
                self._reopen(channel)
                self._finish_call(channel, False, {}, "timeout")


class Pump:
    """What a role holds of its pump: the Transport its actors use, the setup calls of the
    role itself, and the actor's ref (`ref`, stopped like any actor's)."""

    def __init__(self, ref: pykka.ActorRef) -> None:
        self.ref = ref
        # Once the pump has stopped the process is stopping: commands are dropped, as a
        # closed socket would drop them.
        self._tell = teller(ref)

    @classmethod
    def start(cls, node: Node, curve: Curve | None = None) -> Pump:
        """A pump; with `curve`, in secure mode (transport/keys.py)."""
        return cls(PumpActor.start(node, curve))

    def ready(self, timeout: float = 5.0) -> None:
        """Wait until every socket asked for so far is set up; raise the first failure."""
        try:
            error = self.ref.ask(Ready(), timeout=timeout)
        except pykka.Timeout as exc:
            raise RuntimeError("the socket pump is not responding") from exc
        if error is not None:
            raise error

    def stop(self, timeout: float = 5.0) -> None:
        self.ref.stop(block=True, timeout=timeout)

    # ---- setup (the role) ---------------------------------------------------------------

    def serve(
        self, key: str, endpoint: str, bind: bool, hops: int, on_request: Callable[[Inbound], None]
    ) -> None:
        """Hand each request `key` receives to `on_request`."""
        self.serve_batches(key, endpoint, bind, hops, lambda batch: [*map(on_request, batch)])

    def serve_batches(
        self,
        key: str,
        endpoint: str,
        bind: bool,
        hops: int,
        on_requests: Callable[[list[Inbound]], None],
    ) -> None:
        """Hand what `key` receives in one round of the pump to `on_requests` as one list."""
        self._tell(Serve(key, endpoint, bind, hops, on_requests))

    def publisher(self, key: str, endpoint: str) -> None:
        self._tell(OpenPublisher(key, endpoint))

    def subscriber(
        self,
        key: str,
        endpoint: str,
        topics: list[str],
        on_publication: Callable[[Publication], None],
    ) -> None:
        """Hand each publication `key` receives on `topics` to `on_publication`."""
        self.subscriber_batches(key, endpoint, topics, lambda b: [*map(on_publication, b)])

    def subscriber_batches(
        self,
        key: str,
        endpoint: str,
        topics: list[str],
        on_publications: Callable[[list[Publication]], None],
    ) -> None:
        """Hand what `key` receives in one round of the pump to `on_publications`."""
        self._tell(OpenSubscriber(key, endpoint, tuple(topics), on_publications))

    # ---- transport.port.Transport (the actors) ------------------------------------------

    def subscribe(self, key: str, topic: str, on: bool = True) -> None:
        self._tell(Subscribe(key, topic, on))

    def reply(self, inbound: Inbound, data: dict[str, Any]) -> None:
        self._tell(Reply(inbound, data))

    def send_batch(
        self, replies: list[tuple[Inbound, dict[str, Any]]], publications: list[Outgoing]
    ) -> None:
        self._tell(SendBatch(replies, publications))

    def publish(
        self, key: str, topic: str, message: dict[str, Any], clock: int | None = None
    ) -> None:
        self._tell(Outgoing(key, topic, message, clock))

    def request(self, call: Call, on_done: Callable[[Response], None]) -> None:
        """Send `call` with retries; `on_done` gets the Response (in the pump's thread, so
        it must only hand over)."""
        self._tell(Request(call, on_done))
