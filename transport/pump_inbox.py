"""The socket pump's Pykka inbox: waiting for a message is also waiting for the sockets.

Pykka's actor loop calls `get()` in the actor's thread for every message. Here `get()` polls
the watched ZeroMQ sockets and a wake-up pipe together, handles the readable sockets inline
(still in the actor's thread), runs the round hook (deadline checks), and returns once a
message is queued. `put()` queues and writes one wake-up byte only when the loop may be
asleep in the poll, so a burst of commands costs one byte, not one per command.

This relies on Pykka 4's actor loop taking every envelope from the object returned by
`_create_actor_inbox()`, in the actor's thread, and draining it with `empty()`/`get()` after
the actor stopped: tests/actors/test_inboxes.py pins that behaviour.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
import zmq

log = structlog.get_logger()


class PumpInbox:
    """A Pykka inbox (put/get/empty) that also polls sockets; `get()` runs in the actor."""

    poll_ms = 50  # the longest wait between two rounds (the pump sets its Timing's)

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._batch: deque[Any] = deque()  # taken from the queue, not yet handed to Pykka
        # True: the loop may be about to block in the poll, so a put must write a wake-up
        # byte. A plain attribute is enough: False means a put wrote a byte since the loop
        # last set it, and the loop sets it and looks at the queue again before it blocks.
        self._asleep = True
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._pipe_lock = threading.Lock()  # a put never writes to a closed (reused) fd
        self._closed = False
        self._poller = zmq.Poller()
        self._poller.register(self._wake_r, zmq.POLLIN)
        self._readers: dict[zmq.Socket, tuple[Callable[[list[bytes]], None], int]] = {}
        self._readable: list[zmq.Socket] = []  # found by the last poll, read next round
        self.on_round: Callable[[], None] = lambda: None
        self.after_reads: Callable[[], None] = lambda: None  # the round's reads are done

    # ---- Pykka's inbox protocol ---------------------------------------------------------

    def put(self, envelope: Any, /) -> None:
        self._queue.put(envelope)
        if self._asleep:
            self._asleep = False
            with self._pipe_lock:
                if not self._closed:
                    with contextlib.suppress(BlockingIOError):  # a full pipe wakes it anyway
                        os.write(self._wake_w, b"x")

    def get(self) -> Any:
        while not self._batch:
            if self._closed:  # Pykka's teardown: it asks only after empty() said no
                return self._queue.get_nowait()
            try:
                self._round()
            except Exception:  # raised out of get(), it would end the actor's thread
                log.exception("pump_round_failed")
        return self._batch.popleft()

    def empty(self) -> bool:
        return not self._batch and self._queue.empty()

    # ---- sockets (actor thread) ---------------------------------------------------------

    def watch(self, sock: zmq.Socket, reader: Callable[[list[bytes]], None], burst: int) -> None:
        """Call `reader` with each message `sock` receives, at most `burst` per round (so one
        busy socket cannot starve the others)."""
        self._readers[sock] = (reader, burst)
        self._poller.register(sock, zmq.POLLIN)

    def unwatch(self, sock: zmq.Socket) -> None:
        if self._readers.pop(sock, None) is not None:
            self._poller.unregister(sock)

    def close(self) -> None:
        """Stop polling (the owner closes its sockets); later puts only queue."""
        self._readers.clear()
        self._readable.clear()
        with self._pipe_lock:
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    # ---- one round: readable sockets, the round hook, the poll, queued messages ----------

    def _round(self) -> None:
        # The sockets the last poll found readable are read only now, after the messages
        # taken with that poll were handled: each send releases the GIL, and sending before
        # reading keeps the actors that the reads wake from taking it at every send (measured
        # in the README's note on the pump).
        self.on_round()  # first: after a pause it must see the backlog before it is read
        readable, self._readable = self._readable, []
        for sock in readable:
            self._read(sock)
        if readable:
            self.after_reads()
        self._asleep = True  # from here on a put writes a byte: the poll below cannot miss it
        self._take_queued()
        for sock, _ in self._poller.poll(0 if self._batch else self.poll_ms):
            if sock == self._wake_r:
                self._drain_pipe()
            else:
                self._readable.append(sock)
        self._take_queued()  # what woke the poll: no second poll for it

    def _take_queued(self) -> None:
        queued = self._queue
        while not queued.empty():  # one consumer: not empty means get_nowait succeeds
            self._batch.append(queued.get_nowait())

    def _drain_pipe(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while len(os.read(self._wake_r, 4096)) == 4096:  # a short read emptied it
                pass

    def _read(self, sock: zmq.Socket) -> None:
        watched = self._readers.get(sock)
        if watched is None:  # unwatched since the poll (a REQ socket reopened)
            return
        reader, burst = watched
        for n in range(burst):
            # Asking the socket is far cheaper than the zmq.Again a recv on an empty socket
            # raises (pyzmq builds an exception object each time); the poll vouched for the
            # first message.
            if n and not sock.get(zmq.EVENTS) & zmq.POLLIN:
                return
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                log.exception("pump_receive_failed")
                return
            try:
                reader(frames)
            except Exception:
                log.exception("pump_handler_failed")
