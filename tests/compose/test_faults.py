"""Fault injection against the real container deployment, observed from outside.

Run: python3 -m pytest -m compose tests/compose -q -s   (root, podman; see conftest.py)

Each test starts from a converged cluster (`healthy`), drives its own traffic, injects one
fault with podman or nft, and checks the outcome only through the wire: the broker (client
services), the proxy (publications) and each server's status port. Every row of the table
printed at the end is one fault, what was checked, the measured figure and the verdict.
"""

from __future__ import annotations

import time

import pytest

from tests.compose.harness import (
    ComposeCluster,
    LoadGenerator,
    Requester,
    Results,
    Subscriber,
    check_presence,
    elapsed,
    heads_total,
)
from tests.support import wait_for

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

CONVERGE_WITHIN = 60.0  # s, a restarted or healed replica catching up under light load
FAILOVER_WITHIN = 10.0  # s, the design's failover bound is about 4 s
RECONNECT_WITHIN = 10.0  # s, after the broker restarts
PARTITION = 20.0  # s


def non_coordinator(cluster: ComposeCluster) -> tuple[str, str]:
    """(server name, container) of the lowest-ranked server, never the coordinator."""
    statuses = cluster.wait_converged(30)
    lowest = min((s for s in statuses.values()), key=lambda s: s["rank"])
    return lowest["name"], cluster.server_named(lowest["name"])


def assert_presence(cluster: ComposeCluster, load: LoadGenerator) -> str:
    """Every acknowledged write of `load` once in every history reply; the figure."""
    presence = check_presence(cluster, load)
    assert not presence.missing, f"acknowledged writes lost: {sorted(presence.missing)[:20]}"
    assert not presence.duplicated, f"writes stored twice: {sorted(presence.duplicated)[:20]}"
    assert not presence.differing_replies, "history differs between replies (replicas)"
    return presence.figure()


def test_bot_traffic_flows_through_all_three_replicas(
    healthy: ComposeCluster, results: Results
) -> None:
    cluster = healthy
    with results.row(
        "none (2 bots posting)",
        "each replica handles requests, heads grow, bot posts in history from every origin",
    ) as row:
        before = cluster.wait_converged(30)
        started = time.monotonic()

        def grown() -> dict[str, dict] | None:
            now = cluster.statuses()
            if any(s is None for s in now.values()):
                return None
            handled = all(
                now[c]["requests_handled"] >= before[c]["requests_handled"] + 5 for c in now
            )
            heads = all(heads_total(now[c]) > heads_total(before[c]) for c in now)
            return now if handled and heads else None

        after = wait_for(grown, timeout=60, interval=0.2, what="requests on every replica")
        handled = "/".join(
            f"+{after[c]['requests_handled'] - before[c]['requests_handled']}"
            for c in cluster.servers
        )
        client = Requester(cluster.broker_endpoint)
        try:

            def bot_origins() -> tuple[int, set[str]] | None:
                posts = [
                    m
                    for channel in client.request("channels")["channels"]
                    for m in client.request("history", channel=channel, limit=1000)["messages"]
                    if str(m.get("user", "")).startswith("bot-")
                ]
                origins = {str(m["id"]).rsplit(":", 1)[0] for m in posts}
                return (len(posts), origins) if len(origins) == 3 else None

            posts, origins = wait_for(
                bot_origins, timeout=60, interval=0.5, what="bot posts stored by all three replicas"
            )
        finally:
            client.close()
        row.figure = (
            f"requests {handled} in {elapsed(started):.1f}s; "
            f"{posts} bot posts from {len(origins)}/3 origins"
        )


