"""ChatActor and PasswordActor together (FakeTransport, recording replication): claims, logins
of claimed names, back-off, per-account shares, and sealed publications."""

from __future__ import annotations

from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actors.base import Node
from actors.chat import ChatActor
from actors.messages import ClientRequest, LocalWrite, WriteDone, WritesDone
from actors.passwords import PasswordActor
from actors.rate_limit import DEFAULT_SHARE, FairShare
from actors.routes import Routes
from tests.fakes import FakeTransport, Mailbox, barrier, make_inbound
from transport import protocol, sealing
from transport.port import Inbound
from transport.protocol import Event, Operation


class Chat:
    def __init__(self, share: FairShare = DEFAULT_SHARE) -> None:
        self.transport = FakeTransport()
        self.replication = Mailbox()
        self.seq = 0
        routes = Routes()
        routes.add("replication", self.replication)
        routes.add("clock", Mailbox())
        routes.add("presence", Mailbox())
        node = Node("server", "a")
        self.chat: pykka.ActorRef = ChatActor.start(
            node, self.transport, routes, ["bob"], ["general"], share=share
        )
        self.passwords: pykka.ActorRef = PasswordActor.start(node, routes)
        routes.add("chat", self.chat)
        routes.add("passwords", self.passwords)

    def ask(self, service: str, sender: bytes = b"c1", **data: Any) -> Inbound:
        inbound = make_inbound(service, data)
        inbound = Inbound(inbound.key, inbound.token, inbound.request, sender)
        self.chat.tell(ClientRequest(inbound))
        barrier(self.chat, self.passwords, self.chat)
        return inbound

    def answer(self, inbound: Inbound) -> dict[str, Any]:
        return self.transport.reply_to(inbound).data

    def store_last_write(self) -> LocalWrite:
        """Play the replication actor: the last write is durable and replicated."""
        write = self.replication.messages[-1]
        self.seq += 1
        event = Event("a", self.seq, 40 + self.seq, write.op, timestamp=1.0, **write.fields)
        self.chat.tell(WritesDone((WriteDone(write.token, event),)))
        barrier(self.chat)
        return write

    def claim(self, user: str, password: str, public_key: str = "") -> str:
        """Claim `user`; returns the session token."""
        inbound = self.ask("login", user=user, password=password, public_key=public_key)
        assert self.store_last_write().op == Operation.ACCOUNT
        reply = self.answer(inbound)
        assert reply["status"] == "sucesso", reply
        return reply["token"]


@pytest.fixture
def chat() -> Chat:
    return Chat()


def test_a_claim_is_replicated_then_answered_with_a_token(chat: Chat) -> None:
    token = chat.claim("ana", "correct horse")
    assert token.startswith("ana.")
    write = chat.replication.messages[-1]
    assert "horse" not in write.fields["message"]  # the hash, never the password
    assert protocol.is_claimed_refusal(chat.answer(chat.ask("login", user="ana")))
    again = chat.answer(chat.ask("login", user="ana", password="correct horse"))
    assert again["status"] == "sucesso" and again["token"]
    assert len(chat.replication.messages) == 1  # a login of a claimed name writes nothing


def test_wrong_passwords_back_off_per_name_and_are_never_logged(chat: Chat) -> None:
    chat.claim("ana", "pw")
    with capture_logs() as logs:
        first = chat.answer(chat.ask("login", user="ana", password="nope"))
        locked = chat.answer(chat.ask("login", user="ana", password="pw"))
    assert "wrong password" in first["description"] and "1 s" in first["description"]
    assert "too many wrong passwords" in locked["description"]
    assert logs and "nope" not in repr(logs)
    assert "nope" not in repr([reply.data for reply in chat.transport.replies])


def test_password_checks_have_their_own_share_per_connection() -> None:
    chat = Chat(FairShare(password_checks_per_second=0.001, password_check_burst=1))
    chat.claim("ana", "pw")
    refused = chat.answer(chat.ask("login", user="ana", password="pw"))
    assert "logins with a password" in refused["description"]
    assert chat.answer(chat.ask("login", user="ana", password="pw", sender=b"c2"))["token"]


def test_stored_bytes_of_a_claimed_name_are_its_accounts_share() -> None:
    chat = Chat(FairShare(stored_bytes_per_second=0.001, stored_bytes_burst=10))
    token = chat.claim("ana", "pw")
    post = {"user": "ana", "channel": "general", "message": "12345678", "token": token}
    chat.ask("publish", sender=b"c1", **post)
    chat.store_last_write()
    other_connection = chat.answer(chat.ask("publish", sender=b"c2", **post))
    assert "rate limit" in other_connection["description"]
    # an open name still has a share per connection
    chat.ask("publish", sender=b"c2", user="bob", channel="general", message="12345678")
    assert chat.replication.messages[-1].fields["user"] == "bob"


def test_a_message_to_a_user_with_a_key_is_published_sealed(chat: Chat) -> None:
    key = sealing.new_private_key()
    chat.claim("ana", "pw", sealing.public_key_of(key))
    inbound = chat.ask("message", src="bob", dst="ana", message="psst")
    write = chat.store_last_write()
    assert write.seal_to == sealing.public_key_of(key)  # the replication topic seals it too
    assert chat.answer(inbound) == {"status": "OK"}
    [pub] = chat.transport.published_on("ana")
    assert "psst" not in repr(pub.message)
    delivery = protocol.parse_delivery("ana", pub.message)
    assert delivery.opened(key).message == "psst"


def test_a_password_change_voids_the_old_password_and_tokens(chat: Chat) -> None:
    old_token = chat.claim("ana", "correct horse")
    inbound = chat.ask("login", user="ana", password="correct horse", new_password="battery")
    assert chat.store_last_write().op == Operation.ACCOUNT
    new_token = chat.answer(inbound)["token"]
    post = {"user": "ana", "channel": "general", "message": "hi"}
    assert chat.answer(chat.ask("publish", **post, token=old_token))["status"] == "erro"
    chat.ask("publish", **post, token=new_token)
    assert chat.replication.messages[-1].op == Operation.PUBLISH
    refused = chat.answer(chat.ask("login", user="ana", password="correct horse"))
    assert "wrong password" in refused["description"]
