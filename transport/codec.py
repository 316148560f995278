"""The wire envelope: encoding what protocol.md says to send, decoding what peers send.

Send exactly the contract; accept anything a reasonable peer sends (JSON, aliases, clocks in
several places, timestamps in several units).
"""

from __future__ import annotations

import json
import math
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgpack

MSGPACK = "msgpack"
JSON = "json"
MAX_FRAME_BYTES = 1 << 20
MAX_NAME_CHARS = 64
MAX_MESSAGE_CHARS = 10_000
OK = "OK"
SUCCESS = "sucesso"
ERROR = "erro"


class DecodeError(ValueError):
    """Bytes that are not a request map."""


class FieldError(ValueError):
    """A request whose fields are missing, ill-typed or out of bounds."""


@dataclass(frozen=True)
class Request:
    service: str
    data: dict[str, Any]
    clock: int
    fmt: str = MSGPACK


def pack(obj: Any, fmt: str = MSGPACK) -> bytes:
    if fmt == JSON:
        return json.dumps(obj, ensure_ascii=False).encode()
    return msgpack.packb(obj, use_bin_type=True)


def unpack(payload: bytes) -> tuple[Any, str]:
    """Decode MessagePack, else JSON; returns the object and the format it came in."""
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=False), MSGPACK
    except Exception as exc:  # msgpack raises several unrelated types
        stripped = payload.lstrip()
        if stripped[:1] in (b"{", b"["):
            try:
                return json.loads(payload), JSON
            except ValueError:
                pass
        raise DecodeError("request is not MessagePack (nor JSON)") from exc


def as_int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return 0
    return 0


def clock_of(message: dict[str, Any]) -> int:
    """Lamport clock of a received map: data.clock, else clock, else lamport_clock."""
    data = message.get("data")
    if isinstance(data, dict) and "clock" in data:
        return as_int(data["clock"])
    if "clock" in message:
        return as_int(message["clock"])
    return as_int(message.get("lamport_clock", 0))


def to_seconds(value: Any, default: float | None = None) -> float:
    """A timestamp in seconds, milliseconds, nanoseconds or ISO-8601; else `default` (now)."""
    fallback = time.time() if default is None else default
    if isinstance(value, bool) or value is None:
        return fallback
    if isinstance(value, (int, float)):
        number = float(value)
        if not math.isfinite(number):
            return fallback
        if number > 1e17:
            return number / 1e9
        if number > 1e11:
            return number / 1e3
        return number
    if isinstance(value, str):
        try:
            return to_seconds(float(value), fallback)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return fallback
    return fallback


def decode_request(payload: bytes) -> Request:
    if len(payload) > MAX_FRAME_BYTES:
        raise DecodeError(f"request of {len(payload)} bytes exceeds {MAX_FRAME_BYTES}")
    obj, fmt = unpack(payload)
    if not isinstance(obj, dict):
        raise DecodeError("request is not a map")
    service = obj.get("service", obj.get("opcao"))
    if not isinstance(service, str) or not service:
        raise DecodeError("request has no service name")
    data = obj.get("data")
    data = dict(data) if isinstance(data, dict) else {}
    return Request(service=service, data=data, clock=clock_of(obj), fmt=fmt)


def stamped(data: dict[str, Any], clock: int, timestamp: float) -> dict[str, Any]:
    """A request's or reply's `data` as sent: its fields plus the sender's time and clock."""
    return {**data, "timestamp": timestamp, "clock": clock}


def encode(
    service: str, data: dict[str, Any], clock: int, timestamp: float, fmt: str = MSGPACK
) -> bytes:
    return pack({"service": service, "data": stamped(data, clock, timestamp), "clock": clock}, fmt)


def stamped_publication(message: dict[str, Any], clock: int) -> dict[str, Any]:
    """A publication as sent: the clock at the top level and, if it has one, in `data`."""
    body = {**message, "clock": clock}
    if isinstance(body.get("data"), dict):
        body["data"] = {**body["data"], "clock": clock}
    return body


def error_data(text: str) -> dict[str, str]:
    return {"status": ERROR, "description": text, "message": text}


# ---- field access -------------------------------------------------------------------------


def first(data: dict[str, Any], *names: str) -> Any:
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


def require_name(data: dict[str, Any], *names: str) -> str:
    value = require_text(data, *names, max_chars=MAX_NAME_CHARS).strip()
    label = "/".join(names)
    if not value:
        raise FieldError(f"field '{label}' is empty")
    if any(unicodedata.category(ch)[0] in "CZ" for ch in value):
        raise FieldError(f"field '{label}' must not contain spaces or control characters")
    return value


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
    if not lo <= value <= hi:
        raise FieldError(f"field '{name}' must be between {lo} and {hi}")
    return value


# ---- publications -------------------------------------------------------------------------


def split_publication(frames: list[bytes]) -> tuple[str, bytes] | None:
    """(topic, payload) of a publication: two frames, or one 'topic payload' frame."""
    if len(frames) >= 2:
        return frames[0].decode("utf-8", "replace"), frames[-1]
    if frames and b" " in frames[0]:
        topic, _, payload = frames[0].partition(b" ")
        return topic.decode("utf-8", "replace"), payload
    return None