def test_kill_9_a_server_under_load_loses_no_acknowledged_write(
    healthy: ComposeCluster, results: Results
) -> None:
    cluster = healthy
    victim_name, victim = non_coordinator(cluster)
    survivors = [c for c in cluster.servers if c != victim]
    with LoadGenerator(cluster, "kill") as load:
        with results.row(
            f"kill -9 {victim_name} under load (10 publishes/s)",
            "every acked write in history exactly once, from the 2 survivors",
        ) as row:
            load.wait_acks_after(0, 30, timeout=30)
            cluster.kill(victim)
            killed = time.monotonic()
            load.wait_acks_after(killed, 50, timeout=60)
            gap = load.longest_gap(killed)
            load.stop()
            cluster.wait_converged(CONVERGE_WITHIN, survivors, what="survivors converged")
            counts = load.counts()
            row.figure = (
                f"{assert_presence(cluster, load)}; {counts['no reply']} no reply, "
                f"{counts['erro']} refused; longest gap without ack {gap:.1f}s"
            )
            assert load.error is None, load.error
        with results.row(
            f"podman start {victim_name} again",
            "rejoins; heads equal on all 3; acked writes once in every reply",
        ) as row:
            cluster.start(victim)
            started = time.monotonic()
            cluster.wait_converged(CONVERGE_WITHIN, what="restarted replica converged")
            took = elapsed(started)
            row.figure = f"converged {took:.1f}s after start; {assert_presence(cluster, load)}"


def test_kill_the_coordinator_a_new_one_is_announced(
    healthy: ComposeCluster, results: Results
) -> None:
    cluster = healthy
    old, container = cluster.coordinator()
    with Subscriber(cluster, ("servers",)) as announcements:
        opened = time.monotonic()
        wait_for(
            lambda: announcements.coordinators_since(opened),
            timeout=15,
            what="the coordinator's periodic announcement",
        )
        with LoadGenerator(cluster, "failover") as load:
            with results.row(
                f"kill -9 coordinator {old}",
                "a new coordinator (highest live rank) announced on `servers`",
            ) as row:
                survivors = [c for c in cluster.servers if c != container]
                ranks = {s["name"]: s["rank"] for s in cluster.wait_converged(30).values()}
                expected = max((n for n in ranks if n != old), key=ranks.__getitem__)
                load.wait_acks_after(0, 10, timeout=30)
                cluster.kill(container)
                killed = time.monotonic()
                first = wait_for(
                    lambda: [a for a in announcements.coordinators_since(killed) if a[1] != old],
                    timeout=FAILOVER_WITHIN + 20,
                    interval=0.05,
                    what="a new coordinator",
                )[0]
                took = first[0] - killed
                row.figure = f"{first[1]} announced {took:.1f}s after the kill"
                assert first[1] == expected, f"{first[1]} announced, {expected} has the top rank"
                assert took <= FAILOVER_WITHIN, f"failover took {took:.1f}s"
                statuses = cluster.wait_converged(30, survivors, what="survivors agree")
                assert {s["coordinator"] for s in statuses.values()} == {expected}
                load.wait_acks_after(killed + took, 10, timeout=30)
            with results.row(
                f"podman start {old} again",
                "bully: it takes over again, all agree; acked writes once in every reply",
            ) as row:
                cluster.start(container)
                started = time.monotonic()
                statuses = cluster.wait_converged(CONVERGE_WITHIN, what="old coordinator back")
                took = elapsed(started)
                assert {s["coordinator"] for s in statuses.values()} == {old}
                load.stop()
                cluster.wait_converged(CONVERGE_WITHIN)
                row.figure = f"{old} coordinator again {took:.1f}s after start; " + (
                    assert_presence(cluster, load)
                )
                assert load.error is None, load.error


def test_cut_a_server_off_the_network_then_heal(healthy: ComposeCluster, results: Results) -> None:
    cluster = healthy
    victim_name, victim = cluster.coordinator()
    survivors = [c for c in cluster.servers if c != victim]
    with (
        LoadGenerator(cluster, "cut") as load,
        results.row(
            f"nft drop all traffic of {victim_name} (coordinator) for {PARTITION:.0f}s",
            "service goes on; after heal: heads equal, each acked write exactly once",
        ) as row,
    ):
        load.wait_acks_after(0, 20, timeout=30)
        cluster.cut_off(victim)
        cut = time.monotonic()
        # The cut took: the victim is unreachable and the others drop it from their peers.
        assert cluster.status(victim) is None, "status answered through the cut"
        wait_for(
            lambda: all(
                s and victim_name not in s["peers"] for s in cluster.statuses(survivors).values()
            ),
            timeout=PARTITION,
            what=f"survivors dropping {victim_name}",
        )
        load.wait_acks_after(cut, 20, timeout=PARTITION)
        time.sleep(max(0.0, PARTITION - elapsed(cut)))  # the fault's duration itself
        acks_during = load.acks_after(cut)
        cluster.heal(victim)
        healed = time.monotonic()
        cluster.wait_converged(CONVERGE_WITHIN, what="converged after heal")
        took = elapsed(healed)
        load.wait_acks_after(time.monotonic(), 10, timeout=30)
        load.stop()
        cluster.wait_converged(CONVERGE_WITHIN)
        counts = load.counts()
        row.figure = (
            f"{acks_during} acks during the cut; converged {took:.1f}s after heal; "
            f"{assert_presence(cluster, load)}; {counts['no reply']} no reply, "
            f"{counts['erro']} refused"
        )
        assert load.error is None, load.error


