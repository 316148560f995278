"""What a server does with each client service, as pure decisions (no threads, no I/O)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

from actors.accounts import Accounts, issue_token, token_valid, with_public_key
from actors.roster import Roster
from transport import protocol
from transport.codec import error_data
from transport.protocol import (
    AccountRecord,
    ClientCall,
    CreateChannel,
    Event,
    ListChannels,
    ListUsers,
    Login,
    Operation,
    Publish,
    ReadHistory,
    Refusal,
    SendMessage,
    Who,
)


@dataclass(frozen=True)
class Answer:
    """Reply at once with this data."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Write:
    """Make this change (durably, replicated), then reply with `done`."""

    op: Operation
    fields: dict[str, Any]
    done: dict[str, Any]


@dataclass(frozen=True)
class Unsure:
    """This replica lacks a record the request names: catch up from peers, then decide again
    (with `retried`), and only then refuse."""

    error: str


@dataclass(frozen=True)
class SameAsInFlight:
    """A resend of a write still on its way (same user, same request id): answer it with the
    first one's outcome instead of storing it twice."""

    key: tuple[str, str]


@dataclass(frozen=True)
class VerifyPassword:
    """Login of a claimed name: check its password against `record` (slow, off this
    thread), then `logged_in`."""

    login: Login
    record: AccountRecord


@dataclass(frozen=True)
class ClaimName:
    """Login with a password of an unclaimed name: hash it into a new record (slow, off this
    thread), then `claim`."""

    login: Login


@dataclass(frozen=True)
class WithOnline:
    """Answer with this data plus the `online` list, which the presence actor keeps."""

    data: dict[str, Any]


# A ReadHistory decision: answer from the stored history.
Decision = (
    Answer | Write | ReadHistory | Unsure | SameAsInFlight | VerifyPassword | ClaimName | WithOnline
)


def request_key(write: Write) -> tuple[str, str] | None:
    """(user, request id) of a write our client may resend; None if it carries no id."""
    rid = write.fields.get("request_id")
    return (write.fields["user"], rid) if rid else None


def _error(text: str) -> Answer:
    return Answer(error_data(text))


def _needs_token(user: str) -> str:
    return f"the name '{user}' is claimed: log in with its password first"


REMEMBERED_REQUESTS = 100_000


