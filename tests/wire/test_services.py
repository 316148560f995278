"""Every client service and every error path, through real sockets and a real cluster,
spoken by a plain REQ client the way another team's client would."""

from __future__ import annotations

import json
import os
import uuid

import msgpack
import pytest
import zmq

from tests.support import RawClient, start_cluster, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("services"), servers=3)
    yield cluster
    cluster.stop()


@pytest.fixture
def client(cluster):
    c = RawClient(cluster.topology.broker)
    yield c
    c.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def data(reply: dict) -> dict:
    return reply["data"]


def assert_error(reply: dict) -> None:
    d = data(reply)
    assert d["status"] == "erro", d
    assert d["description"] and d["message"] == d["description"]


def test_login_twice_is_success_and_user_listed(client):
    user = unique("ana")
    assert data(client.request("login", user=user))["status"] == "sucesso"
    assert data(client.request("login", user=user))["status"] == "sucesso"
    assert user in data(client.request("users"))["users"]


def test_channel_create_list_and_duplicate(client):
    channel = unique("geral")
    reply = client.request("channel", channel=channel)
    assert reply["service"] == "channel"
    assert data(reply)["status"] == "sucesso"
    assert_error(client.request("channel", channel=channel))
    listed = data(client.request("channels"))
    assert channel in listed["channels"]
    assert listed["users"] == listed["channels"]


def test_publish_reaches_subscriber_with_union_payload(cluster, client):
    user, channel = unique("bob"), unique("sala")
    client.request("login", user=user)
    client.request("channel", channel=channel)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, channel.encode())
    sub.connect(cluster.topology.proxy_sub)
    try:

        def published() -> list[bytes] | None:
            assert (
                data(client.request("publish", user=user, channel=channel, message="oi"))["status"]
                == "OK"
            )
            return sub.recv_multipart() if sub.poll(300) else None

        topic, payload = wait_for(published, what="publication")
        message = msgpack.unpackb(payload)
        assert topic == channel.encode()
        assert message["service"] == "publish" and message["type"] == "channel"
        assert message["user"] == message["src"] == user
        assert message["channel"] == channel and message["message"] == "oi"
        assert isinstance(message["timestamp"], float) and message["clock"] > 0
        assert message["data"]["user"] == user and message["data"]["channel"] == channel
    finally:
        sub.close(0)


def test_private_message_and_history(client):
    ana, bia = unique("ana"), unique("bia")
    for user in (ana, bia):
        client.request("login", user=user)
    for i in range(3):
        assert data(client.request("message", src=ana, dst=bia, message=f"m{i}"))["status"] == "OK"
    client.request("message", **{"from": bia, "to": ana, "message": "back"})
    messages = data(client.request("history", user=ana, peer=bia))["messages"]
    assert [m["message"] for m in messages] == ["m0", "m1", "m2", "back"]
    assert [m["clock"] for m in messages] == sorted(m["clock"] for m in messages)


def test_channel_history_paging(client):
    user, channel = unique("eva"), unique("hist")
    client.request("channel", channel=channel)
    for i in range(5):
        client.request("publish", user=user, channel=channel, message=f"p{i}")
    last_two = data(client.request("history", channel=channel, limit=2))["messages"]
    assert [m["message"] for m in last_two] == ["p3", "p4"]
    older = data(
        client.request("history", channel=channel, limit=10, before_clock=last_two[0]["clock"])
    )["messages"]
    assert [m["message"] for m in older] == ["p0", "p1", "p2"]


def test_publishing_as_unknown_user_registers_it(client):
    user, channel = unique("ghost"), unique("c")
    client.request("channel", channel=channel)
    assert (
        data(client.request("publish", user=user, channel=channel, message="boo"))["status"] == "OK"
    )
    assert user in data(client.request("users"))["users"]


def test_every_reply_clock_exceeds_request_clock(client):
    for service, fields in [
        ("users", {}),
        ("channels", {}),
        ("login", {"user": unique("l")}),
        ("nope", {}),
    ]:
        client.clock += 1000  # ahead of the cluster: the reply must still exceed it
        request_clock = client.clock + 1  # RawClient ticks once before sending
        reply = client.request(service, **fields)
        assert data(reply)["clock"] > request_clock
        assert reply["clock"] == data(reply)["clock"]


