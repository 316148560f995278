"""What the terminal client remembers per user between runs, in one small JSON file under its
home directory: the channels joined, the people written with, and the Lamport clock of the
last private message seen (what "while you were away" counts from).

A missing or damaged file is an empty memory, never an error; writes replace the file whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "client-state.json"
MAX_CHANNELS = 50
MAX_PEERS = 20  # conversations checked at login (one history request each)
MAX_USERS = 100  # users remembered in one file


@dataclass
class Memory:
    channels: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)  # most recent last
    seen_clock: int = 0


def _names(raw: Any, bound: int) -> list[str]:
    names = [n for n in raw if isinstance(n, str) and n] if isinstance(raw, list) else []
    return names[-bound:]


class ClientState:
    def __init__(self, home: Path | None) -> None:
        """`home` None: remember nothing (tests, or no writable home)."""
        self.path = home / FILE_NAME if home is not None else None

    def _load_all(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def load(self, user: str) -> Memory:
        raw = self._load_all().get(user)
        if not isinstance(raw, dict):
            return Memory()
        clock = raw.get("seen_clock")
        return Memory(
            _names(raw.get("channels"), MAX_CHANNELS),
            _names(raw.get("peers"), MAX_PEERS),
            clock if isinstance(clock, int) and clock >= 0 else 0,
        )

    def save(self, user: str, memory: Memory) -> None:
        if self.path is None or not user:
            return
        everyone = self._load_all()
        everyone.pop(user, None)
        everyone[user] = {
            "channels": memory.channels[-MAX_CHANNELS:],
            "peers": memory.peers[-MAX_PEERS:],
            "seen_clock": memory.seen_clock,
        }
        while len(everyone) > MAX_USERS:
            everyone.pop(next(iter(everyone)))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(everyone))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home: the client works, it just forgets
