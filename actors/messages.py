"""Typed messages exchanged between the actors of a server (frozen: Pykka does not copy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.events import Event
from transport.pump import Inbound


@dataclass(frozen=True)
class Peer:
    name: str
    rank: int
    address: str


# ---- persistence ------------------------------------------------------------------------


@dataclass(frozen=True)
class Append:
    """Store events durably; the persistence actor answers with Appended(tag, fresh)."""

    events: tuple[Event, ...]
    tag: Any = None


@dataclass(frozen=True)
class Appended:
    tag: Any
    fresh: tuple[Event, ...]
    heads: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Flush:
    """Commit what has been queued (group commit)."""


@dataclass(frozen=True)
class HistoryQuery:
    inbound: Inbound
    channel: str = ""
    user: str = ""
    peer: str = ""
    limit: int = 50
    before_clock: int | None = None


@dataclass(frozen=True)
class ServeSync:
    """A peer asks for the events it lacks (server-to-server `sync`)."""

    inbound: Inbound
    heads: dict[str, int]
    limit: int


# ---- chat <-> replication ---------------------------------------------------------------


@dataclass(frozen=True)
class ClientRequest:
    inbound: Inbound
    retried: bool = False


@dataclass(frozen=True)
class LocalWrite:
    """A validated change the chat actor wants made; done when durable and replicated."""

    op: str
    fields: dict[str, Any]
    token: Any


@dataclass(frozen=True)
class WriteDone:
    token: Any
    event: Event


@dataclass(frozen=True)
class Applied:
    """Events that became part of this replica's state (local or replicated)."""

    events: tuple[Event, ...]


@dataclass(frozen=True)
class RefreshThenRetry:
    """Catch up from peers, then hand the request back to the chat actor once more."""

    request: ClientRequest


@dataclass(frozen=True)
class PeerRequest:
    """A server-to-server request for the actor that owns its service."""

    inbound: Inbound


@dataclass(frozen=True)
class Replicated:
    """A replication publication seen on the `replication` topic."""

    event: Event


@dataclass(frozen=True)
class PeerReply:
    """The outcome of a server-to-server call, routed back to its caller."""

    purpose: str
    peer: str
    ok: bool
    data: dict[str, Any]
    rtt: float = 0.0
    context: Any = None


@dataclass(frozen=True)
class Tick:
    """A periodic timer firing for the actor that scheduled it."""

    what: str


# ---- membership, election, clocks -------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    """The reference's latest view: our rank and the live peers (self excluded)."""

    rank: int | None
    peers: tuple[Peer, ...]


@dataclass(frozen=True)
class CoordinatorAnnounced:
    name: str


@dataclass(frozen=True)
class MessageHandled:
    """A client message was handled (Berkeley rounds run every N of them)."""
