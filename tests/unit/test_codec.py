"""The envelope: what we send, and every "be liberal in what you accept" rule of protocol.md."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import msgpack
import pytest

from transport import codec
from transport.codec import DecodeError, FieldError


def packed(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


# ---- sending ------------------------------------------------------------------------------


def test_encode_puts_clock_in_data_and_top_level_and_timestamp_in_data() -> None:
    raw = codec.encode("login", {"status": "sucesso"}, clock=7, timestamp=1700000000.5)
    message = msgpack.unpackb(raw, raw=False)
    assert message == {
        "service": "login",
        "clock": 7,
        "data": {"status": "sucesso", "timestamp": 1700000000.5, "clock": 7},
    }
    assert isinstance(message["data"]["timestamp"], float)


def test_encode_in_json_has_the_same_shape() -> None:
    raw = codec.encode("users", {"users": ["ana"]}, clock=3, timestamp=12.5, fmt=codec.JSON)
    assert json.loads(raw) == {
        "service": "users",
        "clock": 3,
        "data": {"users": ["ana"], "timestamp": 12.5, "clock": 3},
    }


def test_encoded_request_decodes_back() -> None:
    request = codec.decode_request(codec.encode("publish", {"user": "ana"}, 4, 1.0))
    assert request == codec.Request("publish", {"user": "ana", "timestamp": 1.0, "clock": 4}, 4)


def test_error_data_carries_the_text_in_description_and_message() -> None:
    assert codec.error_data("no such channel") == {
        "status": "erro",
        "description": "no such channel",
        "message": "no such channel",
    }


# ---- decoding the envelope ----------------------------------------------------------------


def test_service_is_read_from_service() -> None:
    request = codec.decode_request(packed({"service": "users", "data": {}}))
    assert request.service == "users"
    assert request.fmt == codec.MSGPACK


def test_service_falls_back_to_opcao() -> None:
    assert (
        codec.decode_request(packed({"opcao": "login", "data": {"user": "a"}})).service == "login"
    )


def test_service_wins_over_opcao() -> None:
    assert codec.decode_request(packed({"service": "users", "opcao": "login"})).service == "users"


def test_json_request_is_accepted_and_remembered_as_json() -> None:
    raw = json.dumps({"service": "login", "data": {"user": "ana"}}).encode()
    request = codec.decode_request(raw)
    assert (request.service, request.data, request.fmt) == ("login", {"user": "ana"}, codec.JSON)


def test_json_with_leading_whitespace_is_accepted() -> None:
    request = codec.decode_request(b" \n\t" + json.dumps({"opcao": "users"}).encode())
    assert (request.service, request.fmt) == ("users", codec.JSON)


def test_missing_data_becomes_empty_and_non_map_data_is_ignored() -> None:
    assert codec.decode_request(packed({"service": "users"})).data == {}
    assert codec.decode_request(packed({"service": "users", "data": [1, 2]})).data == {}


def test_unknown_fields_are_kept_but_harmless() -> None:
    request = codec.decode_request(
        packed({"service": "users", "extra": 1, "data": {"colour": "blue"}})
    )
    assert request.data == {"colour": "blue"}


@pytest.mark.parametrize(
    "message",
    [
        {"data": {}},  # no service at all
        {"service": ""},  # empty
        {"service": 5},  # ill-typed
        {"service": None, "opcao": None},
        {"service": ["login"]},
    ],
)
def test_request_without_a_usable_service_is_a_decode_error(message: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        codec.decode_request(packed(message))


@pytest.mark.parametrize("obj", [[1, 2], "login", 42, None])
def test_a_request_that_is_not_a_map_is_a_decode_error(obj: Any) -> None:
    with pytest.raises(DecodeError):
        codec.decode_request(packed(obj))
    with pytest.raises(DecodeError):
        codec.decode_request(json.dumps(obj).encode())


@pytest.mark.parametrize("payload", [b"", b"{not json", b"{\xff\xfe", b"[1, 2", b"hello"])
def test_bytes_that_are_neither_msgpack_nor_json_are_a_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        codec.decode_request(payload)


def test_random_bytes_are_always_a_decode_error() -> None:
    rng = random.Random(20240601)
    for _ in range(2000):
        payload = rng.randbytes(rng.randint(1, 300))
        with pytest.raises(DecodeError):
            codec.decode_request(payload)


def test_a_ten_megabyte_request_is_rejected_before_decoding() -> None:
    payload = packed(
        {"service": "publish", "data": {"user": "ana", "channel": "c", "message": "x" * 10_000_000}}
    )
    with pytest.raises(DecodeError, match="exceeds"):
        codec.decode_request(payload)


# ---- Lamport clock ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "clock"),
    [
        ({"data": {"clock": 5}, "clock": 9, "lamport_clock": 11}, 5),  # data.clock first
        ({"data": {}, "clock": 9, "lamport_clock": 11}, 9),  # then top-level clock
        ({"data": {}, "lamport_clock": 11}, 11),  # then lamport_clock
        ({"data": {}}, 0),  # missing -> 0
        ({}, 0),
        ({"data": "junk", "clock": 4}, 4),
        ({"clock": "12"}, 12),  # numeric strings
        ({"clock": 12.9}, 12),
        ({"clock": "soon"}, 0),  # unreadable -> 0
        ({"clock": True}, 0),
        ({"clock": math.nan}, 0),
        ({"clock": [3]}, 0),
    ],
)
def test_clock_is_read_from_data_then_top_level_then_lamport_clock(
    message: dict[str, Any], clock: int
) -> None:
    assert codec.clock_of(message) == clock
    assert codec.decode_request(packed({"service": "users", **message})).clock == clock


# ---- timestamps ---------------------------------------------------------------------------

SECONDS = 1_700_000_000.25


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (SECONDS, SECONDS),  # float seconds
        (1_700_000_000, 1_700_000_000.0),  # int seconds
        (1_700_000_000_250, SECONDS),  # milliseconds (> 1e11)
        (1_700_000_000_250_000_000, SECONDS),  # nanoseconds (> 1e17)
        (1e11, 1e11),  # not above 1e11: still seconds
        ("1700000000.25", SECONDS),  # number in a string
        ("1700000000250", SECONDS),
        ("2023-11-14T22:13:20.25Z", SECONDS),  # ISO-8601, Z
        ("2023-11-14T22:13:20.250+00:00", SECONDS),  # ISO-8601, offset
        ("2023-11-15T00:13:20.25+02:00", SECONDS),
    ],
)
def test_timestamps_in_every_accepted_unit(value: Any, seconds: float) -> None:
    assert codec.to_seconds(value) == pytest.approx(seconds, abs=1e-3)


@pytest.mark.parametrize("value", [None, "", "yesterday", True, math.nan, math.inf, {"t": 1}, [1]])
def test_unreadable_timestamp_falls_back_to_the_default(value: Any) -> None:
    assert codec.to_seconds(value, default=42.0) == 42.0


def test_unreadable_timestamp_without_default_is_now() -> None:
    before = time.time()
    assert before <= codec.to_seconds("garbage") <= time.time()


def test_missing_or_garbage_timestamp_never_breaks_decoding() -> None:
    request = codec.decode_request(
        packed({"service": "users", "data": {"timestamp": "not a time"}})
    )
    assert request.service == "users"


# ---- field access: aliases ----------------------------------------------------------------


def test_first_takes_the_first_present_alias_and_skips_none() -> None:
    assert codec.first({"name": "x", "channel": "y"}, "channel", "name") == "y"
    assert codec.first({"name": "x"}, "channel", "name") == "x"
    assert codec.first({"channel": None, "name": "x"}, "channel", "name") == "x"
    assert codec.first({}, "channel", "name") is None


def test_require_name_reads_aliases() -> None:
    assert codec.require_name({"username": "ana"}, "user", "username") == "ana"
    assert codec.require_name({"to": "bob"}, "dst", "to") == "bob"


# ---- field validation: names --------------------------------------------------------------


def test_name_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    at_limit = "a" * codec.MAX_NAME_CHARS
    assert codec.require_name({"user": at_limit}, "user") == at_limit
    with pytest.raises(FieldError, match="longer"):
        codec.require_name({"user": at_limit + "a"}, "user")


def test_three_hundred_character_name_is_refused() -> None:
    with pytest.raises(FieldError, match="longer than"):
        codec.require_name({"channel": "c" * 300}, "channel", "name")


@pytest.mark.parametrize(
    "name",
    ["ana\x00", "a\nna", "a\tb", "\x1b[31mred", "a\u200bb", "ana maria", "a\u00a0b", "a\x7fb"],
)
def test_names_with_control_characters_or_spaces_are_refused(name: str) -> None:
    with pytest.raises(FieldError, match="control characters"):
        codec.require_name({"user": name}, "user")


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_empty_names_are_refused(name: str) -> None:
    with pytest.raises(FieldError, match="empty"):
        codec.require_name({"user": name}, "user")


@pytest.mark.parametrize("value", [5, 5.0, ["ana"], {"n": "ana"}, b"ana", True])
def test_ill_typed_names_are_refused(value: Any) -> None:
    with pytest.raises(FieldError, match="must be a string"):
        codec.require_name({"user": value}, "user")


def test_missing_name_is_refused_naming_every_alias() -> None:
    with pytest.raises(FieldError, match="missing field 'user/username'"):
        codec.require_name({"user": None}, "user", "username")


def test_names_are_trimmed_and_may_be_unicode() -> None:
    assert codec.require_name({"user": "  joão  "}, "user") == "joão"
    assert codec.require_name({"user": "Zoë-Ω_1"}, "user") == "Zoë-Ω_1"


# ---- field validation: messages -----------------------------------------------------------


def test_message_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    text = "m" * codec.MAX_MESSAGE_CHARS
    assert codec.require_message({"message": text}) == text
    with pytest.raises(FieldError, match="longer"):
        codec.require_message({"message": text + "m"})


def test_ten_megabyte_message_field_is_refused() -> None:
    with pytest.raises(FieldError, match="longer"):
        codec.require_message({"message": "x" * 10_000_000})


def test_multiline_message_with_tabs_is_accepted() -> None:
    assert codec.require_message({"message": "line 1\n\tline 2"}) == "line 1\n\tline 2"


@pytest.mark.parametrize("text", ["bell\x07", "nul\x00", "esc\x1b[2J", "cr\rlf"])
def test_messages_with_control_characters_are_refused(text: str) -> None:
    with pytest.raises(FieldError, match="control characters"):
        codec.require_message({"message": text})


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_messages_are_refused(text: str) -> None:
    with pytest.raises(FieldError, match="empty"):
        codec.require_message({"message": text})


@pytest.mark.parametrize("value", [1, ["hi"], {"t": "hi"}, b"hi"])
def test_ill_typed_messages_are_refused(value: Any) -> None:
    with pytest.raises(FieldError, match="must be a string"):
        codec.require_message({"message": value})


def test_missing_message_is_refused() -> None:
    with pytest.raises(FieldError, match="missing"):
        codec.require_message({})


# ---- optional integers --------------------------------------------------------------------


def test_optional_int() -> None:
    assert codec.optional_int({}, "limit", 50, 1, 1000) == 50
    assert codec.optional_int({"limit": None}, "limit", 50, 1, 1000) == 50
    assert codec.optional_int({"limit": 1000}, "limit", 50, 1, 1000) == 1000
    for bad in (0, 1001, -3):
        with pytest.raises(FieldError, match="between"):
            codec.optional_int({"limit": bad}, "limit", 50, 1, 1000)
    for bad in (True, 2.5, "10", [10]):
        with pytest.raises(FieldError, match="integer"):
            codec.optional_int({"limit": bad}, "limit", 50, 1, 1000)


# ---- publications -------------------------------------------------------------------------


def test_two_frame_publication() -> None:
    assert codec.split_publication([b"general", b"payload"]) == ("general", b"payload")


def test_publication_with_extra_frames_uses_the_last_as_payload() -> None:
    assert codec.split_publication([b"ana", b"middle", b"payload"]) == ("ana", b"payload")


def test_single_frame_publication_topic_space_payload() -> None:
    body = packed({"service": "publish", "message": "a b c"})
    assert codec.split_publication([b"general " + body]) == ("general", body)


@pytest.mark.parametrize("frames", [[], [b"nospace"]])
def test_unrecognised_publication_is_none(frames: list[bytes]) -> None:
    assert codec.split_publication(frames) is None


def test_unpack_reports_the_format() -> None:
    assert codec.unpack(packed({"a": 1})) == ({"a": 1}, codec.MSGPACK)
    assert codec.unpack(b'{"a": 1}') == ({"a": 1}, codec.JSON)
    assert codec.pack({"a": 1}, codec.JSON) == b'{"a": 1}'
