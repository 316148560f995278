"""RegistryActor (the reference): `rank`, `list`, `heartbeat`, expiry, ranks kept on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actors.base import Node
from actors.messages import ClientRequest, ExpiryDue
from actors.registry import RegistryActor
from actors.scheduler import ManualScheduler
from tests.fakes import FakeTransport, barrier, make_inbound


class Reference:
    def __init__(self, book: Path | None = None) -> None:
        self.transport = FakeTransport()
        self.time = ManualScheduler()
        self.node = Node("reference", "reference")
        self.ref = RegistryActor.start(self.node, self.transport, book, now=self.time.now)

    def call(self, service: str, **data: Any) -> dict[str, Any]:
        inbound = make_inbound(service, data, key="servers")
        self.ref.tell(ClientRequest(inbound))
        barrier(self.ref)
        return self.transport.reply_to(inbound).data

    def names(self) -> list[str]:
        return [item["name"] for item in self.call("list")["list"]]


@pytest.fixture
def reference() -> Reference:
    return Reference()


def test_ranks_are_stable_and_unique(reference: Reference) -> None:
    assert reference.call("rank", user="a") == {"rank": 1}
    assert reference.call("rank", user="b") == {"rank": 2}
    assert reference.call("rank", name="a") == {"rank": 1}


def test_list_has_live_servers_with_their_addresses(reference: Reference) -> None:
    reference.call("rank", user="b", address="tcp://b:5560")
    reference.call("rank", user="a")
    assert reference.call("list") == {
        "list": [{"name": "b", "rank": 1, "address": "tcp://b:5560"}, {"name": "a", "rank": 2}]
    }


def test_silent_servers_leave_the_list_and_keep_their_rank(reference: Reference) -> None:
    reference.call("rank", user="a")
    reference.call("rank", user="b")
    timeout = reference.node.timing.liveness_timeout
    for _ in range(4):
        reference.time.advance(timeout / 2)
        assert reference.call("heartbeat", user="b") == {"status": "OK"}
    reference.ref.tell(ExpiryDue())
    assert reference.names() == ["b"]
    assert reference.call("heartbeat", user="a") == {"status": "OK"}  # back, same rank
    assert reference.call("list")["list"][0] == {"name": "a", "rank": 1}
    assert reference.call("rank", user="c") == {"rank": 3}


def test_heartbeat_from_an_unknown_server_asks_it_to_register(reference: Reference) -> None:
    reply = reference.call("heartbeat", user="ghost")
    assert reply["status"] == "erro" and "rank" in reply["description"]


@pytest.mark.parametrize(
    ("service", "data"),
    [("rank", {}), ("rank", {"user": "a b"}), ("heartbeat", {"user": 3}), ("dance", {})],
)
def test_bad_requests_get_erro_and_the_reference_keeps_serving(
    reference: Reference, service: str, data: dict[str, Any]
) -> None:
    reply = reference.call(service, **data)
    assert reply["status"] == "erro" and reply["message"] == reply["description"]
    assert reference.call("rank", user="ok") == {"rank": 1}


def test_ranks_survive_a_restart_of_the_reference(tmp_path: Path) -> None:
    book = tmp_path / "ranks.json"
    first = Reference(book)
    first.call("rank", user="a", address="tcp://a:5560")
    first.call("rank", user="b")
    first.ref.stop()
    second = Reference(book)
    assert second.call("rank", user="b") == {"rank": 2}
    assert second.call("rank", user="new") == {"rank": 3}
    assert second.call("heartbeat", user="a") == {"status": "OK"}
    assert second.call("list")["list"][0] == {"name": "a", "rank": 1, "address": "tcp://a:5560"}


def test_a_live_server_cannot_be_hijacked_from_another_address(reference: Reference) -> None:
    reference.call("rank", user="a", address="tcp://10.0.0.1:5560")
    reply = reference.call("rank", user="a", address="tcp://10.6.6.6:5560")
    assert reply["status"] == "erro" and "another address" in reply["description"]
    assert reference.call("list")["list"] == [
        {"name": "a", "rank": 1, "address": "tcp://10.0.0.1:5560"}
    ]


@pytest.mark.parametrize("address", ["tcp://*:5560", "ipc:///x", "tcp://a:99999", 7])
def test_an_address_that_is_not_a_tcp_endpoint_is_refused(
    reference: Reference, address: object
) -> None:
    reply = reference.call("rank", user="a", address=address)
    assert reply["status"] == "erro"
    assert reference.call("list") == {"list": []}
