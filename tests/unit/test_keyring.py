"""Our client's key pair per account: made once, kept in a file only its owner reads."""

from __future__ import annotations

import stat
from pathlib import Path

from roles.keyring import account_key, key_file
from transport import sealing


def test_a_key_is_made_once_per_user_in_a_private_file(tmp_path: Path) -> None:
    key = account_key(tmp_path, "ana")
    assert account_key(tmp_path, "ana") == key
    assert account_key(tmp_path, "bob") != key
    assert stat.S_IMODE(key_file(tmp_path, "ana").stat().st_mode) == 0o600
    assert sealing.decode_key(sealing.public_key_of(key)) is not None


def test_any_user_name_makes_a_file_name_in_the_folder(tmp_path: Path) -> None:
    account_key(tmp_path, "../a/b")
    assert [p.parent for p in (tmp_path / "keys").iterdir()] == [tmp_path / "keys"]
