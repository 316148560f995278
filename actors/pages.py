"""Pages of what crosses the wire in bulk (a `replicate` push, a `sync` page, a `history`
reply), bounded in count and in encoded bytes, so that a page of the largest legal messages
still fits in the frame a receiver accepts (transport.codec.MAX_FRAME_BYTES)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from transport import codec
from transport.protocol import Event, event_to_wire

T = TypeVar("T")

# Half the frame limit: the rest is room for the envelope and for the end of a clock tie in a
# history page. One event always fits: a message of 10 000 characters is at most 40 KB.
PAGE_BYTES = 512 * 1024
GROUP_SLACK = 100  # items a page may hold past its limit to keep a group whole


def encoded_size(obj: Any) -> int:
    return len(codec.pack(obj))


def wire_size(event: Event) -> int:
    """Bytes of the event in a `replicate` or `sync` page."""
    return encoded_size(event_to_wire(event))


def take_page(
    items: Iterable[T],
    size: Callable[[T], int],
    limit: int,
    budget: int = PAGE_BYTES,
    group: Callable[[T], Hashable] | None = None,
) -> tuple[list[T], bool]:
    """The first `items`, at most `limit` of them and `budget` bytes (but at least one), and
    whether any item was left out.

    With `group`, consecutive items of one group are not split: the page ends where the
    group changes, so it may pass the bounds by the rest of one group, but never by more than
    GROUP_SLACK items or a second `budget` (a group that large is forged: our servers make at
    most one per server).
    """
    page: list[T] = []
    used = 0
    for item in items:
        cost = size(item)
        full = len(page) >= limit or used + cost > budget
        if page and full and (group is None or group(item) != group(page[-1])):
            return page, True
        if page and (len(page) >= limit + GROUP_SLACK or used + cost > 2 * budget):
            return page, True
        page.append(item)
        used += cost
    return page, False
