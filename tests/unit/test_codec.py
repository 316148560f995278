"""The envelope: what we send, and every "be liberal in what you accept" rule of protocol.md."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import msgpack
import pytest

from transport import codec
from transport.codec import DecodeError


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


def test_missing_or_garbage_timestamp_never_breaks_decoding() -> None:
    request = codec.decode_request(
        packed({"service": "users", "data": {"timestamp": "not a time"}})
    )
    assert request.service == "users"


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
