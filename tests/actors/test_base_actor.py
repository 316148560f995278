"""BaseActor: typed dispatch, a failing message does not stop the actor, Ping is a barrier."""

from __future__ import annotations

from dataclasses import dataclass

import pykka
import pytest

from actors.base import BaseActor, Node, Ping, handles, teller
from tests.fakes import barrier


@dataclass(frozen=True)
class Add:
    n: int


@dataclass(frozen=True)
class Boom:
    pass


@dataclass(frozen=True)
class Total:
    pass


class Counter(BaseActor):
    actor_name = "counter"

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.total = 0

    @handles(Add)
    def _add(self, m: Add) -> None:
        self.total += m.n

    @handles(Boom)
    def _boom(self, _: Boom) -> None:
        raise RuntimeError("bad message")

    @handles(Total)
    def _total(self, _: Total) -> int:
        return self.total


class LoudCounter(Counter):
    @handles(Add)
    def _add_twice(self, m: Add) -> None:
        self.total += 2 * m.n


def test_handlers_are_dispatched_by_message_type() -> None:
    ref = Counter.start(Node("test", "n1"))
    ref.tell(Add(2))
    ref.tell(Add(3))
    assert ref.ask(Total(), timeout=5) == 5


def test_a_failing_told_message_does_not_stop_the_actor() -> None:
    ref = Counter.start(Node("test", "n1"))
    ref.tell(Add(1))
    ref.tell(Boom())
    ref.tell(Add(1))
    assert ref.ask(Total(), timeout=5) == 2
    assert ref.is_alive()


def test_a_failing_asked_message_answers_none_and_the_actor_lives() -> None:
    ref = Counter.start(Node("test", "n1"))
    assert ref.ask(Boom(), timeout=5) is None
    assert ref.is_alive()


def test_unknown_messages_are_ignored() -> None:
    ref = Counter.start(Node("test", "n1"))
    assert ref.ask("what is this", timeout=5) is None
    ref.tell(Add(4))
    assert ref.ask(Total(), timeout=5) == 4


def test_ping_answers_true_after_everything_told_before() -> None:
    ref = Counter.start(Node("test", "n1"))
    for _ in range(100):
        ref.tell(Add(1))
    assert ref.ask(Ping(), timeout=5) is True
    barrier(ref)
    assert ref.proxy().total.get(timeout=5) == 100


def test_a_subclass_handler_overrides_its_parent() -> None:
    ref = LoudCounter.start(Node("test", "n1"))
    ref.tell(Add(1))
    assert ref.ask(Total(), timeout=5) == 2


def test_teller_drops_messages_to_a_stopped_actor() -> None:
    ref = Counter.start(Node("test", "n1"))
    tell = teller(ref)
    ref.stop()
    tell(Add(1))  # no ActorDeadError
    with pytest.raises(pykka.ActorDeadError):
        ref.tell(Add(1))
