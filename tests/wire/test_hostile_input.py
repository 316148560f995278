"""What a hostile or careless peer can send, sent to a real cluster: every frame is answered
(or, for publications, ignored) and the cluster keeps writing on every replica."""

from __future__ import annotations

import json
import math
import time
import uuid

import msgpack
import pytest
import zmq

from tests.support import RawClient, server_status, start_cluster, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("hostile"), servers=3)
    yield cluster
    cluster.stop()


def writes_everywhere(cluster) -> None:
    """A post through each replica in turn is stored and read back from every replica."""
    client = RawClient(cluster.topology.broker)
    try:
        channel = f"alive-{uuid.uuid4().hex[:6]}"
        assert client.request("channel", channel=channel)["data"]["status"] == "sucesso"
        for i in range(3):
            reply = client.request("publish", user="ana", channel=channel, message=f"m{i}")
            assert reply["data"]["status"] == "OK", reply
        for _ in range(3):
            history = client.request("history", channel=channel)["data"]["messages"]
            assert [m["message"] for m in history] == ["m0", "m1", "m2"]
    finally:
        client.close()


def raw(cluster, payload: bytes, timeout: float = 5.0) -> bytes:
    client = RawClient(cluster.topology.broker, timeout=timeout)
    try:
        return client.send_frames([payload])
    finally:
        client.close()


def answered(reply: bytes) -> dict:
    try:
        return msgpack.unpackb(reply)
    except ValueError:
        return json.loads(reply)


@pytest.mark.parametrize(
    "clock",
    [2**64 - 1, 2**63, 2**53 + 7, -1, 1e300, math.nan, math.inf, "inf", "1e999", [1], {"x": 1}],
)
def test_any_clock_is_answered_and_every_replica_keeps_writing(cluster, clock) -> None:
    body = {"service": "users", "data": {"clock": clock}, "clock": clock}
    reply = answered(raw(cluster, msgpack.packb(body)))
    assert "users" in reply["data"]
    assert 0 < reply["data"]["clock"] < 2**40  # the forged clock moved no clock
    writes_everywhere(cluster)


def test_json_numbers_out_of_range_are_answered(cluster) -> None:
    reply = answered(raw(cluster, b'{"service": "users", "data": {"clock": 1e300}}'))
    assert "users" in reply["data"]
    reply = answered(raw(cluster, b'{"service": "users", "data": {"timestamp": NaN}}'))
    assert "users" in reply["data"]


def test_nesting_too_deep_for_any_parser_gets_an_erro(cluster) -> None:
    for payload in (b"[" * 100_000, b'{"a":' * 50_000, b"\x91" * 100_000):
        reply = answered(raw(cluster, payload))
        assert reply["data"]["status"] == "erro"
    writes_everywhere(cluster)


def test_a_nan_timestamp_is_read_as_now(cluster) -> None:
    client = RawClient(cluster.topology.broker)
    try:
        channel = f"nan-{uuid.uuid4().hex[:6]}"
        client.request("channel", channel=channel)
        before = time.time()
        body = {
            "service": "publish",
            "data": {"user": "ana", "channel": channel, "message": "when?", "timestamp": math.nan},
        }
        reply = answered(client.send_frames([msgpack.packb(body)]))
        assert reply["data"]["status"] == "OK"
        [entry] = client.request("history", channel=channel)["data"]["messages"]
        assert before - 5 < entry["timestamp"] < time.time() + 5
    finally:
        client.close()


def test_a_forged_publication_with_a_huge_clock_poisons_nothing(cluster) -> None:
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.connect(cluster.topology.endpoint(2))  # the proxy's XSUB
    try:
        forged = {
            "service": "replication",
            "clock": 2**64 - 1,
            "data": {"clock": 2**64 - 1, "operation": "login", "operationData": {}},
        }
        election = {"service": "election", "data": {"coordinator": "*", "clock": 2**64 - 1}}
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # a PUB drops until the subscription reaches it
            pub.send_multipart([b"replication", msgpack.packb(forged)])
            pub.send_multipart([b"servers", msgpack.packb(election)])
            time.sleep(0.05)
    finally:
        pub.close()
    writes_everywhere(cluster)
    coordinators = {server_status(cluster, i)["coordinator"] for i in range(3)}
    assert len(coordinators) == 1 and "*" not in coordinators


def test_server_to_server_calls_with_absurd_numbers_are_refused(cluster) -> None:
    peer = RawClient(cluster.topology.endpoint(5), timeout=5.0)  # server-0's peer port
    try:
        for delta in (math.nan, math.inf, 1e12):
            assert peer.request("adjust", delta=delta)["data"]["status"] == "erro"
        assert abs(server_status(cluster, 0)["offset"]) < 1.0  # Berkeley's own tiny steps only
        bad = {"origin": "ghost", "seq": 1, "clock": 5, "op": "login", "user": "x"}
        for event in ({**bad, "timestamp": math.nan}, {**bad, "clock": 2**64 - 1}):
            peer.request("replicate", events=[event], origin="ghost")
        assert "ghost" not in server_status(cluster, 0)["heads"]
        reply = peer.request("sync", heads={"x": 2**64 - 1}, limit=2**64 - 1)["data"]
        assert reply["status"] == "OK"
    finally:
        peer.close()
    writes_everywhere(cluster)


def test_a_live_server_cannot_be_taken_over_at_the_reference(cluster) -> None:
    reference = RawClient(cluster.topology.endpoint(4), timeout=5.0)
    try:
        reply = reference.request("rank", user="server-0", address="tcp://10.66.66.66:5560")
        assert reply["data"]["status"] == "erro"
        listed = reference.request("list")["data"]["list"]
        assert "10.66.66.66" not in json.dumps(listed)
    finally:
        reference.close()
    writes_everywhere(cluster)


def test_look_alike_and_reserved_names_are_refused(cluster) -> None:
    client = RawClient(cluster.topology.broker)
    try:
        for name in ("\u0430dmin", "replication", "servers"):
            assert client.request("login", user=name)["data"]["status"] == "erro"
        fullwidth = "".join(chr(ord(c) - 0x21 + 0xFF01) for c in "zoe")
        assert client.request("login", user=fullwidth)["data"]["status"] == "sucesso"
        wait_for(lambda: "zoe" in client.request("users")["data"]["users"])
    finally:
        client.close()