BAD_REQUESTS = [
    ("unknown service", "teleport", {}),
    ("missing user", "login", {}),
    ("ill-typed user", "login", {"user": 42}),
    ("300-char name", "login", {"user": "x" * 300}),
    ("control characters", "login", {"user": "bad\x07name"}),
    ("spaces in channel", "channel", {"channel": "two words"}),
    ("unknown channel", "publish", {"user": "u", "channel": "no-such-channel", "message": "hi"}),
    ("missing message", "publish", {"user": "u", "channel": "c"}),
    ("unknown destination", "message", {"src": "u", "dst": "nobody-here", "message": "hi"}),
    ("ill-typed limit", "history", {"channel": "c", "limit": "ten"}),
]


@pytest.mark.parametrize(
    ("why", "service", "fields"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_requests_get_erro_and_change_nothing(client, why, service, fields):
    before = data(client.request("users"))["users"], data(client.request("channels"))["channels"]
    assert_error(client.request(service, **fields))
    after = data(client.request("users"))["users"], data(client.request("channels"))["channels"]
    assert before == after
    assert "users" in data(client.request("users"))  # still serving


def test_a_frame_over_the_limit_gets_an_erro_that_names_its_service_and_merges_its_clock(
    client,
):
    channel = unique("big")
    client.request("channel", channel=channel)
    big = "x" * (2 * 1024 * 1024)  # over the 1 MiB of a request, under the sockets' 4 MiB
    body = {"service": "publish", "data": {"user": "u", "channel": channel, "message": big}}
    sent_clock = 10**9
    reply = msgpack.unpackb(client.send_frames([msgpack.packb({**body, "clock": sent_clock})]))
    assert reply["service"] == "publish"
    assert_error(reply)
    assert "exceeds" in reply["data"]["description"]
    assert reply["data"]["clock"] > sent_clock
    assert data(client.request("history", channel=channel))["messages"] == []


def test_a_frame_beyond_the_sockets_limit_drops_only_its_connection(cluster, client):
    greedy = RawClient(cluster.topology.broker, timeout=2.0)
    try:
        with pytest.raises(zmq.Again):  # the broker dropped that connection unread
            greedy.send_frames([b"x" * (8 * 1024 * 1024)])
    finally:
        greedy.close()
    assert "users" in data(client.request("users"))  # everyone else is served


def test_random_bytes_get_erro(client):
    reply = msgpack.unpackb(client.send_frames([os.urandom(64) + b"\xc1"]))
    assert reply["data"]["status"] == "erro"
    assert "users" in data(client.request("users"))


def test_json_request_gets_json_reply(client):
    raw = client.send_frames([json.dumps({"service": "users", "data": {}}).encode()])
    reply = json.loads(raw)
    assert reply["service"] == "users" and isinstance(reply["data"]["users"], list)


def test_multipart_request_uses_last_frame(client):
    body = msgpack.packb({"service": "channels", "data": {}})
    reply = msgpack.unpackb(client.send_frames([b"ignored", body]))
    assert "channels" in reply["data"]


def test_opcao_and_aliases_accepted(client):
    raw = client.send_frames(
        [msgpack.packb({"opcao": "login", "data": {"username": unique("op")}})]
    )
    assert msgpack.unpackb(raw)["data"]["status"] == "sucesso"
    channel = unique("alias")
    raw = client.send_frames(
        [msgpack.packb({"service": "channel", "data": {"name": channel}, "lamport_clock": 7})]
    )
    assert msgpack.unpackb(raw)["data"]["status"] == "sucesso"


def test_a_resent_publish_is_stored_once_whichever_replica_gets_it(client):
    """Our clients tag publish/message with a request id that every Lazy Pirate resend keeps;
    consecutive requests reach different replicas (round-robin), and each answers OK."""
    channel = unique("once")
    client.request("channel", channel=channel)
    for _ in range(3):
        reply = client.request(
            "publish", user="ana", channel=channel, message="only once", request_id="rid-1"
        )
        assert data(reply)["status"] == "OK"
    assert [m["message"] for m in data(client.request("history", channel=channel))["messages"]] == [
        "only once"
    ]
