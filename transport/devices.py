"""Broker (ROUTER/DEALER) and proxy (XSUB/XPUB) devices, each in a thread that owns its
sockets, stoppable through zmq.proxy_steerable's control socket."""

from __future__ import annotations

import threading

import structlog
import zmq

from transport import sockets

log = structlog.get_logger()

KINDS = {"broker": (zmq.ROUTER, zmq.DEALER), "proxy": (zmq.XSUB, zmq.XPUB)}


class Device:
    def __init__(self, kind: str, front_bind: str, back_bind: str) -> None:
        self.kind = kind
        self.front_bind, self.back_bind = front_bind, back_bind
        self._ctx = zmq.Context()
        self._control_addr = f"inproc://{kind}-control-{id(self)}"
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name=kind, daemon=True)
        self._control: zmq.Socket | None = None  # owned by the thread that calls start/stop

    def start(self) -> Device:
        self._control = self._ctx.socket(zmq.PAIR)
        self._control.bind(self._control_addr)
        self._thread.start()
        self._ready.wait(5)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        front_kind, back_kind = KINDS[self.kind]
        owned = []
        try:
            front, back = self._ctx.socket(front_kind), self._ctx.socket(back_kind)
            control = self._ctx.socket(zmq.PAIR)
            owned = [front, back, control]
            for sock in (front, back):
                sockets.configure(sock)
            front.bind(self.front_bind)
            back.bind(self.back_bind)
            control.connect(self._control_addr)
        except zmq.ZMQError as exc:
            self._error = exc
            self._ready.set()
            for sock in owned:
                sock.close(0)
            return
        log.info("device_started", kind=self.kind, front=self.front_bind, back=self.back_bind)
        self._ready.set()
        try:
            zmq.proxy_steerable(front, back, None, control)
        except zmq.ContextTerminated:
            pass
        finally:
            for sock in owned:
                sock.close(0)
            log.info("device_stopped", kind=self.kind)

    def stop(self) -> None:
        if self._control is not None:
            self._control.send(b"TERMINATE")
            self._thread.join(5)
            self._control.close(0)
            self._control = None
        self._ctx.term()
