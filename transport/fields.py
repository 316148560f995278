"""Reading one field of a request: aliases, types, sizes, the name rule, bounded integers.

Every parse function of transport.protocol goes through these, so a bound is written once.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from transport.codec import FieldError
from transport.names import MAX_NAME_CHARS, normal_name
from transport.numbers import bounded_int

MAX_MESSAGE_CHARS = 10_000


def first(data: dict[str, Any], *names: str) -> Any:
    """The value of the first alias present (and not None)."""
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return None


def require_text(data: dict[str, Any], *names: str, max_chars: int = MAX_MESSAGE_CHARS) -> str:
    value = first(data, *names)
    label = "/".join(names)
    if value is None:
        raise FieldError(f"missing field '{label}'")
    if not isinstance(value, str):
        raise FieldError(f"field '{label}' must be a string")
    if len(value) > max_chars:
        raise FieldError(f"field '{label}' is longer than {max_chars} characters")
    return value


def optional_text(data: dict[str, Any], name: str, max_chars: int) -> str:
    """A string field that may be absent ("" then)."""
    return require_text(data, name, max_chars=max_chars) if data.get(name) is not None else ""


def require_name(data: dict[str, Any], *names: str) -> str:
    """A user or channel name in normal form (transport.names has the rule)."""
    # the raw text may be a little longer than the normal form (combining accents)
    raw = require_text(data, *names, max_chars=4 * MAX_NAME_CHARS)
    return normal_name(raw, "/".join(names))


def require_message(data: dict[str, Any]) -> str:
    text = require_text(data, "message")
    if not text.strip():
        raise FieldError("message is empty")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n" for ch in text):
        raise FieldError("message must not contain control characters")
    return text


def optional_int(
    data: dict[str, Any], name: str, default: int | None, lo: int, hi: int
) -> int | None:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"field '{name}' must be an integer")
    number = bounded_int(value, lo, hi)
    if number is None:
        raise FieldError(f"field '{name}' must be between {lo} and {hi}")
    return number