def test_restart_the_broker_clients_and_servers_reconnect(
    healthy: ComposeCluster, results: Results
) -> None:
    cluster = healthy
    with (
        Subscriber(cluster) as publications,
        LoadGenerator(cluster, "broker") as load,
        results.row(
            "podman restart broker",
            f"a client, all 3 servers and the bots work again within {RECONNECT_WITHIN:.0f}s",
        ) as row,
    ):
        load.wait_acks_after(0, 10, timeout=30)
        old_ip = cluster.ip(cluster.broker)
        cluster.podman("restart", cluster.broker)
        back = time.monotonic()
        before = cluster.statuses()
        client_ok = wait_for(
            lambda: load.first_ack_after(back),
            timeout=30,
            interval=0.05,
            what="client acknowledged again",
        )

        def all_servers_serving() -> float | None:
            now = cluster.statuses()
            ok = all(
                now[c] and before[c] and now[c]["requests_handled"] > before[c]["requests_handled"]
                for c in cluster.servers
            )
            return elapsed(back) if ok else None

        servers_ok = wait_for(
            all_servers_serving,
            timeout=30,
            interval=0.1,
            what="every server handling requests again",
        )
        bots_ok = wait_for(
            lambda: (posts := publications.bot_posts_since(back)) and posts[0] - back,
            timeout=30,
            interval=0.05,
            what="bots posting again",
        )
        load.stop()
        new_ip = cluster.ip(cluster.broker)
        row.figure = (
            f"client {client_ok:.1f}s, servers {servers_ok:.1f}s, bots {bots_ok:.1f}s "
            f"(broker {old_ip} -> {new_ip}); {assert_presence(cluster, load)}"
        )
        worst = max(client_ok, servers_ok, bots_ok)
        assert worst <= RECONNECT_WITHIN, f"reconnection took {worst:.1f}s"
        assert load.error is None, load.error


def test_stop_the_reference_service_continues_then_servers_reregister(
    healthy: ComposeCluster, results: Results
) -> None:
    cluster = healthy
    with LoadGenerator(cluster, "reference") as load:
        with results.row(
            "podman stop reference",
            "publishes keep succeeding while it is down",
        ) as row:
            load.wait_acks_after(0, 10, timeout=30)
            seen = len(load.attempts())
            cluster.podman("stop", cluster.reference)
            stopped = time.monotonic()
            wait_for(
                lambda: all(s and not s["reference_up"] for s in cluster.statuses().values()),
                timeout=30,
                what="servers noticing the reference is gone",
            )
            load.wait_acks_after(stopped, 100, timeout=60)
            during = load.attempts()[seen:]
            ok = during.count("OK")
            row.figure = f"{ok}/{len(during)} publishes OK while it was down"
            assert ok == len(during), f"{len(during) - ok} publishes failed without reference"
        with results.row(
            "podman start reference",
            "every server registers again (reference_up, full peers); acked writes kept",
        ) as row:
            cluster.start(cluster.reference)
            started = time.monotonic()
            cluster.wait_converged(CONVERGE_WITHIN, what="servers registered again")
            took = elapsed(started)
            load.stop()
            cluster.wait_converged(CONVERGE_WITHIN)
            row.figure = f"all registered {took:.1f}s after start; {assert_presence(cluster, load)}"
            assert load.error is None, load.error
