"""Every map that crosses a socket: one function builds it, one parses it (docs/protocol.md).

Builders send exactly what the contract says (key order included: it is part of the bytes).
Parsers are where trust ends: they accept what a reasonable peer sends (aliases, clocks and
timestamps in several forms), validate and bound every field, and return typed values, or a
Refusal whose text the `erro` reply carries. Actors never read a raw map; a bound on a field
goes in the parser that reads it.

The envelope around these maps (service, data, timestamp, clock) is the codec's.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, TypeVar

from config.clocks import MAX_OFFSET
from config.settings import default_peer_endpoint
from transport import sealing
from transport.codec import ERROR, OK, SUCCESS, FieldError, clock_of, error_data
from transport.endpoints import peer_endpoint
from transport.fields import first, optional_int, optional_text, require_message, require_name
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
    WHO = "who"  # ours: who is online (docs/protocol.md, Presence)
    # server to server
    ELECTION = "election"
    CLOCK = "clock"
    ADJUST = "adjust"
    REPLICATE = "replicate"
    SYNC = "sync"
    STATUS = "status"
    STORE_LIMIT = "store_limit"  # operators: cap the database (tests fill a "disk" with it)
    PRESENCE = "presence"  # replicas exchange who they heard from
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
    ACCOUNT = "account"  # a claimed name (message: the account record, see AccountRecord)


OPERATIONS = frozenset(Operation)
SERVERS = "servers"  # topic of coordinator announcements
REPLICATION = "replication"  # topic (and publication service) of replicated events
HISTORY_DEFAULT = 50
HISTORY_MAX = 1000
LIST_PAGE = 1000  # names in one `users` or `channels` reply
PRESENCE_WINDOW = 30.0  # seconds a request keeps its user online
MAX_PRESENCE = 1000  # names in one `online` list or `presence` exchange
MAX_PASSWORD_CHARS = 1024
MAX_TOKEN_CHARS = 512
SEALED_TEXT = "(sealed: only the recipient's client can read this message)"
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
class AccountRecord:
    """A claimed name, stored and replicated as the `message` of an `account` event: the
    scrypt hash of its password (salt, digest, cost parameters), the key that signs its
    session tokens, and its public key for sealed messages ("" if none). A later record of
    the same name (a new public key) has a higher `generation`."""

    user: str
    salt: bytes = field(repr=False)  # the secrets never in a log line or a traceback
    digest: bytes = field(repr=False)
    n: int
    r: int
    p: int
    token_key: bytes = field(repr=False)
    public_key: str = ""
    generation: int = 0


# Bounds of a replicated record: a forged one must not make a server hash with a gigabyte.
SCRYPT_N = (2**10, 2**16)
SCRYPT_R = (1, 16)
SCRYPT_P = (1, 4)


def account_message(record: AccountRecord) -> str:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return json.dumps(
        {
            "salt": b64(record.salt),
            "hash": b64(record.digest),
            "n": record.n,
            "r": record.r,
            "p": record.p,
            "key": b64(record.token_key),
            "public_key": record.public_key,
            "generation": record.generation,
        }
    )


def parse_account(event: Event) -> AccountRecord | None:
    """The record of an `account` event; None if it is not a well-formed one."""
    try:
        raw = json.loads(event.message)
        salt, digest, key = (
            base64.b64decode(raw[k], validate=True) for k in ("salt", "hash", "key")
        )
        numbers = [
            bounded_int(raw[k], *bounds)
            for k, bounds in (
                ("n", SCRYPT_N),
                ("r", SCRYPT_R),
                ("p", SCRYPT_P),
                ("generation", (0, MAX_SEQ)),
            )
        ]
        public_key = raw.get("public_key") or ""
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        return None
    n, r, p, generation = numbers
    numbers_ok = n is not None and r is not None and p is not None and generation is not None
    sizes_ok = 16 <= len(salt) <= 64 and 16 <= len(digest) <= 64 and len(key) == 32
    key_ok = public_key == "" or (
        isinstance(public_key, str) and sealing.decode_key(public_key) is not None
    )
    if not (event.op == Operation.ACCOUNT and event.user and numbers_ok and sizes_ok and key_ok):
        return None
    if n & (n - 1):  # scrypt's cost is a power of two
        return None
    return AccountRecord(event.user, salt, digest, n, r, p, key, public_key, generation)


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
    """`password` (our extension) claims an unclaimed name or proves a claimed one;
    `public_key` (base64 Curve25519) is where the user's private messages get sealed;
    `new_password` replaces a claimed name's password (and so every token of it)."""

    user: str
    password: str = field(default="", repr=False)  # never in a log line or a traceback
    public_key: str = ""
    new_password: str = field(default="", repr=False)


