"""Our client's key pair per account, in a file only its owner can read: the public half is
sent at login, so the servers seal that user's private messages to it; the private half opens
them. One file per user name under `home` (default ~/.config/bbs/keys)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from transport import sealing

DEFAULT_HOME = Path.home() / ".config" / "bbs"


def key_file(home: Path, user: str) -> Path:
    # hex: a user name may hold any printable character, '/' included
    return home / "keys" / f"{user.encode().hex()}.key"


def account_key(home: Path, user: str) -> bytes:
    """`user`'s private key, made (mode 0600) on first use."""
    path = key_file(home, user)
    if path.exists():
        raw = base64.b64decode(path.read_text().strip())
        if len(raw) == sealing.KEY_BYTES:
            return raw
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = sealing.new_private_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file that was there keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(key).decode("ascii") + "\n")
    return key
