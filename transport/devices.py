"""Broker (ROUTER/DEALER) and proxy (XSUB/XPUB) devices, each in a thread that owns its
sockets, stoppable through zmq.proxy_steerable's control socket.

In secure mode (`keys` given) the side the servers connect to (broker backend, proxy XSUB)
takes only allow-listed CURVE keys; the client side stays plain for every team's clients. The
broker may also bind its frontend ROUTER a second time, as a CURVE server for any key
(`secure_front_bind`): ZeroMQ applies security options per bind, so one socket serves both.
"""

from __future__ import annotations

import threading

import structlog
import zmq

from transport import sockets
from transport.keys import ClusterKeys
from transport.zap import CLIENTS, CLUSTER, ZapThread

log = structlog.get_logger()

# kind -> (front socket, back socket, the side servers connect to: secured in secure mode)
KINDS = {"broker": (zmq.ROUTER, zmq.DEALER, "back"), "proxy": (zmq.XSUB, zmq.XPUB, "front")}


class Device:
    def __init__(
        self,
        kind: str,
        front_bind: str,
        back_bind: str,
        keys: ClusterKeys | None = None,
        secure_front_bind: str = "",
    ) -> None:
        self.kind = kind
        self.front_bind, self.back_bind = front_bind, back_bind
        self.secure_front_bind = secure_front_bind if keys is not None else ""
        self._own = keys.pair(kind) if keys is not None else None  # a bad key fails here
        self._ctx = zmq.Context()
        # The devices' thread sits in zmq.proxy_steerable: ZAP gets a thread of its own.
        self._zap = ZapThread(self._ctx, keys.allowed()) if keys is not None else None
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
        front_kind, back_kind, internal = KINDS[self.kind]
        owned = []
        try:
            front, back = self._ctx.socket(front_kind), self._ctx.socket(back_kind)
            control = self._ctx.socket(zmq.PAIR)
            owned = [front, back, control]
            for sock in (front, back):
                sockets.configure(sock)
            if self._own is not None:
                sockets.curve_server(back if internal == "back" else front, self._own, CLUSTER)
            front.bind(self.front_bind)
            back.bind(self.back_bind)
            if self._own is not None and self.secure_front_bind:
                sockets.curve_server(front, self._own, CLIENTS)
                front.bind(self.secure_front_bind)
            control.connect(self._control_addr)
        except zmq.ZMQError as exc:
            self._error = exc
            self._ready.set()
            for sock in owned:
                sock.close(0)
            return
        log.info(
            "device_started",
            kind=self.kind,
            front=self.front_bind,
            back=self.back_bind,
            secure=self._own is not None,
            secure_front=self.secure_front_bind,
        )
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
        if self._zap is not None:
            self._zap.stop()
        self._ctx.term()
