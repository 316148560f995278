"""Roster: names in order, paged by `after`."""

from __future__ import annotations

from actors.roster import Roster


def test_pages_walk_every_name_once_in_order() -> None:
    roster = Roster(["carol", "ana", "bob"])
    roster.add("dave")
    roster.add("ana")  # already there
    assert len(roster) == 4 and "bob" in roster and "zed" not in roster
    first, more = roster.page("", 3)
    assert (first, more) == (["ana", "bob", "carol"], True)
    assert roster.page(first[-1], 3) == (["dave"], False)
    assert roster.page("dave", 3) == ([], False)


def test_after_need_not_be_a_member() -> None:
    roster = Roster(["ana", "carol"])
    assert roster.page("b", 10) == (["carol"], False)
