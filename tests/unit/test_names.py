"""Names: one normal form, one script, no internal topics."""

from __future__ import annotations

import pytest

from transport.codec import FieldError
from transport.names import MAX_NAME_CHARS, normal_name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("admin", "admin"),
        ("ａｄｍｉｎ", "admin"),  # full-width
        ("jose\u0301", "jos\u00e9"),  # NFD and NFC spell one name
        ("jos\u00e9", "jos\u00e9"),
        ("  padded  ", "padded"),
        ("ana_1.b-c", "ana_1.b-c"),
        ("ΑΒΓ", "ΑΒΓ"),  # all Greek
        ("Привет", "Привет"),  # all Cyrillic
        ("日本ちゃん", "日本ちゃん"),  # Han with Hiragana, as Japanese is written
        ("Ana", "Ana"),  # case is kept
    ],
)
def test_names_are_normalised(raw: str, name: str) -> None:
    assert normal_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("\u0430dmin", "mixes scripts"),  # Cyrillic а in a Latin word
        ("Ωmega", "mixes scripts"),
        ("servers", "reserved"),
        ("replication", "reserved"),
        ("ｒｅｐｌｉｃａｔｉｏｎ", "reserved"),  # full-width spelling of a reserved name
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