@dataclass(frozen=True)
class ListUsers:
    """A page of user names: those after `after`, at most `limit` (our extension; a plain
    request gets the first page)."""

    after: str = ""
    limit: int = LIST_PAGE
    user: str = ""  # who asks (optional; it keeps them online)


@dataclass(frozen=True)
class Who:
    """Who is online; `user` (optional) is who asks: our clients' keep-alive."""

    user: str = ""


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
    token: str = field(default="", repr=False)  # the session token of a claimed name


@dataclass(frozen=True)
class SendMessage:
    src: str
    dst: str
    message: str
    request_id: str = ""
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class ReadHistory:
    """A channel's posts, or the private conversation of `user` and `peer`."""

    channel: str = ""
    user: str = ""
    peer: str = ""
    limit: int = HISTORY_DEFAULT
    before_clock: int | None = None
    token: str = field(default="", repr=False)


ClientCall = (
    Login | ListUsers | Who | CreateChannel | ListChannels | Publish | SendMessage | ReadHistory
)


def request_user(call: ClientCall | Refusal) -> str:
    """The user a well-formed client request names as its sender ("" if none): what makes
    them online (Presence). A refused request names nobody."""
    match call:
        case Login(user=user) | Publish(user=user) | CreateChannel(user=user):
            return user
        case ListUsers(user=user) | Who(user=user) | ReadHistory(user=user):
            return user
        case SendMessage(src=src):
            return src
    return ""


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


def _token(data: dict[str, Any]) -> str:
    return optional_text(data, "token", MAX_TOKEN_CHARS)


def _optional_user(data: dict[str, Any]) -> str:
    return require_name(data, "user") if data.get("user") is not None else ""


def _list_users(data: dict[str, Any]) -> ListUsers:
    return ListUsers(*_list_page(data), user=_optional_user(data))


def _login(data: dict[str, Any]) -> Login:
    user = require_name(data, "user", "username")
    password = optional_text(data, "password", MAX_PASSWORD_CHARS)
    public_key = optional_text(data, "public_key", 4 * sealing.KEY_BYTES)
    if public_key and sealing.decode_key(public_key) is None:
        raise FieldError("field 'public_key' must be the base64 of a 32-byte Curve25519 key")
    new_password = optional_text(data, "new_password", MAX_PASSWORD_CHARS)
    if new_password and not password:
        raise FieldError("a new_password needs the present password")
    return Login(user, password, public_key, new_password)


def _create_channel(data: dict[str, Any]) -> CreateChannel:
    channel = require_name(data, "channel", "name")
    user = first(data, "user", "src", "from")
    return CreateChannel(channel, user if isinstance(user, str) else "")


def _publish(data: dict[str, Any]) -> Publish:
    user = require_name(data, "user", "src", "from")
    channel = require_name(data, "channel", "name")
    return Publish(user, channel, require_message(data), _request_id(data), _token(data))


def _send_message(data: dict[str, Any]) -> SendMessage:
    src = require_name(data, "src", "from", "user")
    dst = require_name(data, "dst", "to")
    return SendMessage(src, dst, require_message(data), _request_id(data), _token(data))


