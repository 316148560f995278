"""Every map that crosses a socket: one function builds it, one parses it (docs/protocol.md).

Builders send exactly what the contract says (key order included: it is part of the bytes).
Parsers are where trust ends: they accept what a reasonable peer sends (aliases, clocks and
timestamps in several forms), validate and bound every field, and return typed values, or a
Refusal whose text the `erro` reply carries. Actors never read a raw map; a bound on a field
goes in the parser that reads it.

The envelope around these maps (service, data, timestamp, clock) is the codec's.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, TypeVar

from config.clocks import MAX_OFFSET
from config.settings import default_peer_endpoint
from transport.codec import ERROR, OK, SUCCESS, FieldError, clock_of, error_data
from transport.endpoints import peer_endpoint
from transport.fields import first, optional_int, require_message, require_name
from transport.names import MAX_NAME_CHARS
from transport.numbers import MAX_CLOCK, MAX_SEQ, bounded_int, finite, wire_timestamp
from transport.port import Inbound

T = TypeVar("T")


class Service(StrEnum):
    # clients, through the broker
    LOGIN = "login"
    USERS = "users"
    CHANNEL = "channel"
    CHANNELS = "channels"
    PUBLISH = "publish"
    MESSAGE = "message"
    HISTORY = "history"
    # server to server
    ELECTION = "election"
    CLOCK = "clock"
    ADJUST = "adjust"
    REPLICATE = "replicate"
    SYNC = "sync"
    STATUS = "status"
    STORE_LIMIT = "store_limit"  # operators: cap the database (tests fill a "disk" with it)
    # server to reference
    RANK = "rank"
    LIST = "list"
    HEARTBEAT = "heartbeat"


class Operation(StrEnum):
    """A state change, as stored and replicated."""

    LOGIN = "login"
    CHANNEL = "channel"
    PUBLISH = "publish"
    MESSAGE = "message"


OPERATIONS = frozenset(Operation)
SERVERS = "servers"  # topic of coordinator announcements
REPLICATION = "replication"  # topic (and publication service) of replicated events
HISTORY_DEFAULT = 50
HISTORY_MAX = 1000
LIST_PAGE = 1000  # names in one `users` or `channels` reply
# An event's clock may pass MAX_CLOCK (our ticks after a forged maximum was merged); SQLite
# stores up to 2**63 - 1.
MAX_EVENT_CLOCK = 2**62


@dataclass(frozen=True)
class Event:
    """One replicated state change. Its id is origin server name + per-origin sequence number,
    so applying it twice changes nothing and a gap in an origin's sequence shows that an event
    was missed."""

    origin: str
    seq: int
    clock: int
    op: Operation
    user: str = ""  # for `message`, the sender
    channel: str = ""
    dst: str = ""
    message: str = ""
    timestamp: float = 0.0
    request_id: str = ""  # set by our clients so that a retried request is stored once

    @property
    def id(self) -> str:
        return f"{self.origin}:{self.seq}"

    @property
    def valid(self) -> bool:
        """Storable as it is: a known operation, seq and clock in (0, 2**62), a finite
        timestamp (SQLite's integers end at 2**63 - 1 and a NaN would be stored as NULL)."""
        return (
            self.op in OPERATIONS
            and 0 < self.seq < MAX_EVENT_CLOCK
            and 0 < self.clock < MAX_EVENT_CLOCK
            and math.isfinite(self.timestamp)
        )


EVENT_FIELDS = tuple(f.name for f in fields(Event))


@dataclass(frozen=True)
class Refusal:
    """A request the protocol refuses; `reason` is the text its `erro` reply carries."""

    reason: str

    @property
    def reply(self) -> dict[str, str]:
        return error_data(self.reason)


def refused(data: dict[str, Any]) -> bool:
    """Whether a reply is an `erro`."""
    return data.get("status") == ERROR


def ok() -> dict[str, Any]:
    return {"status": OK}


def success() -> dict[str, Any]:
    return {"status": SUCCESS}


def _operation(value: Any) -> Operation | None:
    try:
        return Operation(value)
    except ValueError:
        return None


# ---- client services (through the broker) -------------------------------------------------


@dataclass(frozen=True)
class Login:
    user: str


@dataclass(frozen=True)
class ListUsers:
    """A page of user names: those after `after`, at most `limit` (our extension; a plain
    request gets the first page)."""

    after: str = ""
    limit: int = LIST_PAGE


@dataclass(frozen=True)
class CreateChannel:
    channel: str
    user: str  # the creator, if the client said


@dataclass(frozen=True)
class ListChannels:
    """A page of channel names, as ListUsers."""

    after: str = ""
    limit: int = LIST_PAGE


@dataclass(frozen=True)
class Publish:
    user: str
    channel: str
    message: str
    request_id: str = ""


@dataclass(frozen=True)
class SendMessage:
    src: str
    dst: str
    message: str
    request_id: str = ""


@dataclass(frozen=True)
class ReadHistory:
    """A channel's posts, or the private conversation of `user` and `peer`."""

    channel: str = ""
    user: str = ""
    peer: str = ""
    limit: int = HISTORY_DEFAULT
    before_clock: int | None = None


ClientCall = Login | ListUsers | CreateChannel | ListChannels | Publish | SendMessage | ReadHistory


def _list_page(data: dict[str, Any]) -> tuple[str, int]:
    after = data.get("after")
    if after is not None and (not isinstance(after, str) or len(after) > 4 * MAX_NAME_CHARS):
        raise FieldError("field 'after' must be a name")
    limit = optional_int(data, "limit", LIST_PAGE, 1, LIST_PAGE)
    assert limit is not None  # it has a default
    return after or "", limit


def _request_id(data: dict[str, Any]) -> str:
    """Our clients' optional id of a request (the same on every retry of it)."""
    value = data.get("request_id")
    return value if isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARS else ""


def _create_channel(data: dict[str, Any]) -> CreateChannel:
    channel = require_name(data, "channel", "name")
    user = first(data, "user", "src", "from")
    return CreateChannel(channel, user if isinstance(user, str) else "")


def _publish(data: dict[str, Any]) -> Publish:
    user = require_name(data, "user", "src", "from")
    channel = require_name(data, "channel", "name")
    return Publish(user, channel, require_message(data), _request_id(data))


def _send_message(data: dict[str, Any]) -> SendMessage:
    src = require_name(data, "src", "from", "user")
    dst = require_name(data, "dst", "to")
    return SendMessage(src, dst, require_message(data), _request_id(data))


def _read_history(data: dict[str, Any]) -> ReadHistory:
    limit = optional_int(data, "limit", HISTORY_DEFAULT, 1, HISTORY_MAX)
    before = optional_int(data, "before_clock", None, 0, MAX_CLOCK)
    assert limit is not None  # it has a default
    if first(data, "channel", "name") is not None:
        channel = require_name(data, "channel", "name")
        return ReadHistory(channel=channel, limit=limit, before_clock=before)
    user = require_name(data, "user", "src", "from")
    peer = require_name(data, "peer", "dst", "to")
    return ReadHistory(user=user, peer=peer, limit=limit, before_clock=before)


CLIENT_SERVICES: dict[str, Callable[[dict[str, Any]], ClientCall]] = {
    Service.LOGIN: lambda data: Login(require_name(data, "user", "username")),
    Service.USERS: lambda data: ListUsers(*_list_page(data)),
    Service.CHANNEL: _create_channel,
    Service.CHANNELS: lambda data: ListChannels(*_list_page(data)),
    Service.PUBLISH: _publish,
    Service.MESSAGE: _send_message,
    Service.HISTORY: _read_history,
}


def _parse(table: dict[str, Callable[..., T]], service: str, *args: Any) -> T | Refusal:
    """The typed request `table` makes of `args` for `service`, or the refusal to send."""
    parse = table.get(service)
    if parse is None:
        return Refusal(f"unknown service '{service}'")
    try:
        return parse(*args)
    except FieldError as exc:
        return Refusal(str(exc))


def parse_client_request(service: str, data: dict[str, Any]) -> ClientCall | Refusal:
    return _parse(CLIENT_SERVICES, service, data)


def client_request(service: str, data: dict[str, Any]) -> dict[str, Any]:
    """A request's data as our clients send it: `publish` and `message` carry a request_id,
    the same on every resend, so that a retry after a lost reply is stored once."""
    if service in (Service.PUBLISH, Service.MESSAGE) and "request_id" not in data:
        return {**data, "request_id": uuid.uuid4().hex}
    return data


def users_reply(names: list[str], more: bool = False) -> dict[str, Any]:
    """`more`: further names follow the last one (ask again with `after`)."""
    return {"users": names, **({"more": True} if more else {})}


def channels_reply(names: list[str], more: bool = False) -> dict[str, Any]:
    # also under `users`: the assignment text names that key and one published bot reads it
    return {"channels": names, "users": names, **({"more": True} if more else {})}


def history_reply(events: Iterable[Event]) -> dict[str, Any]:
    return {"status": OK, "messages": [history_entry(e) for e in events]}


def history_entry(event: Event) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "user": event.user,
        "src": event.user,
        "message": event.message,
        "timestamp": event.timestamp,
        "clock": event.clock,
        "id": event.id,
    }
    if event.op == Operation.PUBLISH:
        entry["channel"] = event.channel
    else:
        entry["dst"] = event.dst
    return entry


