"""A server stopped (SIGSTOP) under load and resumed: our clients' resends store nothing
twice, and nothing acknowledged is lost (real processes, our own client)."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest

from actors.session import Unreachable
from roles.chat_client import ChatClient
from tests.cluster.replicas import wait_converged, whole_history
from tests.support import RawClient, start_cluster, wait_for

pytestmark = pytest.mark.cluster


def test_a_paused_server_resumed_under_load_stores_no_post_twice(tmp_path) -> None:
    cluster = start_cluster(tmp_path, servers=3)
    channel = f"pause-{uuid.uuid4().hex[:6]}"
    acked: list[str] = []
    stop = threading.Event()
    clients = [
        ChatClient(cluster.topology.broker, cluster.topology.endpoint(3), lambda d: None)
        for _ in range(4)
    ]

    def post(client: ChatClient, n: int) -> None:
        i = 0
        while not stop.is_set():
            text = f"c{n}-{i}"  # our client resends one text with one request id
            i += 1
            try:
                if (
                    client.call("publish", user=f"u{n}", channel=channel, message=text)["status"]
                    == "OK"
                ):
                    acked.append(text)
            except Unreachable:
                pass

    try:
        clients[0].call("channel", channel=channel)
        threads = [
            threading.Thread(target=post, args=(c, n), daemon=True) for n, c in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acked) >= 40, what="load running")
        cluster.procs["server-1"].send_signal(signal.SIGSTOP)
        time.sleep(6.0)  # the fault itself: longer than a client's whole retry period
        cluster.procs["server-1"].send_signal(signal.SIGCONT)
        count = len(acked)
        wait_for(lambda: len(acked) >= count + 40, timeout=30, what="load after the pause")
        stop.set()
        for thread in threads:
            thread.join(15)
        wait_converged(cluster)
        reader = RawClient(cluster.topology.broker)
        histories = [whole_history(reader, channel) for _ in range(3)]  # every replica
        reader.close()
        assert histories[0] == histories[1] == histories[2]
        assert len(histories[0]) == len(set(histories[0])), "a post is stored twice"
        assert set(acked) <= set(histories[0])
    finally:
        stop.set()
        for client in clients:
            client.close()
        cluster.stop()
