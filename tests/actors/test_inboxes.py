"""Pins the Pykka behaviour the custom actor inboxes rely on (written against Pykka 4.5).

BaseActor swaps Pykka's queue.Queue for a SimpleQueue and the pump actor for a PumpInbox that
polls its sockets while it waits, both through Pykka's private `_create_actor_inbox()`. That
works only while Pykka's actor loop takes every envelope from the object that hook returned,
in the actor's own thread, and after the actor stopped drains it with `empty()` and `get()`
(failing what was left). If a Pykka release changes any of that, these tests fail.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from actors.base import BaseActor, Node, Ping, handles
from tests.fakes import stop_all_actors
from transport.pump import PumpActor
from transport.pump_inbox import PumpInbox


@pytest.fixture(autouse=True)
def _stop_actors() -> Iterator[None]:
    yield
    stop_all_actors()


@dataclass(frozen=True)
class Hold:
    """Keeps the actor busy until `release` is set, so messages pile up behind it."""

    release: threading.Event


class Recording:
    """Inbox mixin that records which method ran in which thread."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def _note(self, method: str) -> None:
        self.calls.append((method, threading.current_thread().name))

    def put(self, envelope: Any, /) -> None:
        self._note("put")
        super().put(envelope)  # type: ignore[misc]

    def get(self) -> Any:
        self._note("get")
        return super().get()  # type: ignore[misc]

    def empty(self) -> bool:
        self._note("empty")
        return super().empty()  # type: ignore[misc]


class RecordingQueue(Recording, queue.SimpleQueue):
    pass


class RecordingPumpInbox(Recording, PumpInbox):
    pass


class Holds:
    """Handles Hold, and notes the actor's thread when it starts."""

    @handles(Hold)
    def _hold(self, message: Hold) -> None:
        message.release.wait(5)

    def started(self) -> None:
        super().started()  # type: ignore[misc]
        self.thread = threading.current_thread().name


class HoldingActor(Holds, BaseActor):
    @staticmethod
    def _create_actor_inbox() -> RecordingQueue:
        return RecordingQueue()


class HoldingPump(Holds, PumpActor):
    @staticmethod
    def _create_actor_inbox() -> RecordingPumpInbox:
        return RecordingPumpInbox()


@pytest.mark.parametrize(
    ("actor_class", "inbox_class"), [(BaseActor, queue.SimpleQueue), (PumpActor, PumpInbox)]
)
def test_each_actor_gets_the_inbox_its_hook_creates(actor_class: type, inbox_class: type) -> None:
    ref = actor_class.start(Node("test", "n1"))
    assert type(ref.actor_inbox) is inbox_class
    assert ref.ask(Ping(), timeout=5) is True


@pytest.mark.parametrize("actor_class", [HoldingActor, HoldingPump])
def test_the_loop_uses_only_that_inbox_in_the_actor_thread_and_drains_it_at_stop(
    actor_class: type,
) -> None:
    ref = actor_class.start(Node("test", "n1"))
    inbox = ref.actor_inbox
    assert isinstance(inbox, Recording)  # tell and ask put into what the hook returned
    thread = ref.proxy().thread.get(timeout=5)
    release = threading.Event()
    ref.tell(Hold(release))
    stopped = ref.stop(block=False)
    left_behind = ref.ask(Ping(), block=False)  # queued behind the stop
    release.set()

    assert stopped.get(timeout=5) is True
    with pytest.raises(pykka.ActorDeadError):  # failed by the teardown's drain
        left_behind.get(timeout=5)
    taken = [(method, name) for method, name in inbox.calls if method != "put"]
    assert {name for _, name in taken} == {thread}
    methods = [method for method, _ in taken]
    teardown = methods[methods.index("empty") :]
    assert teardown == ["empty", "get", "empty"]
