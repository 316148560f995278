"""The socket pump: the one thread that owns every ZeroMQ socket of a process.

Actors never touch a socket. They hand the pump commands through a thread-safe queue (a pipe
wakes its poller) and receive typed messages back through callbacks that `tell` them. The
pump is also the one place where the Lamport rule lives: it merges the clock of everything it
receives and ticks the clock for everything it sends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
import zmq

from config.clocks import AdjustedClock, LamportClock
from config.logging import bind_node
from transport import codec
from transport.lazy_pirate import LazyPirate, Verdict
from transport.port import Call, Inbound, Publication, Response

log = structlog.get_logger()
POLL_MS = 50  # how often deadlines are checked


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


class Pump:
    def __init__(
        self,
        role: str,
        node: str,
        lamport: LamportClock,
        clock: AdjustedClock | None = None,
        request_deadline: float = 2.0,
    ) -> None:
        self.role, self.node = role, node
        self.lamport = lamport
        self.clock = clock or AdjustedClock()
        self.request_deadline = request_deadline
        self._ctx = zmq.Context()
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._asleep = threading.Event()  # set: the pump may be blocked in poll
        self._asleep.set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller = zmq.Poller()
        self._poller.register(self._wake_r, zmq.POLLIN)
        self._handlers: dict[zmq.Socket, Callable[[list[bytes]], None]] = {}
        self._named: dict[str, zmq.Socket] = {}
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._pending: dict[int, _Pending] = {}
        self._tokens = itertools.count(1)
        self._running = True
        self._setup_errors: list[zmq.ZMQError] = []
        self._thread = threading.Thread(target=self._run, name=f"pump-{node}", daemon=True)

    # ---- lifecycle --------------------------------------------------------------------

    def start(self) -> Pump:
        """Start the pump thread once the sockets asked for so far are set up (raises if
        one could not be, e.g. a port already in use)."""
        self._thread.start()
        self.ready()
        return self

    def ready(self, timeout: float = 5.0) -> None:
        """Wait until every socket asked for so far is set up; raise the first failure."""
        done = threading.Event()
        self._submit(done.set)
        if not done.wait(timeout):
            raise RuntimeError(f"socket pump of {self.node} is not responding")
        if self._setup_errors:
            raise self._setup_errors[0]

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.ident is None:  # never started: no socket was ever opened
            self._ctx.term()
            return
        self._submit(self._halt)
        self._thread.join(timeout)

    def _halt(self) -> None:
        self._running = False

    # ---- commands (thread-safe) -------------------------------------------------------

    def _submit(self, command: Callable[[], None]) -> None:
        self._commands.put(command)
        if self._asleep.is_set():  # one wake-up byte per batch of commands, not per command
            self._asleep.clear()
            with contextlib.suppress(BlockingIOError):  # a full pipe: the pump is awake
                os.write(self._wake_w, b"x")

    def serve(
        self, key: str, endpoint: str, bind: bool, hops: int, on_request: Callable[[Inbound], None]
    ) -> None:
        """A ROUTER socket answering requests; `hops` routing frames precede the delimiter
        (1 when peers connect directly, 2 behind the broker's DEALER)."""
        self._open(lambda: self._open_router(key, endpoint, bind, hops, on_request))

    def publisher(self, key: str, endpoint: str) -> None:
        self._open(lambda: self._open_pub(key, endpoint))

    def subscriber(
        self,
        key: str,
        endpoint: str,
        topics: list[str],
        on_publication: Callable[[Publication], None],
    ) -> None:
        self._open(lambda: self._open_sub(key, endpoint, topics, on_publication))

    def subscribe(self, key: str, topic: str, on: bool = True) -> None:
        option = zmq.SUBSCRIBE if on else zmq.UNSUBSCRIBE
        self._submit(lambda: self._named[key].setsockopt(option, topic.encode()))

    def reply(self, inbound: Inbound, data: dict[str, Any]) -> None:
        self._submit(lambda: self._send_reply(inbound.token, data))

    def publish(
        self, key: str, topic: str, message: dict[str, Any], clock: int | None = None
    ) -> None:
        self._submit(lambda: self._send_publication(key, topic, message, clock))

    def request(self, call: Call, on_done: Callable[[Response], None]) -> None:
        """Send `call` with retries; `on_done` gets the Response (on the pump thread, so it
        must only hand over)."""
        pending = _Call(call, on_done)
        self._submit(lambda: self._enqueue_call(pending))

    # ---- socket setup (pump thread) ---------------------------------------------------

    def _open(self, opener: Callable[[], None]) -> None:
        def run() -> None:
            try:
                opener()
            except zmq.ZMQError as exc:  # kept for ready(): the owner decides what is fatal
                log.error("socket_setup_failed", error=str(exc))
                self._setup_errors.append(exc)

        self._submit(run)

    def _socket(self, kind: int, endpoint: str, bind: bool = False) -> zmq.Socket:
        """A socket bound or connected to `endpoint` (closed again if that fails: a socket
        left open would block the context's termination)."""
        sock = self._ctx.socket(kind)
        try:
            self._configure(sock)
            sock.bind(endpoint) if bind else sock.connect(endpoint)
        except zmq.ZMQError:
            sock.close(0)
            raise
        return sock

    @staticmethod
    def _configure(sock: zmq.Socket) -> None:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)

    def _register(
        self, key: str, sock: zmq.Socket, handler: Callable[[list[bytes]], None] | None
    ) -> None:
        self._named[key] = sock
        if handler is not None:
            self._handlers[sock] = handler
            self._poller.register(sock, zmq.POLLIN)

    def _open_router(
        self, key: str, endpoint: str, bind: bool, hops: int, on_request: Callable[[Inbound], None]
    ) -> None:
        sock = self._socket(zmq.ROUTER, endpoint, bind)
        self._register(key, sock, lambda frames: self._on_request(key, hops, frames, on_request))

    def _open_pub(self, key: str, endpoint: str) -> None:
        sock = self._socket(zmq.PUB, endpoint)
        self._register(key, sock, None)

    def _open_sub(
        self,
        key: str,
        endpoint: str,
        topics: list[str],
        on_publication: Callable[[Publication], None],
    ) -> None:
        sock = self._socket(zmq.SUB, endpoint)
        for topic in topics:
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._register(key, sock, lambda frames: self._on_publication(key, frames, on_publication))

    # ---- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        bind_node(self.role, self.node, self.lamport, actor="pump")
        try:
            while self._running:
                for sock, _ in self._poller.poll(POLL_MS):
                    if sock == self._wake_r:
                        self._drain_commands()
                    else:
                        self._read(sock)
                self._check_deadlines()
        finally:
            self._close_all()

    def _drain_commands(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        self._asleep.set()  # before draining: a command put after this point writes a byte
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command()
            except Exception:
                log.exception("pump_command_failed")

    def _read(self, sock: zmq.Socket) -> None:
        handler = self._handlers.get(sock)
        # Bounded so one busy socket cannot starve the others; a REQ socket holds one reply.
        for _ in range(1 if sock.type == zmq.REQ else 100):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                log.exception("pump_receive_failed")
                return
            if handler is None:
                return
            try:
                handler(frames)
            except Exception:
                log.exception("pump_handler_failed")

    def _close_all(self) -> None:
        for channel in self._channels.values():
            if channel.socket is not None:
                channel.socket.close(0)
        for sock in self._named.values():
            sock.close(0)
        self._ctx.term()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # ---- serving ----------------------------------------------------------------------

    def _on_request(
        self, key: str, hops: int, frames: list[bytes], on_request: Callable[[Inbound], None]
    ) -> None:
        cut = hops + 1 if len(frames) > hops and frames[hops] == b"" else hops
        envelope, body = frames[:cut], frames[cut:]
        if not body:
            return
        token = next(self._tokens)
        try:
            request = codec.decode_request(body[-1])
        except codec.DecodeError as exc:
            self._pending[token] = _Pending(
                key, envelope, codec.MSGPACK, "unknown", 0.0, received=time.monotonic()
            )
            log.warning("request_rejected", reason=str(exc), size=len(body[-1]))
            self._send_reply(token, codec.error_data(str(exc)))
            return
        self.lamport.merge(request.clock)
        now = time.monotonic()
        self._pending[token] = _Pending(
            key,
            envelope,
            request.fmt,
            request.service,
            now + self.request_deadline,
            request.clock,
            now,
        )
        on_request(Inbound(key, token, request))

    def _send_reply(self, token: int, data: dict[str, Any]) -> None:
        pending = self._pending.pop(token, None)
        if pending is None:
            return  # already answered (late reply after the deadline reply)
        clock = self.lamport.tick()
        payload = codec.encode(pending.service, data, clock, self.clock.now(), pending.fmt)
        self._named[pending.key].send_multipart([*pending.envelope, payload])
        log.info(
            "request_handled",
            socket=pending.key,
            service=pending.service,
            status=data.get("status"),
            request_clock=pending.clock,
            reply_clock=clock,
            latency_ms=round((time.monotonic() - pending.received) * 1000, 3),
        )

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        late = [t for t, p in self._pending.items() if p.deadline and p.deadline <= now]
        for token in late:
            log.warning("request_deadline_missed", service=self._pending[token].service)
            self._send_reply(token, codec.error_data("server busy: no answer in time, retry"))
        self._check_calls(now)

    # ---- publications -----------------------------------------------------------------

    def _send_publication(
        self, key: str, topic: str, message: dict[str, Any], clock: int | None
    ) -> None:
        stamp = clock if clock is not None else self.lamport.tick()
        body = codec.stamped_publication(message, stamp)
        self._named[key].send_multipart([topic.encode(), codec.pack(body)])

    def _on_publication(
        self, key: str, frames: list[bytes], on_publication: Callable[[Publication], None]
    ) -> None:
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
        self.lamport.merge(codec.clock_of(message))
        on_publication(Publication(key, topic, message))

    # ---- outgoing requests (Lazy Pirate, one REQ socket per endpoint and lane) --------

    def _enqueue_call(self, call: _Call) -> None:
        key = (call.call.endpoint, call.call.lane)
        channel = self._channels.setdefault(key, _Channel(call.call.endpoint))
        channel.calls.append(call)
        if len(channel.calls) == 1:
            self._send_call(channel)

    def _reopen(self, channel: _Channel) -> zmq.Socket:
        if channel.socket is not None:
            self._poller.unregister(channel.socket)
            self._handlers.pop(channel.socket, None)
            channel.socket.close(0)
        sock = self._socket(zmq.REQ, channel.endpoint)
        self._handlers[sock] = lambda frames: self._on_call_reply(channel, frames)
        self._poller.register(sock, zmq.POLLIN)
        channel.socket = sock
        return sock

    def _send_call(self, channel: _Channel) -> None:
        call = channel.calls[0]
        sock = channel.socket or self._reopen(channel)
        call.payload = codec.encode(
            call.call.service, call.call.data, self.lamport.tick(), self.clock.now()
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
        self.lamport.merge(codec.clock_of(message))
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        self._finish_call(channel, True, data, "")

    def _check_calls(self, now: float) -> None:
        for channel in list(self._channels.values()):
            if not channel.calls or channel.calls[0].pirate is None:
                continue
            verdict = channel.calls[0].pirate.check(now)
            if verdict is Verdict.RESEND:
                self._reopen(channel).send(channel.calls[0].payload)
            elif verdict is Verdict.GIVE_UP:
                self._reopen(channel)
                self._finish_call(channel, False, {}, "timeout")
