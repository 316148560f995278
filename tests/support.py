"""Helpers shared by the socket-level test tiers: a raw protocol client, waits, a cluster
(free ports come from roles.cluster.free_base_port)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from roles.cluster import Cluster, Topology, free_base_port
from transport import sockets
from transport.keys import ClusterKeys, KeyPair

T = TypeVar("T")
__all__ = ["RawClient", "free_base_port", "handshake_refused", "start_cluster", "wait_for"]


def wait_for(
    condition: Callable[[], T],
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll until `condition()` is truthy; return its value or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # the system under test may not be up yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class RawClient:
    """A protocol client on a plain REQ socket, as another team's client would be."""

    def __init__(
        self, endpoint: str, timeout: float = 5.0, curve: tuple[KeyPair, bytes] | None = None
    ) -> None:
        """`curve`: (own pair, the server's public key) to connect with CURVE."""
        self.endpoint = endpoint
        self.timeout_ms = int(timeout * 1000)
        self.curve = curve
        self.ctx = zmq.Context.instance()
        self.clock = 0
        self.sock = self._open()

    def _open(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        sock.setsockopt(zmq.SNDTIMEO, self.timeout_ms)  # no peer (refused handshake): Again
        if self.curve is not None:
            sockets.curve_client(sock, *self.curve)
        sock.connect(self.endpoint)
        return sock

    def send_frames(self, frames: list[bytes]) -> bytes:
        try:
            self.sock.send_multipart(frames)
            return self.sock.recv()
        except zmq.Again:
            self.sock.close(0)
            self.sock = self._open()
            raise

    def request(self, service: str, **data: Any) -> dict[str, Any]:
        self.clock += 1
        body = {
            "service": service,
            "data": {**data, "timestamp": time.time(), "clock": self.clock},
            "clock": self.clock,
        }
        reply = msgpack.unpackb(self.send_frames([msgpack.packb(body)]))
        self.clock = max(self.clock, reply["data"]["clock"])
        return reply

    def close(self) -> None:
        self.sock.close(0)


def handshake_refused(sock: zmq.Socket, endpoint: str, timeout: float = 10.0) -> None:
    """Connect `sock` to `endpoint` and return once its handshake failed (secure mode
    refusing it); fail if it succeeds or nothing happens in `timeout`."""
    failed = (
        zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    )
    monitor = sock.get_monitor_socket()
    sock.connect(endpoint)
    try:
        while True:
            assert monitor.poll(int(timeout * 1000)), f"no handshake outcome from {endpoint}"
            event = recv_monitor_message(monitor)["event"]
            assert event != zmq.EVENT_HANDSHAKE_SUCCEEDED, f"{endpoint} accepted the handshake"
            if event & failed:
                return
    finally:
        sock.disable_monitor()
        monitor.close(0)


def server_status(cluster: Cluster, index: int) -> dict[str, Any]:
    """The `status` service of server i, through its server-to-server port."""
    keys = cluster.topology.keys
    curve = ClusterKeys(keys).as_server("server") if keys is not None else None
    peer = RawClient(cluster.topology.endpoint(5 + index), timeout=1.0, curve=curve)
    try:
        return peer.request("status")["data"]
    finally:
        peer.close()


def settled(cluster: Cluster) -> bool:
    """Every server knows all its peers and all name the same coordinator."""
    count = cluster.topology.servers
    statuses = [server_status(cluster, i) for i in range(count)]
    coordinators = {s["coordinator"] for s in statuses}
    return (
        all(len(s["peers"]) == count - 1 for s in statuses)
        and len(coordinators) == 1
        and None not in coordinators
    )


def start_cluster(tmp_path: Any, servers: int = 3, bots: int = 0, **extra: Any) -> Cluster:
    topology = Topology(
        base_port=free_base_port(5 + servers),
        servers=servers,
        bots=bots,
        data_dir=tmp_path,
        bot_interval=0.2,
        **extra,
    )
    cluster = Cluster(topology).start()
    try:
        client = RawClient(topology.broker, timeout=2.0)
        wait_for(lambda: client.request("users").get("data"), timeout=30, what="cluster serving")
        client.close()
        wait_for(lambda: settled(cluster), timeout=30, what="cluster settled")
    except BaseException:
        cluster.stop()
        raise
    return cluster
