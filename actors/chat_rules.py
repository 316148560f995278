"""What a server does with each client service, as pure decisions (no threads, no I/O)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from actors.events import Event
from transport import codec
from transport.codec import FieldError, first, require_message, require_name

HISTORY_DEFAULT = 50
HISTORY_MAX = 1000


@dataclass(frozen=True)
class Answer:
    """Reply at once with this data."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Write:
    """Make this change (durably, replicated), then reply with `done`."""

    op: str
    fields: dict[str, Any]
    done: dict[str, Any]


@dataclass(frozen=True)
class Lookup:
    """Answer from the stored history."""

    channel: str = ""
    user: str = ""
    peer: str = ""
    limit: int = HISTORY_DEFAULT
    before_clock: int | None = None


@dataclass(frozen=True)
class Unsure:
    """This replica lacks a record the request names: catch up from peers, then decide again
    (with `retried`), and only then refuse."""

    error: str


Decision = Answer | Write | Lookup | Unsure

SUCCESS = {"status": codec.SUCCESS}
OK = {"status": codec.OK}


def _error(text: str) -> Answer:
    return Answer(codec.error_data(text))


REMEMBERED_REQUESTS = 100_000


def request_id(data: dict[str, Any]) -> str:
    """Our clients' optional id of a request (the same on every retry of it)."""
    value = data.get("request_id")
    return value if isinstance(value, str) and 0 < len(value) <= codec.MAX_NAME_CHARS else ""


@dataclass
class ChatRules:
    users: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    creating: set[str] = field(default_factory=set)
    requests: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)

    def apply(self, event: Event) -> None:
        if event.request_id:
            self.requests[(event.user, event.request_id)] = None
            if len(self.requests) > REMEMBERED_REQUESTS:
                self.requests.popitem(last=False)
        if event.user:
            self.users.add(event.user)
        if event.op == "channel":
            self.channels.add(event.channel)
            self.creating.discard(event.channel)

    def abandon(self, write: Write) -> None:
        """A write decided here could not be stored."""
        if write.op == "channel":
            self.creating.discard(write.fields["channel"])

    def decide(self, service: str, data: dict[str, Any], retried: bool = False) -> Decision:
        handler = getattr(self, f"_{service}", None) if service in SERVICES else None
        if handler is None:
            return _error(f"unknown service '{service}'")
        try:
            decision = handler(data)
        except FieldError as exc:
            return _error(str(exc))
        if isinstance(decision, Unsure) and retried:
            return _error(decision.error)
        if isinstance(decision, Write) and decision.op == "channel":
            self.creating.add(decision.fields["channel"])
        return decision

    def _login(self, data: dict[str, Any]) -> Decision:
        user = require_name(data, "user", "username")
        if user in self.users:
            return Answer(SUCCESS)
        return Write("login", {"user": user}, SUCCESS)

    def _users(self, data: dict[str, Any]) -> Decision:
        return Answer({"users": sorted(self.users)})

    def _channels(self, data: dict[str, Any]) -> Decision:
        names = sorted(self.channels)
        return Answer({"channels": names, "users": names})

    def _channel(self, data: dict[str, Any]) -> Decision:
        channel = require_name(data, "channel", "name")
        if channel in self.channels or channel in self.creating:
            return _error(f"channel '{channel}' already exists")
        user = first(data, "user", "src", "from")
        return Write(
            "channel", {"channel": channel, "user": user if isinstance(user, str) else ""}, SUCCESS
        )

    def _publish(self, data: dict[str, Any]) -> Decision:
        user = require_name(data, "user", "src", "from")
        channel = require_name(data, "channel", "name")
        message = require_message(data)
        if channel not in self.channels:
            return Unsure(f"unknown channel '{channel}'")
        return self._once(
            data, user, Write("publish", {"user": user, "channel": channel, "message": message}, OK)
        )

    def _message(self, data: dict[str, Any]) -> Decision:
        src = require_name(data, "src", "from", "user")
        dst = require_name(data, "dst", "to")
        message = require_message(data)
        if dst not in self.users:
            return Unsure(f"unknown user '{dst}'")
        return self._once(
            data, src, Write("message", {"user": src, "dst": dst, "message": message}, OK)
        )

    def _once(self, data: dict[str, Any], user: str, write: Write) -> Decision:
        """A retry of a request already stored is answered, not stored again."""
        rid = request_id(data)
        if not rid:
            return write
        if (user, rid) in self.requests:
            return Answer(write.done)
        return Write(write.op, {**write.fields, "request_id": rid}, write.done)

    def _history(self, data: dict[str, Any]) -> Decision:
        limit = codec.optional_int(data, "limit", HISTORY_DEFAULT, 1, HISTORY_MAX)
        before = codec.optional_int(data, "before_clock", None, 0, 2**62)
        if first(data, "channel", "name") is not None:
            channel = require_name(data, "channel", "name")
            if channel not in self.channels:
                return Unsure(f"unknown channel '{channel}'")
            return Lookup(channel=channel, limit=limit, before_clock=before)
        user = require_name(data, "user", "src", "from")
        peer = require_name(data, "peer", "dst", "to")
        return Lookup(user=user, peer=peer, limit=limit, before_clock=before)


SERVICES = ("login", "users", "channel", "channels", "publish", "message", "history")


def publication(event: Event) -> tuple[str, dict[str, Any]]:
    """(topic, union payload) announcing a post or a private message to subscribers."""
    if event.op == "publish":
        inner = {
            "user": event.user,
            "channel": event.channel,
            "message": event.message,
            "timestamp": event.timestamp,
        }
        return event.channel, {
            "service": "publish",
            "type": "channel",
            "user": event.user,
            "src": event.user,
            "channel": event.channel,
            "message": event.message,
            "timestamp": event.timestamp,
            "data": inner,
        }
    inner = {
        "src": event.user,
        "dst": event.dst,
        "message": event.message,
        "timestamp": event.timestamp,
    }
    return event.dst, {
        "service": "message",
        "type": "private",
        "src": event.user,
        "from": event.user,
        "user": event.user,
        "dst": event.dst,
        "to": event.dst,
        "message": event.message,
        "timestamp": event.timestamp,
        "data": inner,
    }


def replication_message(event: Event, timestamp: float) -> dict[str, Any]:
    return {
        "service": "replication",
        "data": {
            "operation": event.op,
            "operationData": event.record(),
            "serverName": event.origin,
            "timestamp": timestamp,
        },
    }
