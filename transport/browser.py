"""The WebSocket contract between a browser and `bbs web` (docs/protocol.md, "Browsers"):
JSON text frames, parsed here into typed values or a Refusal, and the frames sent back.

The gateway acts as the logged-in user: the browser never names who it is in a request
(`user` of `publish`, `src` of `message`, `user` of a private `history` are filled in by the
gateway), and only the fields each service takes are forwarded to the cluster.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from typing import Any

from transport.codec import FieldError
from transport.names import normal_name
from transport.protocol import Delivery, Service

MAX_FRAME = 1 << 20  # bytes of one browser frame (the cluster's own request limit)
MAX_ID_CHARS = 64
SHAPE = '{"service": S, "data": {...}}'
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
# The cluster's services a browser may call, and the fields of each forwarded as given.
FORWARDED: dict[str, tuple[str, ...]] = {
    Service.LOGIN: ("user", "password", "new_password"),
    Service.USERS: ("after", "limit"),
    Service.CHANNEL: ("channel",),
    Service.CHANNELS: ("after", "limit"),
    Service.PUBLISH: ("channel", "message", "request_id"),
    Service.MESSAGE: ("dst", "message", "request_id"),
    Service.HISTORY: ("channel", "peer", "limit", "before_clock"),
    Service.WHO: (),
}
# Services that act as the logged-in user (`history` of a private conversation): refused
# before a login.
AS_USER = frozenset({Service.PUBLISH, Service.MESSAGE, Service.HISTORY})
# Services that name who asks when a user is logged in (the cluster's presence counts it).
NAMES_ASKER = frozenset({Service.USERS, Service.WHO, Service.CHANNEL})


@dataclass(frozen=True)
class ClusterCall:
    """A request for the cluster; `data` is what the browser may set (the user is added by
    the session)."""

    service: str
    data: dict[str, Any]
    id: str | int | None = None


@dataclass(frozen=True)
class TopicChange:
    """`subscribe` or `unsubscribe` a channel: handled by the gateway."""

    channel: str
    on: bool
    id: str | int | None = None


@dataclass(frozen=True)
class Refused:
    """A frame the gateway does not serve: answered with an error frame (with the frame's
    `service` and `id` when it had usable ones)."""

    reason: str
    service: str | None = None
    id: str | int | None = None

    @property
    def frame(self) -> str:
        return error_frame(self.reason, self.service, self.id)


BrowserFrame = ClusterCall | TopicChange


def _id(raw: Any) -> str | int | None:
    """The browser's optional `id`, echoed in the answer so it can match replies."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ValueError("id must be a string or an integer")
    if isinstance(raw, str) and len(raw) > MAX_ID_CHARS:
        raise ValueError(f"id longer than {MAX_ID_CHARS} characters")
    if isinstance(raw, int) and not -(2**53) < raw < 2**53:
        raise ValueError("id out of range")
    return raw


def parse_frame(text: str) -> BrowserFrame | Refused:
    """One text frame from a browser."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME:
        return Refused(f"frame larger than {MAX_FRAME} bytes")
    try:
        frame = json.loads(text)
    except ValueError:
        return Refused(f"not JSON: send {SHAPE}")
    if not isinstance(frame, dict):
        return Refused(f"a frame must be a JSON object {SHAPE}")
    try:
        ident = _id(frame.get("id"))
    except ValueError as exc:
        return Refused(str(exc))
    service, data = frame.get("service"), frame.get("data", {})
    if not isinstance(service, str) or service not in (*FORWARDED, SUBSCRIBE, UNSUBSCRIBE):
        known = ", ".join([*FORWARDED, SUBSCRIBE, UNSUBSCRIBE])
        return Refused(f"unknown service {str(service)[:64]!r}; known: {known}", None, ident)
    if not isinstance(data, dict):
        return Refused("data must be an object", service, ident)
    if service in (SUBSCRIBE, UNSUBSCRIBE):
        channel = data.get("channel")
        if not isinstance(channel, str):
            return Refused(f"{service} needs data.channel, a channel name", service, ident)
        try:
            return TopicChange(normal_name(channel, "channel"), service == SUBSCRIBE, ident)
        except FieldError as exc:
            return Refused(str(exc), service, ident)
    kept = {k: data[k] for k in FORWARDED[service] if k in data}
    return ClusterCall(service, kept, ident)


def _with_id(frame: dict[str, Any], ident: str | int | None) -> str:
    if ident is not None:
        frame["id"] = ident
    return json.dumps(frame, ensure_ascii=False)


def reply_frame(service: str, data: dict[str, Any], ident: str | int | None = None) -> str:
    """The cluster's (or the gateway's) answer to one request."""
    return _with_id({"service": service, "data": data}, ident)


def error_frame(text: str, service: str | None = None, ident: str | int | None = None) -> str:
    """What a frame the gateway cannot serve gets; the socket stays open."""
    frame: dict[str, Any] = {"error": text}
    if service is not None:
        frame["service"] = service
    return _with_id(frame, ident)


def text_frame(text: str) -> bytes:
    """`text` as one WebSocket text frame from a server (RFC 6455 5.2: FIN, opcode 1, no
    mask), so the gateway encodes a delivery once for all its browsers."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def delivery_frame(delivery: Delivery) -> str:
    """A live post or private message: `{"topic": T, "message": {...}}`."""
    message = asdict(delivery)
    del message["topic"]
    message["sealed"] = bool(delivery.sealed)
    return json.dumps({"topic": delivery.topic, "message": message}, ensure_ascii=False)
