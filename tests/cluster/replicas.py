"""Reading the replicas of a real cluster: status, heads, histories (shared by the cluster
tests)."""

from __future__ import annotations

from tests.support import RawClient, server_status, wait_for

SERVERS = ("server-0", "server-1", "server-2")


def status(cluster, name: str) -> dict:
    return server_status(cluster, int(name.rsplit("-", 1)[1]))


def heads(cluster, name: str) -> tuple:
    return tuple(sorted(status(cluster, name)["heads"].items()))


def wait_converged(cluster, names=SERVERS, timeout: float = 30.0) -> None:
    """Until every replica holds the same events."""
    wait_for(
        lambda: len({heads(cluster, n) for n in names}) == 1,
        timeout=timeout,
        what="replicas converged",
    )


def channel_history(client: RawClient, channel: str) -> list[str]:
    reply = client.request("history", channel=channel, limit=1000)
    return [m["message"] for m in reply["data"]["messages"]]


def histories_from_every_replica(cluster, channel: str, rounds: int = 3) -> list[list[str]]:
    """The broker round-robins, so consecutive requests reach every replica."""
    client = RawClient(cluster.topology.broker)
    try:
        return [channel_history(client, channel) for _ in range(rounds)]
    finally:
        client.close()


def whole_history(client: RawClient, channel: str) -> list[str]:
    """Every post of `channel`, oldest first, paging back with `before_clock`."""
    texts: list[str] = []
    paging: dict = {}
    while True:
        reply = client.request("history", channel=channel, limit=1000, **paging)
        page = reply["data"]["messages"]
        if not page:
            return texts
        texts = [m["message"] for m in page] + texts
        paging = {"before_clock": page[0]["clock"]}
