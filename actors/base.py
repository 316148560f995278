"""Base actor: typed dispatch, per-message error containment, log context, readiness ping.

In Pykka an exception raised while handling a *told* message stops the actor for good; a
chat server must survive any single bad message, so every handler runs inside a guard.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka
import structlog

from config.clocks import AdjustedClock, LamportClock
from config.logging import bind_node
from config.timing import DEFAULT_TIMING, Timing
from transport.port import Call, Response, Transport


@dataclass(frozen=True)
class Ping:
    """Answered by every actor; `ask(Ping())` is a barrier (mailboxes are FIFO)."""


@dataclass
class Node:
    """What every actor of one process shares: identity, clocks and timings."""

    role: str
    name: str
    lamport: LamportClock = field(default_factory=LamportClock)
    clock: AdjustedClock = field(default_factory=AdjustedClock)
    timing: Timing = DEFAULT_TIMING


def handles(*types: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark an actor method as the handler of the given message types."""

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        method._handles = types  # type: ignore[attr-defined]
        return method

    return mark


class BaseActor(pykka.ThreadingActor):
    actor_name = "actor"
    _dispatch: dict[type, str] = {}
    transport: Transport  # set by the actors that talk to other processes

    @staticmethod
    def _create_actor_inbox() -> queue.SimpleQueue:
        # The C SimpleQueue hands a message over with far fewer lock round trips than
        # queue.Queue; the actor loop only needs put, get and empty. A Pykka private hook:
        # tests/actors/test_inboxes.py pins the behaviour this relies on.
        return queue.SimpleQueue()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for message_type in getattr(value, "_handles", ()):
                    table[message_type] = attr
        cls._dispatch = table

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node
        self.log = structlog.get_logger()

    def on_start(self) -> None:
        bind_node(self.node.role, self.node.name, self.node.lamport, actor=self.actor_name)
        self.log = structlog.get_logger()
        self.started()

    def started(self) -> None:
        """Hook run in the actor's own thread once it starts."""

    def after_message(self) -> None:
        """Hook run after each message (an actor that batches its output sends it here)."""

    def call(self, call: Call, answer: Callable[[Response], Any]) -> None:
        """Send `call` through the transport; its Response comes back to this actor as the
        typed message `answer(response)`, handled like any other message."""
        tell = teller(self.actor_ref)
        self.transport.request(call, lambda response: tell(answer(response)))

    def on_receive(self, message: Any) -> Any:
        try:
            return self._handle(message)
        finally:
            try:
                self.after_message()
            except Exception:
                self.log.exception("actor_flush_failed", message_type=type(message).__name__)

    def _handle(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return True
        name = self._dispatch.get(type(message))
        if name is None:
            self.log.warning("actor_message_unhandled", message_type=type(message).__name__)
            return None
        try:
            return getattr(self, name)(message)
        except Exception:
            self.log.exception("actor_message_failed", message_type=type(message).__name__)
            return None


def teller(ref: pykka.ActorRef) -> Callable[[Any], None]:
    """A callback that tells `ref`, silently dropping messages once the actor has stopped."""

    def tell(message: Any) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            ref.tell(message)

    return tell
