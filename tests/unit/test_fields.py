"""Reading request fields: aliases, types, sizes, names, bounded integers."""

from __future__ import annotations

from typing import Any

import pytest

from transport import fields
from transport.codec import FieldError
from transport.names import MAX_NAME_CHARS

# ---- field access: aliases ----------------------------------------------------------------


def test_first_takes_the_first_present_alias_and_skips_none() -> None:
    assert fields.first({"name": "x", "channel": "y"}, "channel", "name") == "y"
    assert fields.first({"name": "x"}, "channel", "name") == "x"
    assert fields.first({"channel": None, "name": "x"}, "channel", "name") == "x"
    assert fields.first({}, "channel", "name") is None


def test_require_name_reads_aliases() -> None:
    assert fields.require_name({"username": "ana"}, "user", "username") == "ana"
    assert fields.require_name({"to": "bob"}, "dst", "to") == "bob"


# ---- field validation: names --------------------------------------------------------------


def test_name_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    at_limit = "a" * MAX_NAME_CHARS
    assert fields.require_name({"user": at_limit}, "user") == at_limit
    with pytest.raises(FieldError, match="longer"):
        fields.require_name({"user": at_limit + "a"}, "user")


def test_three_hundred_character_name_is_refused() -> None:
    with pytest.raises(FieldError, match="longer than"):
        fields.require_name({"channel": "c" * 300}, "channel", "name")


@pytest.mark.parametrize(
    "name",
    ["ana\x00", "a\nna", "a\tb", "\x1b[31mred", "a\u200bb", "ana maria", "a\u00a0b", "a\x7fb"],
)
def test_names_with_control_characters_or_spaces_are_refused(name: str) -> None:
    with pytest.raises(FieldError, match="control characters"):
        fields.require_name({"user": name}, "user")


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_empty_names_are_refused(name: str) -> None:
    with pytest.raises(FieldError, match="empty"):
        fields.require_name({"user": name}, "user")


@pytest.mark.parametrize("value", [5, 5.0, ["ana"], {"n": "ana"}, b"ana", True])
def test_ill_typed_names_are_refused(value: Any) -> None:
    with pytest.raises(FieldError, match="must be a string"):
        fields.require_name({"user": value}, "user")


def test_missing_name_is_refused_naming_every_alias() -> None:
    with pytest.raises(FieldError, match="missing field 'user/username'"):
        fields.require_name({"user": None}, "user", "username")


def test_names_are_trimmed_and_may_be_unicode() -> None:
    assert fields.require_name({"user": "  joão  "}, "user") == "joão"
    assert fields.require_name({"user": "Zoë-1_x"}, "user") == "Zoë-1_x"


# ---- field validation: messages -----------------------------------------------------------


def test_message_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    text = "m" * fields.MAX_MESSAGE_CHARS
    assert fields.require_message({"message": text}) == text
    with pytest.raises(FieldError, match="longer"):
        fields.require_message({"message": text + "m"})


def test_ten_megabyte_message_field_is_refused() -> None:
    with pytest.raises(FieldError, match="longer"):
        fields.require_message({"message": "x" * 10_000_000})


def test_multiline_message_with_tabs_is_accepted() -> None:
    assert fields.require_message({"message": "line 1\n\tline 2"}) == "line 1\n\tline 2"


@pytest.mark.parametrize("text", ["bell\x07", "nul\x00", "esc\x1b[2J", "cr\rlf"])
def test_messages_with_control_characters_are_refused(text: str) -> None:
    with pytest.raises(FieldError, match="control characters"):
        fields.require_message({"message": text})


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_messages_are_refused(text: str) -> None:
    with pytest.raises(FieldError, match="empty"):
        fields.require_message({"message": text})


@pytest.mark.parametrize("value", [1, ["hi"], {"t": "hi"}, b"hi"])
def test_ill_typed_messages_are_refused(value: Any) -> None:
    with pytest.raises(FieldError, match="must be a string"):
        fields.require_message({"message": value})


def test_missing_message_is_refused() -> None:
    with pytest.raises(FieldError, match="missing"):
        fields.require_message({})


# ---- optional integers --------------------------------------------------------------------


def test_optional_int() -> None:
    assert fields.optional_int({}, "limit", 50, 1, 1000) == 50
    assert fields.optional_int({"limit": None}, "limit", 50, 1, 1000) == 50
    assert fields.optional_int({"limit": 1000}, "limit", 50, 1, 1000) == 1000
    for bad in (0, 1001, -3):
        with pytest.raises(FieldError, match="between"):
            fields.optional_int({"limit": bad}, "limit", 50, 1, 1000)
    for bad in (True, 2.5, "10", [10]):
        with pytest.raises(FieldError, match="integer"):
            fields.optional_int({"limit": bad}, "limit", 50, 1, 1000)
