"""The reference's rank book: stable, unique, never reused ranks, and heartbeat liveness."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.rank_book import RankBook, TakenOver
from transport.protocol import Peer


def names(peers: list[Peer]) -> list[str]:
    return [peer.name for peer in peers]


def test_ranks_start_at_one_and_are_unique_in_registration_order() -> None:
    book = RankBook(liveness_timeout=3.0)
    assert [book.rank(n, now=0.0) for n in ("b", "a", "c")] == [1, 2, 3]


def test_a_name_keeps_its_rank() -> None:
    book = RankBook(liveness_timeout=3.0)
    first = book.rank("a", now=0.0)
    book.rank("b", now=0.0)
    assert book.rank("a", now=5.0) == first


def test_ranks_are_never_reused_after_a_server_goes_silent() -> None:
    book = RankBook(liveness_timeout=3.0)
    book.rank("a", now=0.0)
    book.rank("b", now=0.0)
    book.heartbeat("b", now=10.0)
    assert book.expired(now=10.0) == ["a"]
    assert book.rank("c", now=10.0) == 3
    assert book.rank("a", now=11.0) == 1


def test_alive_lists_recent_servers_by_rank_with_addresses() -> None:
    book = RankBook(liveness_timeout=3.0)
    book.rank("b", now=0.0, address="tcp://b:5560")
    book.rank("a", now=1.0)
    assert book.alive(now=2.0) == [Peer("b", 1, "tcp://b:5560"), Peer("a", 2, "")]
    assert names(book.alive(now=3.0)) == ["b", "a"]  # exactly at the timeout: still alive
    assert names(book.alive(now=3.5)) == ["a"]


def test_heartbeats_keep_a_server_alive() -> None:
    book = RankBook(liveness_timeout=3.0)
    book.rank("a", now=0.0)
    for t in (2.0, 4.0, 6.0):
        assert book.heartbeat("a", now=t)
    assert names(book.alive(now=8.5)) == ["a"]
    assert names(book.alive(now=9.5)) == []


def test_heartbeat_of_an_unknown_name_is_refused() -> None:
    book = RankBook(liveness_timeout=3.0)
    assert not book.heartbeat("ghost", now=0.0)
    assert book.alive(now=0.0) == []


def test_expired_reports_each_silence_once_and_a_heartbeat_revives() -> None:
    book = RankBook(liveness_timeout=3.0)
    book.rank("a", now=0.0)
    assert book.expired(now=2.0) == []
    assert book.expired(now=4.0) == ["a"]
    assert book.expired(now=5.0) == []
    assert book.heartbeat("a", now=6.0)
    assert book.alive(now=6.0) == [Peer("a", 1, "")]


def test_ranks_and_addresses_survive_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "ranks.json"
    book = RankBook(liveness_timeout=3.0)
    book.rank("a", now=0.0, address="tcp://a:5560")
    book.rank("b", now=0.0)
    book.save(path)
    loaded = RankBook.load(path, liveness_timeout=3.0)
    assert loaded.ranks == {"a": 1, "b": 2}
    assert loaded.addresses == {"a": "tcp://a:5560"}
    assert loaded.alive(now=0.0) == []  # liveness is not persisted
    assert loaded.rank("c", now=1.0) == 3  # new ranks continue above the old ones
    assert loaded.rank("a", now=1.0) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_load_of_a_missing_file_is_an_empty_book(tmp_path: Path) -> None:
    book = RankBook.load(tmp_path / "none.json", liveness_timeout=3.0)
    assert book.ranks == {}
    assert book.rank("a", now=0.0) == 1


def test_a_live_name_is_not_taken_over_from_another_address() -> None:
    book = RankBook(liveness_timeout=3.0)
    book.rank("a", now=0.0, address="tcp://10.0.0.1:5560")
    with pytest.raises(TakenOver):
        book.rank("a", now=1.0, address="tcp://10.6.6.6:5560")
    assert book.alive(1.0)[0].address == "tcp://10.0.0.1:5560"
    assert book.rank("a", now=1.0, address="tcp://10.0.0.1:5560") == 1  # itself, again
    assert book.rank("a", now=2.0) == 1  # no address: nothing to take over


def test_a_silent_name_may_come_back_from_a_new_address() -> None:
    book = RankBook(liveness_timeout=3.0)
    book.rank("a", now=0.0, address="tcp://10.0.0.1:5560")
    assert book.rank("a", now=3.5, address="tcp://10.0.0.2:5560") == 1
    assert book.alive(3.5)[0].address == "tcp://10.0.0.2:5560"
