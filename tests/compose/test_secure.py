"""The compose tier's secure run: the deployment with docker-compose.secure.yml (a project of
its own next to the plain one) serves a plain client, while a publisher without a key is
refused at the proxy's XSUB and none of its posts reaches a subscriber."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import msgpack
import pytest
import zmq

from tests.compose.conftest import PROJECT
from tests.compose.harness import (
    PROXY_PUB_PORT,
    ComposeCluster,
    Requester,
    Results,
    Subscriber,
    default_env,
    elapsed,
)
from tests.support import handshake_refused, wait_for
from transport import keys

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]
CONTAINER_UID = 10001  # the image's user (Dockerfile): it must read the secret keys


@pytest.fixture(scope="module")
def secure(
    cluster: ComposeCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeCluster]:
    """Depends on the plain deployment's fixture only for compose/setup.sh (the image)."""
    out = keys.create(tmp_path_factory.mktemp("compose-secure") / "keys")
    for path in (out, *out.rglob("*")):
        os.chown(path, CONTAINER_UID, CONTAINER_UID)
    project = f"{PROJECT}sec"
    env = {
        **default_env(project),
        "BBS_SUBNET": os.environ.get("BBS_SECURE_SUBNET", "10.150.0.0/24"),
        "BBS_KEYS_DIR": str(out),
        "BBS_COMPOSE_FILES": "docker-compose.yml docker-compose.secure.yml",
    }
    compose = ComposeCluster(project, env, keys=out)
    try:
        compose.script("down.sh")
        compose.script("up.sh")
        yield compose
    finally:
        compose.down()


def test_secure_mode_serves_plain_clients_and_refuses_a_keyless_publisher(
    secure: ComposeCluster, results: Results
) -> None:
    with results.row(
        "secure mode (docker-compose.secure.yml)",
        "plain client served; keyless XSUB publisher refused, its posts never delivered",
    ) as row:
        up = time.monotonic()
        client = Requester(secure.broker_endpoint, timeout=2.0)
        wait_for(lambda: client.request("users"), timeout=120, what="secure broker answering")
        secure.wait_converged(120, what="secure cluster settled")
        served = elapsed(up)
        assert client.request("channel", channel="sec", user="ana")["status"] == "sucesso"
        with Subscriber(secure, ("sec",)) as subscriber:
            rogue = zmq.Context.instance().socket(zmq.PUB)
            rogue.setsockopt(zmq.LINGER, 0)
            try:
                handshake_refused(rogue, f"tcp://{secure.ip(secure.proxy)}:{PROXY_PUB_PORT}")
                fake = {"service": "publish", "user": "evil", "channel": "sec", "message": "fake"}
                for _ in range(20):
                    rogue.send_multipart([b"sec", msgpack.packb(fake)])
                start = time.monotonic() - 60

                def delivered() -> list[str]:
                    reply = client.request("publish", user="ana", channel="sec", message="real")
                    assert reply["status"] == "OK"
                    return [body.get("message") for _, body in subscriber.since(start, "sec")]

                # the subscription propagates asynchronously: post until one arrives
                texts = wait_for(delivered, timeout=30, interval=0.2, what="a real post")
                assert set(texts) == {"real"}
            finally:
                rogue.close(0)
        client.close()
        row.figure = f"served {served:.1f}s after up; 0/20 forged posts delivered"