@dataclass
class ChatRules:
    users: Roster = field(default_factory=Roster)
    channels: Roster = field(default_factory=Roster)
    creating: set[str] = field(default_factory=set)
    requests: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    accounts: Accounts = field(default_factory=Accounts)
    claiming: set[str] = field(default_factory=set)
    wall: Callable[[], float] = time.time  # token expiry is wall-clock time

    def apply(self, event: Event) -> None:
        if event.request_id:
            self.in_flight.discard((event.user, event.request_id))
            self.requests[(event.user, event.request_id)] = None
            if len(self.requests) > REMEMBERED_REQUESTS:
                self.requests.popitem(last=False)
        if event.user:
            self.users.add(event.user)
        if event.op == Operation.CHANNEL:
            self.channels.add(event.channel)
            self.creating.discard(event.channel)
        if event.op == Operation.ACCOUNT:
            self.accounts.apply(event)
            self.claiming.discard(event.user)

    def abandon(self, write: Write) -> None:
        """A write decided here could not be stored."""
        if write.op == Operation.CHANNEL:
            self.creating.discard(write.fields["channel"])
        if write.op == Operation.ACCOUNT:
            self.claiming.discard(write.fields["user"])
        if key := request_key(write):
            self.in_flight.discard(key)

    def decide(self, request: ClientCall | Refusal, retried: bool = False) -> Decision:
        """What to do with a parsed request (a refused one is answered with its reason)."""
        decision = self._decide(request)
        if isinstance(decision, Unsure) and retried:
            return _error(decision.error)
        if isinstance(decision, Write):
            if decision.op == Operation.CHANNEL:
                self.creating.add(decision.fields["channel"])
            if key := request_key(decision):
                self.in_flight.add(key)
        if isinstance(decision, ClaimName):
            self.claiming.add(decision.login.user)
        return decision

    def claim(self, login: Login, record: AccountRecord) -> Answer | Write:
        """Store the new record of a ClaimName, unless another claim got there first."""
        if login.user in self.accounts:
            self.abandon_claim(login)
            return _error(f"the name '{login.user}' was claimed meanwhile")
        return self._account_write(record)

    def abandon_claim(self, login: Login) -> None:
        """A ClaimName decided here goes no further."""
        self.claiming.discard(login.user)

    def logged_in(self, login: Login, record: AccountRecord) -> Answer | Write:
        """A VerifyPassword that matched: the token; and a new record first if the client
        changes its password (`record` is then the new one) or brings a new public key."""
        if login.new_password:
            return self._account_write(record)
        if login.public_key and login.public_key != record.public_key:
            return self._account_write(with_public_key(record, login.public_key))
        return Answer(protocol.login_reply(issue_token(record, self.wall())))

    def _account_write(self, record: AccountRecord) -> Write:
        fields = {"user": record.user, "message": protocol.account_message(record)}
        done = protocol.login_reply(issue_token(record, self.wall()))
        return Write(Operation.ACCOUNT, fields, done)

    def _authorized(self, token: str, *users: str) -> bool:
        """Whether a request naming `users` may go on: none of them is claimed, or `token`
        is a valid session token of one that is."""
        records = [r for r in map(self.accounts.get, users) if r is not None]
        now = self.wall()
        return not records or any(token_valid(r, token, now) for r in records)

    def seal_key(self, user: str) -> str:
        """The public key private messages to `user` are sealed to ("" if none)."""
        record = self.accounts.get(user)
        return record.public_key if record else ""

    def _decide(self, request: ClientCall | Refusal) -> Decision:
        match request:
            case Refusal():
                return _error(request.reason)
            case Login():
                return self._login(request)
            case ListUsers(after, limit):
                return WithOnline(protocol.users_reply(*self.users.page(after, limit)))
            case Who():
                return WithOnline(protocol.ok())
            case ListChannels(after, limit):
                return Answer(protocol.channels_reply(*self.channels.page(after, limit)))
            case CreateChannel():
                return self._channel(request)
            case Publish():
                if not self._authorized(request.token, request.user):
                    return _error(_needs_token(request.user))
                if request.channel not in self.channels:
                    return Unsure(f"unknown channel '{request.channel}'")
                fields = {"user": request.user, "channel": request.channel}
                post = {**fields, "message": request.message}
                return self._once(request.user, request.request_id, Operation.PUBLISH, post)
            case SendMessage():
                if not self._authorized(request.token, request.src):
                    return _error(_needs_token(request.src))
                if request.dst not in self.users:
                    return Unsure(f"unknown user '{request.dst}'")
                private = {"user": request.src, "dst": request.dst, "message": request.message}
                return self._once(request.src, request.request_id, Operation.MESSAGE, private)
            case ReadHistory():
                if request.channel and request.channel not in self.channels:
                    return Unsure(f"unknown channel '{request.channel}'")
                if not request.channel and not self._authorized(
                    request.token, request.user, request.peer
                ):
                    return _error("this conversation is private: log in with your password first")
                return request
        assert_never(request)

    def _login(self, request: Login) -> Decision:
        record = self.accounts.get(request.user)
        if record is not None:
            if not request.password:
                return Answer(protocol.claimed_refusal(request.user))
            return VerifyPassword(request, record)
        if request.password:
            if request.user in self.claiming:
                return _error(f"the name '{request.user}' is being claimed; try again")
            return ClaimName(request)
        if request.user in self.users:
            return Answer(protocol.success())
        return Write(Operation.LOGIN, {"user": request.user}, protocol.success())

    def _channel(self, request: CreateChannel) -> Decision:
        if request.channel in self.channels or request.channel in self.creating:
            return _error(f"channel '{request.channel}' already exists")
        return Write(
            Operation.CHANNEL,
            {"channel": request.channel, "user": request.user},
            protocol.success(),
        )

    def _once(self, user: str, request_id: str, op: Operation, fields: dict[str, Any]) -> Decision:
        """Store a post or message, answered OK; a retry of one already stored (same user,
        same request id) is answered, not stored again."""
        if not request_id:
            return Write(op, fields, protocol.ok())
        if (user, request_id) in self.requests:
            return Answer(protocol.ok())
        if (user, request_id) in self.in_flight:
            return SameAsInFlight((user, request_id))
        return Write(op, {**fields, "request_id": request_id}, protocol.ok())
