"""Typed messages exchanged between the actors of a server (frozen: Pykka does not copy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.chat_rules import ClaimName, VerifyPassword
from transport.port import Inbound, Response
from transport.protocol import AccountRecord, Event, Operation, Peer, ReadHistory

# Requests and publications from the network arrive as the protocol's typed values
# (transport/protocol.py: PushRequest, SyncRequest, ..., CoordinatorAnnounced, Replicated).

# ---- persistence ------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalWrites:
    """Append tag: this server's own new events."""


@dataclass(frozen=True)
class PeerPush:
    """Append tag: events a peer pushed (`replicate`); answer `inbound` once durable."""

    inbound: Inbound


@dataclass(frozen=True)
class SyncStep:
    """Append tag: one page pulled from `peer` (`sync`); `more` if it has further pages."""

    peer: str
    more: bool


@dataclass(frozen=True)
class SeenPublished:
    """Append tag: events seen on the `replication` topic from an origin that does not push."""


AppendTag = LocalWrites | PeerPush | SyncStep | SeenPublished


@dataclass(frozen=True)
class Append:
    """Store events durably; the persistence actor answers with Appended(tag, fresh)."""

    events: tuple[Event, ...]
    tag: AppendTag = LocalWrites()


@dataclass(frozen=True)
class Appended:
    """The outcome of an Append: `fresh` are new and durable; `failed` were not stored
    (`error` says why) and must be fetched again; `heads` is what the store now holds."""

    tag: AppendTag
    fresh: tuple[Event, ...]
    heads: dict[str, int] = field(default_factory=dict)
    failed: tuple[Event, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class HistoryQuery:
    """Answer `inbound` from the stored history."""

    inbound: Inbound
    query: ReadHistory


# ---- chat <-> replication ---------------------------------------------------------------


@dataclass(frozen=True)
class ClientRequest:
    inbound: Inbound
    retried: bool = False


@dataclass(frozen=True)
class ClientRequests:
    """The client requests one round of the pump read, in arrival order."""

    inbounds: list[Inbound]


@dataclass(frozen=True)
class LocalWrite:
    """A validated change the chat actor wants made; done when durable and replicated."""

    op: Operation
    fields: dict[str, Any]
    token: Any
    seal_to: str = ""  # a private message's recipient's public key: its publications are sealed


@dataclass(frozen=True)
class PasswordWork:
    """For the password actor: check or hash the password of a login."""

    inbound: Inbound
    decision: VerifyPassword | ClaimName


@dataclass(frozen=True)
class PasswordDone:
    """Back to the chat actor: the record the password matched or was hashed into (for a
    password change, the account's next record); None for a wrong password."""

    inbound: Inbound
    decision: VerifyPassword | ClaimName
    record: AccountRecord | None


@dataclass(frozen=True)
class WriteDone:
    token: Any
    event: Event


@dataclass(frozen=True)
class WritesDone:
    """Writes acknowledged together (durable here, applied by the live peers)."""

    done: tuple[WriteDone, ...]


@dataclass(frozen=True)
class PublishedEvents:
    """Events one round of the pump read on the `replication` topic."""

    events: tuple[Event, ...]


@dataclass(frozen=True)
class NewWrites:
    """The writes one chat batch decided, made into events together (one Append)."""

    writes: tuple[LocalWrite, ...]


@dataclass(frozen=True)
class Backlogged:
    """Replication to a peer that still answers is behind (on) or caught up (off): while
    on, the chat refuses new writes rather than let that peer fall out of the copies."""

    on: bool


@dataclass(frozen=True)
class WriteFailed:
    """The change could not be stored (`reason`): the client is told so."""

    token: Any
    reason: str


@dataclass(frozen=True)
class Applied:
    """Events that became part of this replica's state (local or replicated)."""

    events: tuple[Event, ...]


@dataclass(frozen=True)
class RefreshThenRetry:
    """Catch up from peers, then hand the request back to the chat actor once more."""

    request: ClientRequest


# ---- answers to outgoing calls (one type per purpose; see BaseActor.call) -----------------


@dataclass(frozen=True)
class Answered:
    """The outcome of a call to `peer` (a server name, or "reference")."""

    peer: str
    response: Response

    @property
    def ok(self) -> bool:
        return self.response.ok

    @property
    def data(self) -> dict[str, Any]:
        return self.response.data


@dataclass(frozen=True)
class PushAnswered(Answered):
    """A peer answered our `replicate` push."""


@dataclass(frozen=True)
class SyncAnswered(Answered):
    """A peer answered our `sync` pull."""


@dataclass(frozen=True)
class ElectionAnswered(Answered):
    """A higher-ranked server answered (or not) our `election`."""


@dataclass(frozen=True)
class PingAnswered(Answered):
    """The coordinator answered (or not) our liveness ping."""


@dataclass(frozen=True)
class ClockSampled(Answered):
    """A peer's `clock` reply in a Berkeley round; `received_at` is our clock's time when the
    reply came off the wire (taken on the transport's thread, not when the actor gets to it)."""

    received_at: float = 0.0


@dataclass(frozen=True)
class AdjustAnswered(Answered):
    """A peer acknowledged (or not) the correction of a Berkeley round."""


@dataclass(frozen=True)
class RankAnswered(Answered):
    """The reference answered `rank`."""


@dataclass(frozen=True)
class HeartbeatAnswered(Answered):
    """The reference answered `heartbeat`."""


@dataclass(frozen=True)
class ListAnswered(Answered):
    """The reference answered `list`."""


# ---- timers (one type per cadence; the scheduler tells them) ------------------------------


@dataclass(frozen=True)
class HeartbeatDue:
    """Membership: register or heartbeat with the reference, then fetch the list."""


@dataclass(frozen=True)
class AcksDue:
    """Replication: release acknowledgements whose peers timed out; resume pushes."""


@dataclass(frozen=True)
class AntiEntropyDue:
    """Replication: pull from one random peer whatever we may have missed."""


@dataclass(frozen=True)
class ElectionTick:
    """Election: advance the bully state machine's timeouts."""


@dataclass(frozen=True)
class CoordinatorCheckDue:
    """Election: ping the coordinator (or, as coordinator, re-announce now and then)."""


@dataclass(frozen=True)
class ClockRoundDue:
    """Clock: run a Berkeley round if this server is the coordinator."""


@dataclass(frozen=True)
class ExpiryDue:
    """Registry (reference): drop servers whose heartbeats stopped."""


# ---- membership, election, clocks -------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    """The reference's latest view: our rank and the live peers (self excluded)."""

    rank: int | None
    peers: tuple[Peer, ...]


@dataclass(frozen=True)
class MessageHandled:
    """Client messages were handled (Berkeley rounds run every N of them)."""

    count: int = 1