# ---- publications to clients (topic: a channel or a user) ---------------------------------


def publication(event: Event) -> tuple[str, dict[str, Any]] | None:
    """(topic, union payload) announcing a post or a private message; None for the other
    operations (subscribers never see them)."""
    if event.op == Operation.PUBLISH:
        inner = {
            "user": event.user,
            "channel": event.channel,
            "message": event.message,
            "timestamp": event.timestamp,
        }
        return event.channel, {
            "service": Service.PUBLISH,
            "type": "channel",
            "user": event.user,
            "src": event.user,
            "channel": event.channel,
            "message": event.message,
            "timestamp": event.timestamp,
            "data": inner,
        }
    if event.op != Operation.MESSAGE:
        return None
    inner = {
        "src": event.user,
        "dst": event.dst,
        "message": event.message,
        "timestamp": event.timestamp,
    }
    return event.dst, {
        "service": Service.MESSAGE,
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


@dataclass(frozen=True)
class Delivery:
    """A post or private message as a client receives it."""

    topic: str
    kind: str  # "channel" or "private"
    user: str
    channel: str
    dst: str
    message: str
    timestamp: float
    clock: int


def parse_delivery(topic: str, message: dict[str, Any]) -> Delivery:
    """Any team's publication: fields at the top level or in `data`, under any alias."""
    data = message.get("data") if isinstance(message.get("data"), dict) else {}

    def pick(*names: str) -> str:
        for source in (message, data):
            for name in names:
                value = source.get(name)
                if isinstance(value, str) and value:
                    return value
        return ""

    private = (
        message.get("type") == "private"
        or message.get("service") == Service.MESSAGE
        or (bool(pick("dst", "to")) and not pick("channel"))
    )
    return Delivery(
        topic=topic,
        kind="private" if private else "channel",
        user=pick("user", "src", "from"),
        channel=pick("channel"),
        dst=pick("dst", "to"),
        message=pick("message"),
        timestamp=wire_timestamp(message.get("timestamp", data.get("timestamp"))),
        clock=clock_of(message),
    )


# ---- publications between servers (topics `servers` and `replication`) -------------------


@dataclass(frozen=True)
class CoordinatorAnnounced:
    name: str


@dataclass(frozen=True)
class Replicated:
    """An event seen on the `replication` topic."""

    event: Event


def coordinator_announcement(name: str, timestamp: float) -> tuple[str, dict[str, Any]]:
    return SERVERS, {
        "service": Service.ELECTION,
        "data": {"coordinator": name, "timestamp": timestamp},
    }


def replication_publication(event: Event, timestamp: float) -> tuple[str, dict[str, Any]]:
    return REPLICATION, {
        "service": REPLICATION,
        "data": {
            "operation": event.op,
            "operationData": _record(event),
            "serverName": event.origin,
            "timestamp": timestamp,
        },
    }


def parse_server_publication(
    topic: str, message: dict[str, Any]
) -> CoordinatorAnnounced | Replicated | None:
    """What a server heard on `servers` or `replication`; None for shapes it does not know
    (other teams publish theirs on the same topics)."""
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    if topic == SERVERS and message.get("service") == Service.ELECTION:
        name = data.get("coordinator", message.get("coordinator"))
        if isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS:
            return CoordinatorAnnounced(name)
        return None
    if topic == REPLICATION and message.get("service") == REPLICATION:
        event = _event_from_replication(data)
        return Replicated(event) if event is not None else None
    return None


def _record(event: Event) -> dict[str, Any]:
    """operationData: the protocol's fields of the operation plus our id."""
    base = {
        "id": event.id,
        "origin": event.origin,
        "seq": event.seq,
        "timestamp": event.timestamp,
        "clock": event.clock,
        "request_id": event.request_id,
    }
    if event.op == Operation.LOGIN:
        return {"user": event.user, **base}
    if event.op == Operation.CHANNEL:
        return {"channel": event.channel, "user": event.user, **base}
    if event.op == Operation.PUBLISH:
        return {"user": event.user, "channel": event.channel, "message": event.message, **base}
    return {"src": event.user, "dst": event.dst, "message": event.message, **base}


def _event_from_replication(data: dict[str, Any]) -> Event | None:
    """Our event from a `replication` publication; None for shapes of other teams."""
    op = _operation(data.get("operation"))
    record = data.get("operationData")
    if op is None or not isinstance(record, dict):
        return None
    origin, seq = record.get("origin"), record.get("seq")
    if not isinstance(origin, str) or not isinstance(seq, int) or seq <= 0:
        return None
    clock = bounded_int(record.get("clock"), 0, MAX_EVENT_CLOCK)
    if record.get("id") != f"{origin}:{seq}" or clock is None:
        return None
    event = Event(
        origin=origin,
        seq=seq,
        clock=clock,
        op=op,
        user=str(record.get("user") or record.get("src") or ""),
        channel=str(record.get("channel", "")),
        dst=str(record.get("dst", "")),
        message=str(record.get("message", "")),
        timestamp=wire_timestamp(record.get("timestamp")),
        request_id=str(record.get("request_id", "")),
    )
    return event if event.valid else None


# ---- server to server (our services besides `election` and `clock`) ----------------------


@dataclass(frozen=True)
class PushRequest:
    """`replicate`: `origin` pushes its own events."""

    inbound: Inbound
    events: tuple[Event, ...]
    origin: str


@dataclass(frozen=True)
class SyncRequest:
    """`sync`: the caller holds `heads`; send what it lacks, at most `limit` (0: unsaid)."""

    inbound: Inbound
    heads: dict[str, int]
    limit: int


@dataclass(frozen=True)
class AdjustRequest:
    """`adjust`: add `delta` seconds to this server's clock offset (Berkeley)."""

    inbound: Inbound
    delta: float


@dataclass(frozen=True)
class StoreLimitRequest:
    """`store_limit` (operators): cap this server's database at `max_db_mb` (0: no cap)."""

    inbound: Inbound
    max_db_mb: float


@dataclass(frozen=True)
class ClockRequest:
    inbound: Inbound


@dataclass(frozen=True)
class ElectionRequest:
    inbound: Inbound


@dataclass(frozen=True)
class StatusRequest:
    inbound: Inbound


PeerRequest = (
    PushRequest
    | SyncRequest
    | AdjustRequest
    | ClockRequest
    | ElectionRequest
    | StatusRequest
    | StoreLimitRequest
)


@dataclass(frozen=True)
class SyncPage:
    """A `sync` reply: events the caller lacked, and whether the peer has more."""

    events: tuple[Event, ...]
    more: bool


def event_to_wire(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in EVENT_FIELDS}  # asdict is 3x slower


def _event_from_wire(raw: Any) -> Event | None:
    if not isinstance(raw, dict):
        return None
    try:
        event = Event(
            origin=str(raw["origin"]),
            seq=int(raw["seq"]),
            clock=int(raw["clock"]),
            op=Operation(raw["op"]),
            user=str(raw.get("user", "")),
            channel=str(raw.get("channel", "")),
            dst=str(raw.get("dst", "")),
            message=str(raw.get("message", "")),
            timestamp=float(raw.get("timestamp", 0.0)),
            request_id=str(raw.get("request_id", "")),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    return event if event.valid else None


def _events(raw: Any) -> tuple[Event, ...]:
    """The well-formed events of a list (the rest skipped)."""
    parsed = (_event_from_wire(e) for e in (raw if isinstance(raw, list) else ()))
    return tuple(e for e in parsed if e is not None)


MAX_ORIGINS = 1000  # servers a heads vector may name


def _heads(raw: Any) -> dict[str, int] | None:
    """A heads vector: origin name -> highest sequence number held. Entries that are not a
    name and a sequence number in range are left out; at most MAX_ORIGINS are read."""
    if not isinstance(raw, dict):
        return None
    heads: dict[str, int] = {}
    for origin, seq in itertools.islice(raw.items(), MAX_ORIGINS):
        number = bounded_int(seq, 0, MAX_SEQ)
        if isinstance(origin, str) and 0 < len(origin) <= MAX_NAME_CHARS and number is not None:
            heads[origin] = number
    return heads


def _adjust(inbound: Inbound, data: dict[str, Any]) -> AdjustRequest:
    delta = finite(data.get("delta"), -MAX_OFFSET, MAX_OFFSET)
    if delta is None:
        raise FieldError(f"adjust needs a 'delta' in seconds between ±{MAX_OFFSET:g}")
    return AdjustRequest(inbound, delta)


def _store_limit(inbound: Inbound, data: dict[str, Any]) -> StoreLimitRequest:
    mb = finite(data.get("max_db_mb"), 0.0, float(2**40))
    if mb is None:
        raise FieldError("max_db_mb must be a number >= 0")
    return StoreLimitRequest(inbound, mb)


def store_limit_reply(mb: float) -> dict[str, Any]:
    return {"status": OK, "max_db_mb": mb}


def _push(inbound: Inbound, data: dict[str, Any]) -> PushRequest:
    origin = data.get("origin")
    events = _events(data.get("events"))
    return PushRequest(inbound, events, origin if isinstance(origin, str) else "")


def _sync(inbound: Inbound, data: dict[str, Any]) -> SyncRequest:
    limit = bounded_int(data.get("limit"), 0, MAX_SEQ) or 0
    return SyncRequest(inbound, _heads(data.get("heads")) or {}, limit)


PEER_SERVICES: dict[str, Callable[[Inbound, dict[str, Any]], PeerRequest]] = {
    Service.ELECTION: lambda inbound, data: ElectionRequest(inbound),
    Service.CLOCK: lambda inbound, data: ClockRequest(inbound),
    Service.ADJUST: _adjust,
    Service.REPLICATE: _push,
    Service.SYNC: _sync,
    Service.STATUS: lambda inbound, data: StatusRequest(inbound),
    Service.STORE_LIMIT: _store_limit,
}


def parse_peer_request(inbound: Inbound) -> PeerRequest | Refusal:
    return _parse(PEER_SERVICES, inbound.request.service, inbound, inbound.request.data)


def push_request(events: Iterable[Event], origin: str) -> dict[str, Any]:
    return {"events": [event_to_wire(e) for e in events], "origin": origin}


def push_reply(heads: dict[str, int], error: str = "") -> dict[str, Any]:
    """Sent once the pushed events are durable (or could not be stored: `error`): what this
    replica holds of each origin."""
    status = Refusal(error).reply if error else {"status": OK}
    return {**status, "heads": heads}


def parse_push_reply(data: dict[str, Any]) -> dict[str, int] | None:
    return _heads(data.get("heads"))


def sync_request(heads: dict[str, int], limit: int) -> dict[str, Any]:
    return {"heads": heads, "limit": limit}


def sync_reply(events: Iterable[Event], more: bool, heads: dict[str, int]) -> dict[str, Any]:
    return {
        "status": OK,
        "events": [event_to_wire(e) for e in events],
        "more": more,
        "heads": dict(heads),
    }


def parse_sync_reply(data: dict[str, Any]) -> SyncPage | None:
    """The page of a `sync` reply; None if the peer refused."""
    if data.get("status") != OK:
        return None
    return SyncPage(_events(data.get("events")), bool(data.get("more")))


def adjust_request(delta: float) -> dict[str, Any]:
    return {"delta": delta}


def clock_reply(now: float) -> dict[str, Any]:
    return {"time": now}


def parse_clock_reply(data: dict[str, Any]) -> float | None:
    """The replier's physical time in seconds; None if it sent none."""
    their = data.get("time")
    if isinstance(their, bool) or not isinstance(their, (int, float)):
        return None
    return wire_timestamp(their)


def election_reply() -> dict[str, Any]:
    return {"election": OK}


def parse_election_reply(data: dict[str, Any]) -> bool:
    """Whether the higher-ranked server answered OK (and so takes the election over)."""
    return data.get("election") == OK


def status_reply(status: dict[str, Any]) -> dict[str, Any]:
    return {"status": OK, **status}


# ---- server to reference ------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """A live server as the reference lists it; `address` is its server-to-server endpoint."""

    name: str
    rank: int
    address: str


@dataclass(frozen=True)
class RankRequest:
    name: str
    address: str | None


@dataclass(frozen=True)
class ListRequest:
    pass


@dataclass(frozen=True)
class HeartbeatRequest:
    name: str


ReferenceCall = RankRequest | ListRequest | HeartbeatRequest


def _rank(data: dict[str, Any]) -> RankRequest:
    name = require_name(data, "user", "name")
    return RankRequest(name, peer_endpoint(data["address"]) if data.get("address") else None)


REFERENCE_SERVICES: dict[str, Callable[[dict[str, Any]], ReferenceCall]] = {
    Service.RANK: _rank,
    Service.LIST: lambda data: ListRequest(),
    Service.HEARTBEAT: lambda data: HeartbeatRequest(require_name(data, "user", "name")),
}


def parse_reference_request(service: str, data: dict[str, Any]) -> ReferenceCall | Refusal:
    return _parse(REFERENCE_SERVICES, service, data)


def rank_request(name: str, address: str) -> dict[str, Any]:
    return {"user": name, "address": address}


def heartbeat_request(name: str) -> dict[str, Any]:
    return {"user": name}


def rank_reply(rank: int) -> dict[str, Any]:
    return {"rank": rank}


def parse_rank_reply(data: dict[str, Any]) -> int | None:
    rank = data.get("rank")
    return rank if isinstance(rank, int) and not isinstance(rank, bool) else None


def list_reply(peers: Iterable[Peer]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for peer in peers:
        item: dict[str, Any] = {"name": peer.name, "rank": peer.rank}
        if peer.address:
            item["address"] = peer.address
        items.append(item)
    return {"list": items}


def parse_list_reply(data: dict[str, Any], me: str) -> tuple[Peer, ...]:
    """The other live servers, tolerating extra keys and missing addresses (the protocol's
    default endpoint then); an item whose name or address is unusable is left out."""
    items = data.get("list")
    peers = []
    for item in items[:MAX_ORIGINS] if isinstance(items, list) else []:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS or name == me:
            continue
        try:
            address = peer_endpoint(item.get("address") or default_peer_endpoint(name))
        except FieldError:
            continue
        peers.append(Peer(name, bounded_int(item.get("rank"), 0, MAX_SEQ) or 0, address))
    return tuple(sorted(peers, key=lambda p: p.name))
