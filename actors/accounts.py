"""Accounts, as pure functions and state: the scrypt hash of a password, session tokens, and
which record of a claimed name is in force on every replica.

A token is `<user>.<expiry>.<HMAC-SHA256(token key, user|expiry)>` (base64url): any replica
holding the account record checks it, none has to have seen the login. Secrets are compared
with hmac.compare_digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, replace

from transport.protocol import MAX_TOKEN_CHARS, AccountRecord, Event, parse_account

# scrypt with n=2**14, r=8, p=1 takes 16 MiB and ~40 ms here: memory-hard, still one
# login at a time affordable.
SCRYPT_COST = (2**14, 8, 1)
TOKEN_TTL = 24 * 3600.0


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * r * (n + p), dklen=32
    )


def new_account(user: str, password: str, public_key: str = "") -> AccountRecord:
    """The record claiming `user` with `password` (slow: hashes it)."""
    n, r, p = SCRYPT_COST
    salt = os.urandom(16)
    digest = _scrypt(password, salt, n, r, p)
    return AccountRecord(user, salt, digest, n, r, p, os.urandom(32), public_key)


def with_public_key(record: AccountRecord, public_key: str) -> AccountRecord:
    """The next record of an account, sealing to a new key (tokens stay valid)."""
    return replace(record, public_key=public_key, generation=record.generation + 1)


def with_password(record: AccountRecord, password: str, public_key: str) -> AccountRecord:
    """The next record of an account, with a new password and a new token key (every token
    issued before is void); slow: hashes it."""
    fresh = new_account(record.user, password, public_key or record.public_key)
    return replace(fresh, generation=record.generation + 1)


def password_matches(record: AccountRecord, password: str) -> bool:
    """Slow: hashes `password` as the record's was."""
    digest = _scrypt(password, record.salt, record.n, record.r, record.p)
    return hmac.compare_digest(digest, record.digest)


def _signature(record: AccountRecord, expiry: int) -> str:
    mac = hmac.new(record.token_key, f"{record.user}|{expiry}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def issue_token(record: AccountRecord, now: float, ttl: float = TOKEN_TTL) -> str:
    expiry = int(now + ttl)
    return f"{record.user}.{expiry}.{_signature(record, expiry)}"


def token_valid(record: AccountRecord, token: str, now: float) -> bool:
    """Whether `token` was issued for this record (its key) and has not expired."""
    parts = token.rsplit(".", 2)
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or parts[0] != record.user:
        return False
    _, expiry, signature = parts
    if not expiry.isdigit() or int(expiry) < now:
        return False
    return hmac.compare_digest(signature, _signature(record, int(expiry)))


@dataclass(frozen=True)
class _InForce:
    record: AccountRecord
    order: tuple[int, int, str, int]  # lowest wins: (-generation, clock, origin, seq)


class Accounts:
    """The record in force for each claimed name. Of two records of a name, the higher
    generation wins, then the lower (clock, origin, seq): every replica picks the same one
    whatever order the events come in (two first claims on two replicas at once: the one
    stored first in history order keeps the name)."""

    def __init__(self) -> None:
        self._by_user: dict[str, _InForce] = {}

    def apply(self, event: Event) -> None:
        record = parse_account(event)
        if record is None:
            return
        order = (-record.generation, event.clock, event.origin, event.seq)
        held = self._by_user.get(record.user)
        if held is None or order < held.order:
            self._by_user[record.user] = _InForce(record, order)

    def get(self, user: str) -> AccountRecord | None:
        held = self._by_user.get(user)
        return held.record if held else None

    def __contains__(self, user: object) -> bool:
        return user in self._by_user

    def __len__(self) -> int:
        return len(self._by_user)
