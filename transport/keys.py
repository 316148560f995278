"""The cluster's CURVE credentials on disk (secure mode).

Layout of a keys directory (made by `bbs keys --out DIR`):

    DIR/broker.key   DIR/broker.key_secret       one pair per infrastructure role; every
    DIR/proxy.key    DIR/proxy.key_secret        server replica shares the `server` pair
    DIR/reference.key DIR/reference.key_secret
    DIR/server.key   DIR/server.key_secret
    DIR/allowed/server.key                       the allow-list: public keys the broker
                                                 backend, the proxy XSUB, the reference
                                                 and every peer port accept

The directory is 0700 and every secret file 0600: a secret key is the right to speak for
that role. `*.key` files are public.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import zmq.auth

ROLES = ("broker", "proxy", "reference", "server")
ALLOWED_DIR = "allowed"
ALLOWED_ROLES = ("server",)  # who may connect to the cluster's internal ports


@dataclass(frozen=True)
class KeyPair:
    public: bytes  # Z85, 40 bytes
    secret: bytes


def create(out: Path) -> Path:
    """Create a keys directory with fresh pairs and the allow-list; refuses to overwrite."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: move it away to make new keys")
    allowed = out / ALLOWED_DIR
    allowed.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    for role in ROLES:
        public, secret = zmq.auth.create_certificates(out, role)
        os.chmod(secret, 0o600)
        if role in ALLOWED_ROLES:
            (allowed / f"{role}.key").write_bytes(Path(public).read_bytes())
    return out


def ensure(out: Path) -> Path:
    """The keys directory `out`, created first if it holds no keys yet."""
    return out if (out / "server.key_secret").exists() else create(out)


@dataclass(frozen=True)
class ClusterKeys:
    """What one process reads of a keys directory."""

    directory: Path

    def public(self, role: str) -> bytes:
        public, _ = zmq.auth.load_certificate(self.directory / f"{role}.key")
        return public

    def pair(self, role: str) -> KeyPair:
        """This role's own pair; its secret file must be private to its owner."""
        path = self.directory / f"{role}.key_secret"
        if path.stat().st_mode & 0o077:
            raise PermissionError(f"{path} is readable by others: chmod 600 it")
        public, secret = zmq.auth.load_certificate(path)
        if secret is None:
            raise ValueError(f"{path} holds no secret key")
        return KeyPair(public, secret)

    def as_server(self, role: str) -> tuple[KeyPair, bytes]:
        """(the server pair, `role`'s public key): how a server, or a trusted tool acting as
        one (bbs status, tests), connects to `role` as a CURVE client."""
        return self.pair("server"), self.public(role)

    def allowed(self) -> frozenset[bytes]:
        return frozenset(zmq.auth.load_certificates(self.directory / ALLOWED_DIR))


@dataclass(frozen=True)
class Curve:
    """A pump's secure mode: its own pair, the keys its bound sockets accept (the allow-list),
    and the server key of each endpoint it connects to (None: that endpoint is plain)."""

    own: KeyPair
    allowed: frozenset[bytes] = frozenset()
    remotes: Mapping[str, bytes | None] = field(default_factory=dict)
    others: bytes | None = None  # endpoints not in `remotes` (a server's peers)

    def server_key(self, endpoint: str) -> bytes | None:
        return self.remotes.get(endpoint, self.others)


def fresh_pair() -> KeyPair:
    """A throw-away pair (a client's: encryption without identity)."""
    public, secret = zmq.curve_keypair()
    return KeyPair(public, secret)
