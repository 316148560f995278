"""Names: one normal form, one script, no internal topics."""

from __future__ import annotations

import pytest

from transport.codec import FieldError
from transport.names import MAX_NAME_CHARS, normal_name


def fullwidth(text: str) -> str:
    """The full-width look-alike of an ASCII word (U+FF01 and on)."""
    return "".join(chr(ord(ch) - 0x21 + 0xFF01) for ch in text)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("admin", "admin"),
        (fullwidth("admin"), "admin"),
        ("jose\u0301", "jos\u00e9"),  # NFD and NFC spell one name
        ("jos\u00e9", "jos\u00e9"),
        ("  padded  ", "padded"),
        ("ana_1.b-c", "ana_1.b-c"),
        ("\u0391\u0392\u0393", "\u0391\u0392\u0393"),  # all Greek
        ("\u041f\u0440\u0438\u0432\u0435\u0442", "\u041f\u0440\u0438\u0432\u0435\u0442"),
        ("日本ちゃん", "日本ちゃん"),  # Han with Hiragana, as Japanese is written
        ("Ana", "Ana"),  # case is kept
    ],
)
def test_names_are_normalised(raw: str, name: str) -> None:
    assert normal_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("\u0430dmin", "mixes scripts"),  # a Cyrillic letter in a Latin word
        ("Ωmega", "mixes scripts"),
        ("servers", "reserved"),
        ("replication", "reserved"),
        (fullwidth("replication"), "reserved"),
        ("a b", "spaces"),
        ("a\u200bb", "spaces or control"),  # zero-width space
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_NAME_CHARS + 1), "longer"),
    ],
)
def test_look_alikes_reserved_and_malformed_names_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(FieldError, match=reason):
        normal_name(raw, "user")