def _read_history(data: dict[str, Any]) -> ReadHistory:
    limit = optional_int(data, "limit", HISTORY_DEFAULT, 1, HISTORY_MAX)
    before = optional_int(data, "before_clock", None, 0, MAX_CLOCK)
    assert limit is not None  # it has a default
    if first(data, "channel", "name") is not None:
        channel = require_name(data, "channel", "name")
        return ReadHistory(channel=channel, limit=limit, before_clock=before)
    user = require_name(data, "user", "src", "from")
    peer = require_name(data, "peer", "dst", "to")
    return ReadHistory(user=user, peer=peer, limit=limit, before_clock=before, token=_token(data))


CLIENT_SERVICES: dict[str, Callable[[dict[str, Any]], ClientCall]] = {
    Service.LOGIN: _login,
    Service.USERS: _list_users,
    Service.WHO: lambda data: Who(_optional_user(data)),
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


def client_request(service: str, data: dict[str, Any], token: str = "") -> dict[str, Any]:
    """A request's data as our clients send it: `publish` and `message` carry a request_id,
    the same on every resend, so that a retry after a lost reply is stored once; with the
    session `token` of a claimed name, the services that act as the user carry it."""
    if service in (Service.PUBLISH, Service.MESSAGE) and "request_id" not in data:
        data = {**data, "request_id": uuid.uuid4().hex}
    if token and service in (Service.PUBLISH, Service.MESSAGE, Service.HISTORY):
        data = {**data, "token": token}
    return data


def login_request(
    user: str, password: str = "", public_key: str = "", new_password: str = ""
) -> dict[str, Any]:
    extra = {"password": password, "public_key": public_key} if password else {}
    change = {"new_password": new_password} if new_password else {}
    return {"user": user, **extra, **change}


def login_reply(token: str) -> dict[str, Any]:
    """A successful login of a claimed name: the session token its other requests carry."""
    return {**success(), "token": token}


def parse_login_token(data: dict[str, Any]) -> str:
    token = data.get("token")
    return token if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_CHARS else ""


def login_accepted(data: dict[str, Any]) -> bool:
    """Whether a login reply accepted the name (other teams answer `OK` or `success`)."""
    return str(data.get("status", "")).lower() in (SUCCESS, OK.lower(), "success")


def claimed_refusal(user: str) -> dict[str, Any]:
    """Login of a claimed name without a password: `claimed` tells our client to ask for it."""
    return {
        **error_data(f"the name '{user}' is claimed: log in with its password"),
        "claimed": True,
    }


def is_claimed_refusal(data: dict[str, Any]) -> bool:
    return refused(data) and data.get("claimed") is True


def users_reply(names: list[str], more: bool = False) -> dict[str, Any]:
    """`more`: further names follow the last one (ask again with `after`)."""
    return {"users": names, **({"more": True} if more else {})}


def with_online(reply: dict[str, Any], online: list[str]) -> dict[str, Any]:
    """A `users` reply with the `online` list added; a `who` reply (`reply` = ok())."""
    return {**reply, "online": online[:MAX_PRESENCE]}


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


def publication(event: Event, seal_to: str = "") -> tuple[str, dict[str, Any]] | None:
    """(topic, union payload) announcing a post or a private message; None for the other
    operations (subscribers never see them). A private message to a user with a public key
    (`seal_to`) carries SEALED_TEXT as its message and the text sealed to that key in
    `sealed`: the payload other clients read keeps its shape."""
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
    text = SEALED_TEXT if seal_to else event.message
    inner = {"src": event.user, "dst": event.dst, "message": text, "timestamp": event.timestamp}
    payload = {
        "service": Service.MESSAGE,
        "type": "private",
        "src": event.user,
        "from": event.user,
        "user": event.user,
        "dst": event.dst,
        "to": event.dst,
        "message": text,
        "timestamp": event.timestamp,
        "data": inner,
    }
    if seal_to:
        payload["sealed"] = sealed_text(seal_to, event.message)
    return event.dst, payload


def sealed_text(public_key: str, message: str) -> str:
    return sealing.seal(public_key, json.dumps({"message": message}).encode())


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
    sealed: str = ""  # base64 sealed box of the message (our servers, to a user with a key)

    def opened(self, private_key: bytes) -> Delivery:
        """The delivery with its sealed text opened, if it was sealed to this key."""
        plain = sealing.open_sealed(private_key, self.sealed) if self.sealed else None
        try:
            message = json.loads(plain)["message"] if plain is not None else None
        except (ValueError, TypeError, KeyError):
            message = None
        if not isinstance(message, str):
            return self
        return replace(self, message=message, sealed="")


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
        sealed=_sealed(message.get("sealed")),
    )


