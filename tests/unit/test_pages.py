"""Pages bounded in count and in encoded bytes, never splitting a group."""

from __future__ import annotations

from actors.pages import GROUP_SLACK, encoded_size, take_page, wire_size
from transport.protocol import Event, event_to_wire


def sized(*sizes: int) -> list[tuple[str, int]]:
    return [(f"i{n}", size) for n, size in enumerate(sizes)]


def size(item: tuple[str, int]) -> int:
    return item[1]


def names(page: list[tuple[str, int]]) -> list[str]:
    return [name for name, _ in page]


def test_everything_that_fits_is_one_page() -> None:
    assert take_page(sized(1, 2, 3), size, limit=10, budget=6) == (sized(1, 2, 3), False)
    assert take_page([], size, limit=10, budget=6) == ([], False)


def test_the_page_ends_at_the_count_limit() -> None:
    page, more = take_page(sized(1, 1, 1, 1), size, limit=3, budget=100)
    assert (names(page), more) == (["i0", "i1", "i2"], True)


def test_the_page_ends_before_the_item_that_would_pass_the_budget() -> None:
    page, more = take_page(sized(4, 4, 4), size, limit=10, budget=9)
    assert (names(page), more) == (["i0", "i1"], True)
    page, more = take_page(sized(4, 5, 1), size, limit=10, budget=9)
    assert (names(page), more) == (["i0", "i1"], True)  # exactly the budget


def test_a_first_item_over_the_budget_is_a_page_of_its_own() -> None:
    page, more = take_page(sized(50, 1), size, limit=10, budget=9)
    assert (names(page), more) == (["i0"], True)


def test_a_group_is_never_split_by_either_bound() -> None:
    items = [("a", 2), ("b", 2), ("b", 4), ("b", 4), ("c", 1)]
    page, more = take_page(items, size, limit=2, budget=6, group=lambda item: item[0])
    assert (names(page), more) == (["a", "b", "b", "b"], True)
    page, more = take_page([("a", 2), ("b", 5), ("b", 1)], size, 9, 6, lambda item: item[0])
    assert (names(page), more) == (["a"], True)  # a group that would pass: the next page


def test_wire_size_is_the_encoded_size_of_the_wire_form() -> None:
    event = Event("a", 1, 1, "publish", user="ana", channel="c", message="é" * 100)
    assert wire_size(event) == encoded_size(event_to_wire(event)) > 200


def test_a_forged_giant_group_is_cut_after_its_slack() -> None:
    ties = [(5, i) for i in range(5000)]  # 5000 entries sharing one clock
    page, more = take_page(ties, lambda _: 10, 1, group=lambda item: item[0])
    assert len(page) == 1 + GROUP_SLACK and more
