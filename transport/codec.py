"""The wire envelope: encoding what protocol.md says to send, decoding what peers send.

Send exactly the contract; accept anything a reasonable peer sends (JSON, aliases, clocks in
several places, timestamps in several units).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgpack

from transport.numbers import wire_clock

MSGPACK = "msgpack"
JSON = "json"
MAX_FRAME_BYTES = 1 << 20  # the application's limit: a larger request gets an erro
MAX_SERVICE_CHARS = 64
OK = "OK"
SUCCESS = "sucesso"
ERROR = "erro"


class DecodeError(ValueError):
    """Bytes that are not a request we serve. When they were a readable map (a frame over
    the size limit) the refusal still echoes its `service`, `clock` and format."""

    def __init__(
        self, text: str, service: str = "unknown", clock: int = 0, fmt: str = "msgpack"
    ) -> None:
        super().__init__(text)
        self.service, self.clock, self.fmt = service, clock, fmt


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
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than ~1000
                pass
        raise DecodeError("request is not MessagePack (nor JSON)") from exc


def clock_of(message: dict[str, Any]) -> int:
    """Lamport clock of a received map: data.clock, else clock, else lamport_clock (bounded:
    see transport.numbers)."""
    data = message.get("data")
    if isinstance(data, dict) and "clock" in data:
        return wire_clock(data["clock"])
    if "clock" in message:
        return wire_clock(message["clock"])
    return wire_clock(message.get("lamport_clock", 0))


def decode_request(payload: bytes) -> Request:
    """The request in one frame. A frame over MAX_FRAME_BYTES is read (the socket's own
    limit keeps it bounded) only to answer it in kind: its service and clock are echoed."""
    obj, fmt = unpack(payload)
    if not isinstance(obj, dict):
        raise DecodeError("request is not a map", fmt=fmt)
    service = obj.get("service", obj.get("opcao"))
    if not isinstance(service, str) or not service:
        raise DecodeError("request has no service name", fmt=fmt)
    if len(service) > MAX_SERVICE_CHARS:
        raise DecodeError(f"service name longer than {MAX_SERVICE_CHARS} characters", fmt=fmt)
    clock = clock_of(obj)
    if len(payload) > MAX_FRAME_BYTES:
        text = f"request of {len(payload)} bytes exceeds {MAX_FRAME_BYTES}"
        raise DecodeError(text, service, clock, fmt)
    data = obj.get("data")
    data = dict(data) if isinstance(data, dict) else {}
    return Request(service=service, data=data, clock=clock, fmt=fmt)


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


ENVELOPE_KEYS = frozenset({"service", "opcao", "data", "timestamp", "clock", "lamport_clock"})
ERROR_SERVICES = frozenset({"error", "erro"})


def reply_data(message: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a reply. A peer that answers flat (no `data` map) has its own fields
    read instead; a reply whose service is `error`/`erro` is an erro whatever it carries."""
    data = message.get("data")
    body = (
        dict(data)
        if isinstance(data, dict)
        else {k: v for k, v in message.items() if k not in ENVELOPE_KEYS}
    )
    if str(message.get("service", "")).lower() not in ERROR_SERVICES or body.get("status") == ERROR:
        return body
    text = body.get("description") or body.get("message") or (data if isinstance(data, str) else "")
    return {**body, **error_data(str(text or "the server answered with an error"))}


# ---- publications -------------------------------------------------------------------------


def split_publication(frames: list[bytes]) -> tuple[str, bytes] | None:
    """(topic, payload) of a publication: two frames, or one 'topic payload' frame."""
    if len(frames) >= 2:
        return frames[0].decode("utf-8", "replace"), frames[-1]
    if frames and b" " in frames[0]:
        topic, _, payload = frames[0].partition(b" ")
        return topic.decode("utf-8", "replace"), payload
    return None
