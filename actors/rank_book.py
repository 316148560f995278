"""The reference's book of servers: stable unique ranks and heartbeat liveness (pure)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from transport.protocol import Peer


class TakenOver(ValueError):
    """A live server's name registered from another address."""


@dataclass
class RankBook:
    liveness_timeout: float
    ranks: dict[str, int] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)

    def rank(self, name: str, now: float, address: str | None = None) -> int:
        """The name's rank: the one it had, or the next never used (ranks start at 1).

        A name that is alive keeps its address: registering it from another one raises
        TakenOver (a restarted server on a new address gets in once the old one went silent).
        """
        known = self.addresses.get(name)
        if address and known and address != known and self.is_alive(name, now):
            raise TakenOver(f"server '{name}' is alive at another address")
        if name not in self.ranks:
            self.ranks[name] = max(self.ranks.values(), default=0) + 1
        if address:
            self.addresses[name] = address
        self.last_seen[name] = now
        return self.ranks[name]

    def heartbeat(self, name: str, now: float) -> bool:
        """Record a heartbeat; False if the name never registered."""
        if name not in self.ranks:
            return False
        self.last_seen[name] = now
        return True

    def is_alive(self, name: str, now: float) -> bool:
        seen = self.last_seen.get(name)
        return seen is not None and now - seen <= self.liveness_timeout

    def alive(self, now: float) -> list[Peer]:
        """Live servers by rank (address "" if the server never said one)."""
        return [
            Peer(name, rank, self.addresses.get(name, ""))
            for name, rank in sorted(self.ranks.items(), key=lambda kv: kv[1])
            if self.is_alive(name, now)
        ]

    def expired(self, now: float) -> list[str]:
        """Names that just went silent (forgotten from liveness, their rank kept)."""
        gone = [n for n, seen in self.last_seen.items() if now - seen > self.liveness_timeout]
        for name in gone:
            del self.last_seen[name]
        return gone

    # ---- persistence: ranks must survive a reference restart --------------------------

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"ranks": self.ranks, "addresses": self.addresses}))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, liveness_timeout: float) -> RankBook:
        book = cls(liveness_timeout)
        if path.exists():
            saved = json.loads(path.read_text())
            book.ranks = {str(k): int(v) for k, v in saved.get("ranks", {}).items()}
            book.addresses = {str(k): str(v) for k, v in saved.get("addresses", {}).items()}
        return book
