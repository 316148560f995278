"""The terminal client's windows, as irssi and weechat have them: one per channel and one per
private conversation, plus the status window (1). Each keeps its own lines; only the current
one is on screen, the others count what arrived unread (and whether it named you).

Pure state: the shell feeds it lines, the view shows what it says to show.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

SCROLLBACK = 1000  # lines a window keeps (what a switch redraws)
STATUS = ""  # the status window's key


def channel_key(channel: str) -> str:
    """Channel and user names share no namespace in windows: channels get a `#`."""
    return f"#{channel}"


def day_of(timestamp: float) -> str:
    return time.strftime("%a %d %b %Y", time.localtime(timestamp))


@dataclass
class Window:
    key: str  # STATUS, "#channel" or a user name
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=SCROLLBACK))
    unread: int = 0
    mentioned: bool = False  # a line named you (or, in a conversation, any line)
    day: str = ""  # date of the last dated line (day separators)

    @property
    def label(self) -> str:
        return self.key or "status"

    @property
    def channel(self) -> str | None:
        return self.key[1:] if self.key.startswith("#") else None

    @property
    def peer(self) -> str | None:
        return self.key if self.key and not self.key.startswith("#") else None


class Windows:
    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.windows = [Window(STATUS, day=day_of(now()))]
        self.current = 0  # index into windows; the number shown is index + 1

    @property
    def active(self) -> Window:
        return self.windows[self.current]

    def find(self, key: str) -> int | None:
        return next((i for i, w in enumerate(self.windows) if w.key == key), None)

    def open(self, key: str) -> Window:
        index = self.find(key)
        if index is None:
            self.windows.append(Window(key, day=day_of(self.now())))
            index = len(self.windows) - 1
        return self.windows[index]

    def close(self, key: str) -> None:
        index = self.find(key)
        if not index:  # the status window stays
            return
        del self.windows[index]
        if self.current >= index:
            self.current = max(0, self.current - 1) if self.current == index else self.current - 1

    def switch(self, number: int) -> Window | None:
        """Make window `number` (from 1) current; None if there is no such window."""
        if not 1 <= number <= len(self.windows):
            return None
        self.current = number - 1
        self.active.unread, self.active.mentioned = 0, False
        return self.active

    def switch_to(self, key: str) -> Window | None:
        index = self.find(key)
        return None if index is None else self.switch(index + 1)

    def add(
        self,
        key: str,
        line: str,
        timestamp: float | None = None,
        mention: bool = False,
        unread: bool = True,
    ) -> list[str]:
        """Store a line in window `key` (opened if needed), preceded by a day separator when
        its date differs from the window's last one; returns the lines to show now (none
        unless `key` is the current window)."""
        window = self.open(key)
        lines = []
        if timestamp is not None:
            day = day_of(timestamp)
            if day != window.day:
                window.day = day
                lines.append(f"--- {day} ---")
        lines.append(line)
        window.lines.extend(lines)
        if window is self.active:
            return lines
        if unread:
            window.unread += 1
            window.mentioned = window.mentioned or mention
        return []

    def status_bar(self) -> str:
        """`[2:#geral] 3:#dev(4) 4:bob(1!)`: the current window in brackets, unread counts,
        `!` where you were named or written to."""
        parts = []
        for number, window in enumerate(self.windows, 1):
            text = f"{number}:{window.label}"
            if window.unread:
                text += f"({window.unread}{'!' if window.mentioned else ''})"
            parts.append(f"[{text}]" if window is self.active else text)
        return " ".join(parts)