def _sealed(value: Any) -> str:
    return value if isinstance(value, str) and len(value) <= sealing.MAX_SEALED_CHARS else ""


# ---- publications between servers (topics `servers` and `replication`) -------------------


@dataclass(frozen=True)
class CoordinatorAnnounced:
    name: str


@dataclass(frozen=True)
class Replicated:
    """An event seen on the `replication` topic."""

    event: Event


def coordinator_announcement(name: str, timestamp: float) -> tuple[str, dict[str, Any]]:
    # the timestamp also at the top level: one published client reads it only there
    return SERVERS, {
        "service": Service.ELECTION,
        "timestamp": timestamp,
        "data": {"coordinator": name, "timestamp": timestamp},
    }


def replication_publication(
    event: Event, timestamp: float, seal_to: str = ""
) -> tuple[str, dict[str, Any]] | None:
    """None for an account (its record holds the password's hash and the token key, and our
    servers replicate by push); a private message to a user with a key (`seal_to`) has its
    text sealed as in `publication`."""
    if event.op == Operation.ACCOUNT:
        return None
    record = _record(event)
    if seal_to:
        record.update(message=SEALED_TEXT, sealed=sealed_text(seal_to, event.message))
    return REPLICATION, {
        "service": REPLICATION,
        "data": {
            "operation": event.op,
            "operationData": record,
            "serverName": event.origin,
            "timestamp": timestamp,
        },
    }


def parse_server_publication(
    topic: str, message: dict[str, Any], pushers: frozenset[str] = frozenset()
) -> CoordinatorAnnounced | Replicated | None:
    """What a server heard on `servers` or `replication`; None for shapes it does not know
    (other teams publish theirs on the same topics) and, unparsed, for the events of
    `pushers` (origins that push their events to this server anyway)."""
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    if topic == SERVERS and message.get("service") == Service.ELECTION:
        name = data.get("coordinator", message.get("coordinator"))
        if isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS:
            return CoordinatorAnnounced(name)
        return None
    if topic == REPLICATION and message.get("service") == REPLICATION:
        if data.get("serverName") in pushers:
            return None
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
    # a sealed text is not the message: the event comes by push or sync instead
    if op in (None, Operation.ACCOUNT) or not isinstance(record, dict) or "sealed" in record:
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
class PresenceRequest:
    """`presence`: the caller heard from these users `ages` seconds ago (within the window)."""

    inbound: Inbound
    ages: dict[str, float]


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
    | PresenceRequest
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


def _ages(raw: Any) -> dict[str, float]:
    """A presence table: name -> seconds since a request named them. Entries that are not a
    name and an age within the window are left out; at most MAX_PRESENCE are read."""
    ages: dict[str, float] = {}
    for name, age in itertools.islice(raw.items() if isinstance(raw, dict) else (), MAX_PRESENCE):
        seconds = finite(age, 0.0, PRESENCE_WINDOW)
        if isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS and seconds is not None:
            ages[name] = seconds
    return ages


def presence_request(ages: dict[str, float]) -> dict[str, Any]:
    return {"online": ages}


def presence_reply(ages: dict[str, float]) -> dict[str, Any]:
    return {"status": OK, "online": ages}


def parse_presence(data: dict[str, Any]) -> dict[str, float]:
    """The table of a `presence` request or reply."""
    return _ages(data.get("online"))


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
    Service.PRESENCE: lambda inbound, data: PresenceRequest(inbound, parse_presence(data)),
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
