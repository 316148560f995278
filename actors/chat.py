"""Chat actor: answers the client services, hands writes to replication, reads to storage."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from actors.backoff import Backoff
from actors.base import BaseActor, Node, handles
from actors.chat_rules import (
    Answer,
    ChatRules,
    ClaimName,
    Decision,
    SameAsInFlight,
    Unsure,
    VerifyPassword,
    WithOnline,
    Write,
    request_key,
)
from actors.messages import (
    Applied,
    Backlogged,
    ClientRequest,
    ClientRequests,
    HistoryQuery,
    LocalWrite,
    MessageHandled,
    NewWrites,
    PasswordDone,
    PasswordWork,
    RefreshThenRetry,
    WriteDone,
    WriteFailed,
    WritesDone,
)
from actors.presence import AnswerWithOnline, Seen
from actors.rate_limit import DEFAULT_SHARE, Fairness, FairShare
from actors.roster import Roster
from actors.routes import Routes
from transport import protocol
from transport.port import PUB, Inbound, Outgoing, Transport
from transport.protocol import Event, Operation, ReadHistory

MAX_WRITES_IN_FLIGHT = 1000
# Presence hears of a user at most once a second (it counts 30 s): not once per batch.
SEEN_EVERY = 1.0
MAX_TOLD = 100_000


class ChatActor(BaseActor):
    actor_name = "chat"

    def __init__(
        self,
        node: Node,
        transport: Transport,
        routes: Routes,
        users: list[str],
        channels: list[str],
        now: Callable[[], float] = time.monotonic,
        share: FairShare = DEFAULT_SHARE,
        max_in_flight: int = MAX_WRITES_IN_FLIGHT,
        accounts: Iterable[Event] = (),
        wall: Callable[[], float] = time.time,
    ) -> None:
        """`accounts`: the stored `account` events; `wall`: the time tokens expire by."""
        super().__init__(node)
        self.transport = transport
        self.routes = routes
        self.now = now
        self.rules = ChatRules(Roster(users), Roster(channels), wall=wall)
        for event in accounts:
            self.rules.apply(event)
        self.fairness = Fairness(share)
        self.backoff = Backoff()
        self.waiting: dict[int, tuple[Inbound, Write]] = {}
        self.max_in_flight = max_in_flight
        self.backlogged = False  # replication says a live peer is behind (Backlogged)
        self.stale = 0  # requests that waited longer than the pump's deadline: not served
        self.dropping = False
        self.resent: dict[tuple[str, str], list[Inbound]] = {}  # resends of a waiting write
        self.tokens = itertools.count(1)
        self.handled = 0
        # what handling one message produced, sent once it is handled (after_message)
        self.replies: list[tuple[Inbound, dict[str, Any]]] = []
        self.publications: list[Outgoing] = []
        self.writes: list[LocalWrite] = []
        self.uncounted = 0  # handled requests the clock actor has not been told of
        self.seen: set[str] = set()  # users requests named, not yet told to presence
        self.told: dict[str, float] = {}  # user -> when presence was last told of them

    def stats(self) -> dict[str, Any]:
        return {
            "users": len(self.rules.users),
            "accounts": len(self.rules.accounts),
            "channels": len(self.rules.channels),
            "requests_handled": self.handled,
            "writes_in_flight": len(self.waiting),
            "stale_dropped": self.stale,
        }

    def after_message(self) -> None:
        if self.replies or self.publications:
            self.transport.send_batch(self.replies, self.publications)
            self.replies, self.publications = [], []
        if self.writes:
            self.routes.tell("replication", NewWrites(tuple(self.writes)))
            self.writes = []
        every = self.node.timing.clock_sync_every_messages
        if self.handled // every > (self.handled - self.uncounted) // every:
            # the clock actor only acts on multiples of `every`: it hears of no others
            self.routes.tell("clock", MessageHandled(self.uncounted))
            self.uncounted = 0
        self._tell_seen()

    def _tell_seen(self) -> None:
        if self.seen:
            self.routes.tell("presence", Seen(tuple(self.seen)))
            if len(self.told) > MAX_TOLD:
                self.told.clear()
            now = self.now()
            self.told.update(dict.fromkeys(self.seen, now))
            self.seen = set()

    @handles(ClientRequests)
    def _requests(self, message: ClientRequests) -> None:
        for inbound in message.inbounds:
            self._request(ClientRequest(inbound))

    @handles(ClientRequest)
    def _request(self, message: ClientRequest) -> None:
        inbound, now = message.inbound, self.now()
        if inbound.received and now - inbound.received > self.node.timing.request_deadline:
            self._drop_stale(inbound)  # its client already has the pump's erro; it retries
            return
        self.dropping = False
        if not message.retried and (refusal := self.fairness.request(inbound.sender, now)):
            self._answer(inbound, protocol.Refusal(refusal).reply)
            return
        parsed = protocol.parse_client_request(inbound.request.service, inbound.request.data)
        if (user := protocol.request_user(parsed)) and now - self.told.get(
            user, -1e9
        ) >= SEEN_EVERY:
            self.seen.add(user)
        self._carry_out(message, self.rules.decide(parsed, message.retried), now)

    def _carry_out(self, message: ClientRequest, decision: Decision, now: float) -> None:
        inbound = message.inbound
        if isinstance(decision, Answer):
            self._answer(message.inbound, decision.data)
        elif isinstance(decision, Write):
            self._write(inbound, decision, now)
        elif isinstance(decision, (VerifyPassword, ClaimName)):
            self._check_password(inbound, decision, now)
        elif isinstance(decision, ReadHistory):
            self._count()
            self.routes.tell("persistence", HistoryQuery(message.inbound, decision))
        elif isinstance(decision, WithOnline):
            self._count()
            self._tell_seen()  # a `who` keep-alive lists its own user
            self.routes.tell("presence", AnswerWithOnline(inbound, decision.data))
        elif isinstance(decision, SameAsInFlight):
            self.resent.setdefault(decision.key, []).append(message.inbound)
        elif isinstance(decision, Unsure):
            self.log.info("record_missing_refreshing", reason=decision.error)
            self.routes.tell("replication", RefreshThenRetry(ClientRequest(message.inbound, True)))

    def _drop_stale(self, inbound: Inbound) -> None:
        """Not served: stored now, it would be a write its client was told had failed."""
        self.stale += 1
        if not self.dropping:  # one line per run of stale requests
            self.dropping = True
            self.log.warning("stale_requests_dropped", service=inbound.request.service)

    def _write(self, inbound: Inbound, write: Write, now: float) -> None:
        if refusal := self._admit(inbound.sender, write, now):
            self.rules.abandon(write)
            self._answer(inbound, protocol.Refusal(refusal).reply)
            return
        token = next(self.tokens)
        self.waiting[token] = (inbound, write)
        seal_to = self.rules.seal_key(write.fields.get("dst", ""))
        self.writes.append(LocalWrite(write.op, write.fields, token, seal_to))

    def _admit(self, sender: bytes, write: Write, now: float) -> str | None:
        """Why this write may not start now, if it may not: too many writes already wait for
        the replicas (shed load rather than queue without end), or this connection (or the
        claimed name it writes as) asks for more than its share."""
        if self.backlogged or len(self.waiting) >= self.max_in_flight:
            return "server busy: too many writes waiting for replicas; retry later"
        if write.op == Operation.ACCOUNT:
            return None  # charged before its password was hashed
        if write.op in (Operation.LOGIN, Operation.CHANNEL):
            return self.fairness.new_name(sender, now)
        user = write.fields["user"]
        # a write as a claimed name was authorized by its token: the account's share
        payer = ("account", user) if user in self.rules.accounts else sender
        return self.fairness.stored(payer, len(write.fields["message"].encode()), now)

    def _check_password(
        self, inbound: Inbound, decision: VerifyPassword | ClaimName, now: float
    ) -> None:
        user = decision.login.user
        refusal = self.fairness.password_check(inbound.sender, now)
        if wait := self.backoff.wait(user, now):
            refusal = f"too many wrong passwords for '{user}': retry in {math.ceil(wait)} s"
        if refusal:
            if isinstance(decision, ClaimName):
                self.rules.abandon_claim(decision.login)
            self._answer(inbound, protocol.Refusal(refusal).reply)
            return
        self.routes.tell("passwords", PasswordWork(inbound, decision))

    @handles(PasswordDone)
    def _password_done(self, done: PasswordDone) -> None:
        login, now = done.decision.login, self.now()
        if done.record is None:
            delay = self.backoff.failed(login.user, now)
            reason = f"wrong password for '{login.user}': next attempt in {delay:g} s"
            self._answer(done.inbound, protocol.Refusal(reason).reply)
        elif isinstance(done.decision, ClaimName):
            self._carry_out(ClientRequest(done.inbound), self.rules.claim(login, done.record), now)
        else:
            self.backoff.succeeded(login.user)
            decision = self.rules.logged_in(login, done.record)
            self._carry_out(ClientRequest(done.inbound), decision, now)

    @handles(Backlogged)
    def _backlogged(self, message: Backlogged) -> None:
        self.backlogged = message.on
        self.log.info("shedding_writes" if message.on else "shedding_stopped")

    @handles(WritesDone)
    def _writes_done(self, message: WritesDone) -> None:
        for done in message.done:
            self._write_done(done)

    def _write_done(self, message: WriteDone) -> None:
        inbound, write = self.waiting.pop(message.token)
        self.rules.apply(message.event)
        for asked in self._askers(inbound, write):
            self._answer(asked, write.done)
        published = protocol.publication(message.event, self.rules.seal_key(message.event.dst))
        if published is not None:
            topic, payload = published
            self.publications.append(Outgoing(PUB, topic, payload, message.event.clock))

    @handles(WriteFailed)
    def _write_failed(self, message: WriteFailed) -> None:
        inbound, write = self.waiting.pop(message.token)
        self.rules.abandon(write)
        for asked in self._askers(inbound, write):
            self._answer(asked, protocol.Refusal(message.reason).reply)

    def _askers(self, inbound: Inbound, write: Write) -> list[Inbound]:
        """Who waits for the outcome of `write`: its request and any resend of it."""
        key = request_key(write)
        return [inbound, *(self.resent.pop(key, []) if key else [])]

    @handles(Applied)
    def _applied(self, message: Applied) -> None:
        for event in message.events:
            self.rules.apply(event)

    def _answer(self, inbound: Inbound, data: dict[str, Any]) -> None:
        self.replies.append((inbound, data))
        self._count()
        if protocol.refused(data):
            self.log.info(
                "request_refused", service=inbound.request.service, reason=data.get("description")
            )

    def _count(self) -> None:
        self.handled += 1
        self.uncounted += 1
