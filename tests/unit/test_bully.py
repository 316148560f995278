"""The bully election: direct transitions, and many Bully instances exchanging messages in a
tiny deterministic simulation (shuffled delivery orders, partitions, healing)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from actors.bully import Announce, Bully, Elected, Phase, SendElection

ANSWER, ANNOUNCE = 0.6, 1.5


def bully(
    name: str, rank: int | None, ranks: dict[str, int], now: float = 0.0
) -> tuple[Bully, list]:
    b = Bully(name, ANSWER, ANNOUNCE)
    return b, b.set_membership(rank, ranks, now)


RANKS = {"a": 1, "b": 2, "c": 3}


# ---- single machine -----------------------------------------------------------------------


def test_the_highest_rank_wins_at_once() -> None:
    c, actions = bully("c", 3, RANKS)
    assert actions == [Announce(), Elected("c", None)]
    assert c.is_coordinator and c.phase is Phase.IDLE


def test_alone_a_server_is_coordinator() -> None:
    _, actions = bully("solo", 1, {"solo": 1})
    assert actions == [Announce(), Elected("solo", None)]


def test_lower_ranks_ask_every_higher_rank() -> None:
    a, actions = bully("a", 1, RANKS)
    assert actions == [SendElection("b"), SendElection("c")]
    assert a.phase is Phase.ELECTING and a.coordinator is None


def test_without_a_rank_nothing_happens_until_one_is_known() -> None:
    a, actions = bully("a", None, RANKS)
    assert actions == []
    assert a.on_tick(1.0) == []
    assert a.set_membership(3, {"a": 3, "b": 2}, 2.0) == [Announce(), Elected("a", None)]


def test_no_ok_before_the_deadline_means_victory() -> None:
    a, _ = bully("a", 1, RANKS, now=0.0)
    assert a.on_tick(ANSWER - 0.01) == []
    assert a.on_tick(ANSWER) == [Announce(), Elected("a", None)]


def test_a_failed_answer_alone_does_not_end_the_election() -> None:
    a, _ = bully("a", 1, RANKS)
    assert a.on_answer(False, 0.1) == []
    assert a.phase is Phase.ELECTING


def test_ok_then_announce_sets_the_coordinator() -> None:
    a, _ = bully("a", 1, RANKS)
    assert a.on_answer(True, 0.1) == []
    assert a.phase is Phase.AWAITING_ANNOUNCE
    assert a.on_tick(0.1 + ANSWER) == []  # an OK means: do not claim victory
    assert a.on_announce("c", 0.5) == [Elected("c", None)]
    assert a.phase is Phase.IDLE


def test_ok_then_missing_announce_restarts_the_election() -> None:
    a, _ = bully("a", 1, RANKS, now=0.0)
    a.on_answer(True, 0.2)
    assert a.on_tick(0.2 + ANNOUNCE - 0.01) == []
    assert a.on_tick(0.2 + ANNOUNCE) == [SendElection("b"), SendElection("c")]
    assert a.phase is Phase.ELECTING
    # nobody answers this time: a takes over
    assert a.on_tick(0.2 + ANNOUNCE + ANSWER) == [Announce(), Elected("a", None)]


def test_a_lower_server_asking_makes_an_idle_server_run_its_own_election() -> None:
    b, _ = bully("b", 2, RANKS)
    b.on_announce("c", 0.0)
    assert b.on_election_request(1.0) == [SendElection("c")]
    assert b.on_election_request(1.1) == []  # already electing: no duplicate


def test_a_lower_announce_gets_bullied() -> None:
    c, _ = bully("c", 3, RANKS)
    assert c.on_announce("a", 1.0) == [Announce()]  # already coordinator: re-announce
    b, _ = bully("b", 2, RANKS)
    b.on_announce("c", 0.0)
    assert b.on_announce("a", 1.0) == [SendElection("c")]


def test_a_higher_announce_is_accepted_in_any_phase() -> None:
    a, _ = bully("a", 1, RANKS)
    assert a.on_announce("b", 0.1) == [Elected("b", None)]
    assert a.on_announce("c", 0.2) == [Elected("c", "b")]
    assert a.on_announce("c", 0.3) == []  # no change, no event


def test_an_announce_naming_a_server_the_reference_never_listed_is_ignored() -> None:
    a, _ = bully("a", 1, RANKS)
    assert a.on_announce("*", 0.1) == []
    assert a.coordinator is None
    a.set_membership(1, {**RANKS, "stranger": 9}, 0.2)
    assert a.on_announce("stranger", 0.3) == [Elected("stranger", None)]


def test_own_announce_echoed_back_changes_nothing() -> None:
    c, _ = bully("c", 3, RANKS)
    assert c.on_announce("c", 1.0) == []
    assert c.is_coordinator


def test_losing_the_coordinator_starts_an_election_once() -> None:
    b, _ = bully("b", 2, RANKS)
    b.on_announce("c", 0.0)
    assert b.on_coordinator_lost(1.0) == [SendElection("c")]
    assert b.coordinator is None
    assert b.on_coordinator_lost(1.1) == []
    assert b.on_tick(1.0 + ANSWER) == [Announce(), Elected("b", None)]


def test_learning_that_it_outranks_the_coordinator_makes_a_server_take_over() -> None:
    c = Bully("c", ANSWER, ANNOUNCE)
    assert c.set_membership(None, {"a": 1, "b": 2}, 0.0) == []  # its own rank not known yet
    assert c.on_announce("b", 0.0) == [Elected("b", None)]
    assert c.set_membership(3, RANKS, 0.1) == [Announce(), Elected("c", "b")]


def test_a_new_membership_view_does_not_restart_a_settled_election() -> None:
    b, _ = bully("b", 2, RANKS)
    b.on_announce("c", 0.0)
    assert b.set_membership(2, {"a": 1, "b": 2}, 1.0) == []
    assert b.coordinator == "c"


# ---- many machines ------------------------------------------------------------------------


@dataclass
class Sim:
    """Bully instances exchanging messages; an actor would do the same over the network.

    An `election` request is answered OK by its receiver when the link works; announces reach
    every linked server. Delivery order is shuffled by `rng` (seeded), time moves in ticks,
    coordinators re-announce and followers check their coordinator every second.
    """

    ranks: dict[str, int]
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    now: float = 0.0
    cut: set[frozenset[str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.nodes = {n: Bully(n, ANSWER, ANNOUNCE) for n in self.ranks}
        self.queue: list[Callable[[], None]] = []
        self.elections: list[tuple[str, str]] = []

    def linked(self, a: str, b: str) -> bool:
        return frozenset((a, b)) not in self.cut

    def partition(self, *groups: set[str]) -> None:
        for i, left in enumerate(groups):
            for right in groups[i + 1 :]:
                self.cut |= {frozenset((a, b)) for a in left for b in right}

    def perform(self, name: str, actions: list) -> None:
        for action in actions:
            if isinstance(action, SendElection) and self.linked(name, action.peer):
                self.queue.append(lambda src=name, dst=action.peer: self._election(src, dst))
            elif isinstance(action, Announce):
                for other in self.nodes:
                    if other != name and self.linked(name, other):
                        self.queue.append(
                            lambda o=other, n=name: self.perform(
                                o, self.nodes[o].on_announce(n, self.now)
                            )
                        )
            elif isinstance(action, Elected):
                self.elections.append((name, action.coordinator))

    def _election(self, src: str, dst: str) -> None:
        self.queue.append(
            lambda: (
                self.perform(src, self.nodes[src].on_answer(True, self.now))
                if self.linked(src, dst)
                else None
            )
        )
        self.perform(dst, self.nodes[dst].on_election_request(self.now))

    def drain(self) -> None:
        while self.queue:
            self.queue.pop(self.rng.randrange(len(self.queue)))()

    def join_all(self) -> None:
        """Every server learns the membership at the same moment (concurrent elections)."""
        for name in self.rng.sample(sorted(self.nodes), len(self.nodes)):
            self.perform(
                name, self.nodes[name].set_membership(self.ranks[name], self.ranks, self.now)
            )
        self.drain()

    def run(self, seconds: float, tick: float = 0.1) -> None:
        for _ in range(round(seconds / tick)):
            self.now = round(self.now + tick, 6)
            for name in self.rng.sample(sorted(self.nodes), len(self.nodes)):
                self.perform(name, self.nodes[name].on_tick(self.now))
            if abs(self.now - round(self.now)) < 1e-6:  # once a second
                for name, node in self.nodes.items():
                    if node.is_coordinator:
                        self.perform(name, [Announce()])
                    elif node.coordinator and not self.linked(name, node.coordinator):
                        self.perform(name, node.on_coordinator_lost(self.now))
            self.drain()

    def coordinators(self, names: set[str] | None = None) -> set[str | None]:
        return {self.nodes[n].coordinator for n in (names or self.nodes)}


FIVE = {"n1": 1, "n2": 2, "n3": 3, "n4": 4, "n5": 5}


@pytest.mark.parametrize("seed", range(40))
def test_concurrent_elections_converge_to_the_highest_rank(seed: int) -> None:
    sim = Sim(dict(FIVE), random.Random(seed))
    sim.join_all()
    sim.run(4.0)
    assert sim.coordinators() == {"n5"}
    assert all(node.phase is Phase.IDLE for node in sim.nodes.values())


@pytest.mark.parametrize("seed", range(20))
def test_ranks_need_not_follow_names(seed: int) -> None:
    rng = random.Random(seed)
    ranks = dict(zip(["p", "q", "r", "s"], rng.sample(range(1, 50), 4), strict=True))
    sim = Sim(ranks, rng)
    sim.join_all()
    sim.run(4.0)
    assert sim.coordinators() == {max(ranks, key=ranks.__getitem__)}


@pytest.mark.parametrize("seed", range(20))
def test_a_partition_elects_one_per_side_then_heals_to_the_highest(seed: int) -> None:
    sim = Sim(dict(FIVE), random.Random(seed))
    sim.join_all()
    sim.run(2.0)
    sim.partition({"n1", "n2", "n3"}, {"n4", "n5"})
    sim.run(6.0)
    assert sim.coordinators({"n1", "n2", "n3"}) == {"n3"}
    assert sim.coordinators({"n4", "n5"}) == {"n5"}
    sim.cut.clear()
    sim.run(6.0)
    assert sim.coordinators() == {"n5"}


@pytest.mark.parametrize("seed", range(20))
def test_losing_the_coordinator_elects_the_next_and_its_return_takes_over(seed: int) -> None:
    sim = Sim(dict(FIVE), random.Random(seed))
    sim.join_all()
    sim.run(2.0)
    sim.partition({"n5"}, {"n1", "n2", "n3", "n4"})
    sim.run(6.0)
    assert sim.coordinators({"n1", "n2", "n3", "n4"}) == {"n4"}
    sim.cut.clear()
    sim.run(6.0)
    assert sim.coordinators() == {"n5"}


@pytest.mark.parametrize("seed", range(20))
def test_a_lower_server_that_claimed_power_alone_is_bullied_after_healing(seed: int) -> None:
    sim = Sim(dict(FIVE), random.Random(seed))
    sim.join_all()
    sim.run(2.0)
    sim.partition({"n2"}, {"n1", "n3", "n4", "n5"})
    sim.run(6.0)
    assert sim.nodes["n2"].is_coordinator
    sim.cut.clear()
    sim.run(6.0)
    assert sim.coordinators() == {"n5"}


@pytest.mark.parametrize("seed", range(10))
def test_a_higher_server_joining_late_takes_over(seed: int) -> None:
    sim = Sim(dict(FIVE), random.Random(seed))
    early = {n: r for n, r in FIVE.items() if n != "n5"}
    for name in early:
        sim.perform(name, sim.nodes[name].set_membership(FIVE[name], early, sim.now))
    sim.drain()
    sim.run(2.0)
    assert sim.coordinators(set(early)) == {"n4"}
    assert sim.nodes["n5"].coordinator is None  # it knows no server yet: it believes none
    sim.join_all()
    sim.run(3.0)
    assert sim.coordinators() == {"n5"}


@pytest.mark.parametrize("seed", range(10))
def test_split_into_three_then_heal(seed: int) -> None:
    sim = Sim(dict(FIVE), random.Random(seed))
    sim.partition({"n1"}, {"n2", "n3"}, {"n4", "n5"})
    sim.join_all()
    sim.run(6.0)
    assert [sim.nodes[n].coordinator for n in sorted(FIVE)] == ["n1", "n3", "n3", "n5", "n5"]
    sim.cut.clear()
    sim.run(6.0)
    assert sim.coordinators() == {"n5"}
