"""`bbs logs --check` and `bbs status` against ONE real loopback cluster run, shared by every
test of this module: bots post, server-2 is killed with SIGKILL and restarted, then the
coordinator is killed and never comes back. Tampered copies of the run's logs must fail."""

from __future__ import annotations

import io
import json
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops import logs, status
from ops.cluster_status import Snapshot, collect
from ops.lifetimes import END_SLACK
from ops.log_reader import parse_time
from roles.cluster import Cluster, Topology
from tests.support import free_base_port, wait_for

pytestmark = pytest.mark.cluster

SERVERS = [f"server-{i}" for i in range(3)]


@dataclass
class Run:
    log_dir: Path
    healthy: Snapshot  # every server up, bots paused, replication settled
    healthy_text: str  # `bbs status` output at that moment
    watch_json: list[dict]  # two refreshes of `bbs status --watch --json`
    after_kill: Snapshot  # right after server-2 was killed with SIGKILL
    killed_coordinator: str
    new_coordinator: str

    @property
    def live(self) -> list[str]:
        return [n for n in SERVERS if n != self.killed_coordinator]


def _writes(snapshot: Snapshot) -> int:
    return max((sum((s.get("heads") or {}).values()) for s in snapshot.servers), default=0)


def _last_time(path: Path) -> float:
    last = path.read_text().strip().rsplit("\n", 1)[-1]
    return parse_time(json.loads(last)["timestamp"]) or 0.0


class _StopAfter(io.StringIO):
    """An output that ends `--watch` after a number of refreshes."""

    def __init__(self, refreshes: int, stop) -> None:
        super().__init__()
        self.refreshes, self.stop = refreshes, stop

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.getvalue().count("\n") >= self.refreshes:
            self.stop.set()
        return written


def _scenario(cluster: Cluster, reference: str) -> Run:
    def snap(previous: Snapshot | None = None) -> Snapshot:
        return collect(reference, timeout=1.0, previous=previous)

    def settled() -> Snapshot | None:
        s = snap()
        alive = [x for x in s.servers if x.alive]
        heads = {json.dumps(x.get("heads"), sort_keys=True) for x in alive}
        ok = len(alive) == 3 and s.agreed_coordinator and len(heads) == 1 and _writes(s) > 0
        return s if ok and not any(x.get("pending_writes") for x in alive) else None

    wait_for(lambda: _writes(snap()) >= 10, timeout=30, what="bots writing")
    for bot in ("bot-0", "bot-1"):
        cluster.kill(bot, signal.SIGTERM)
    healthy = wait_for(settled, timeout=15, what="heads equal once bots pause")
    out = io.StringIO()
    status.run(["--reference", reference], out=out)
    watch = _StopAfter(2, threading.Event())
    status.run(["--reference", reference, "--json", "--watch", "0.1"], out=watch, stop=watch.stop)

    for bot in ("bot-0", "bot-1"):
        cluster.start_one(bot)
    wait_for(lambda: _writes(snap()) >= _writes(healthy) + 10, what="bots writing again")
    cluster.kill("server-2")
    after_kill = snap(previous=healthy)
    at_kill = _writes(after_kill)
    wait_for(lambda: _writes(snap()) >= at_kill + 10, what="writes while server-2 is down")

    cluster.start_one("server-2")

    def caught_up() -> Snapshot | None:
        s = snap()
        by_name = {x.name: x for x in s.servers}
        back = by_name.get("server-2")
        agreed = s.agreed_coordinator and sum(x.alive for x in s.servers) == 3
        caught = back and (back.get("last_catchup") or {}).get("events")
        # its log line too: a process flushes its log every 0.1 s, and the coordinator killed
        # next may be server-2 itself (SIGKILL loses what was not flushed yet)
        logged = "catchup_done" in (cluster.log_dir / "server-2.jsonl").read_text()
        return s if agreed and caught and logged else None

    coordinator = wait_for(caught_up, timeout=20, what="server-2 caught up").agreed_coordinator
    cluster.kill(coordinator)
    killed_log = cluster.log_dir / f"{coordinator}.jsonl"

    def new_coordinator() -> str | None:
        s = snap()
        agreed = s.agreed_coordinator if sum(x.alive for x in s.servers) == 2 else None
        return agreed if agreed != coordinator else None

    elected = wait_for(new_coordinator, timeout=15, what="a new coordinator")
    survivors = [cluster.log_dir / f"{n}.jsonl" for n in SERVERS if n != coordinator]
    wait_for(
        lambda: min(_last_time(p) for p in survivors) - _last_time(killed_log) > END_SLACK + 1,
        timeout=20,
        what="the killed coordinator's log to end well before the others",
    )
    return Run(
        log_dir=cluster.log_dir,
        healthy=healthy,
        healthy_text=out.getvalue(),
        watch_json=[json.loads(x) for x in watch.getvalue().splitlines()],
        after_kill=after_kill,
        killed_coordinator=coordinator,
        new_coordinator=elected,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    data_dir = tmp_path_factory.mktemp("cluster")
    topology = Topology(base_port=free_base_port(8), data_dir=data_dir, bot_interval=0.2)
    cluster = Cluster(topology)
    try:
        cluster.start()
        result = _scenario(cluster, topology.endpoint(4))
    finally:
        cluster.stop()
    return result


def check(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return logs.run(["--check", *argv], out=out), out.getvalue()


# ---- bbs status -----------------------------------------------------------------------------


def test_status_of_a_healthy_cluster(run):
    snapshot = run.healthy
    assert snapshot.reference_up
    assert sorted(s.name for s in snapshot.servers if s.alive) == SERVERS
    coordinator = snapshot.agreed_coordinator
    assert coordinator in SERVERS
    heads = [s.get("heads") for s in snapshot.servers]
    assert heads[0] and heads.count(heads[0]) == 3
    text = run.healthy_text
    assert f"coordinator: {coordinator} (named by 3 of 3 answering)" in text
    for name in SERVERS:
        row = next(line for line in text.splitlines() if line.startswith(name))
        assert " yes " in row


def test_status_watch_refreshes_as_json(run):
    assert len(run.watch_json) == 2
    for document in run.watch_json:
        assert document["reference_up"]
        assert sorted(s["name"] for s in document["servers"] if s["alive"]) == SERVERS


def test_status_shows_a_killed_server_as_not_alive(run):
    by_name = {s.name: s for s in run.after_kill.servers}
    assert not by_name["server-2"].alive
    assert by_name["server-0"].alive and by_name["server-1"].alive
    assert "server-2  " in status.render(run.after_kill)
    row = next(r for r in status.render(run.after_kill).splitlines() if r.startswith("server-2"))
    assert "NO (" in row


def test_status_never_hangs_on_a_dead_reference():
    started = time.monotonic()
    out = io.StringIO()
    assert status.run(["--reference", f"tcp://127.0.0.1:{free_base_port(1)}"], out=out) == 1
    assert time.monotonic() - started < 3
    assert "UNREACHABLE" in out.getvalue()


# ---- bbs logs on the real run ---------------------------------------------------------------


def test_check_passes_on_the_real_run(run):
    code, text = check(str(run.log_dir))
    assert code == 0, text
    assert "5 passed, 0 failed" in text
    assert f"{run.killed_coordinator} ended early" in text
    assert "server-2 x1" in text or run.killed_coordinator == "server-2"


def test_check_reads_standard_input_like_docker_compose_logs(run):
    merged = "".join(p.read_text() for p in sorted(run.log_dir.glob("*.jsonl")))
    out = io.StringIO()
    code = logs.run(["-", "--check"], stdin=io.StringIO("noise\n" + merged), out=out)
    assert code == 0, out.getvalue()


def test_summary_tells_the_story_of_the_run(run):
    out = io.StringIO()
    assert logs.run(["--summary", "--json", str(run.log_dir)], out=out) == 0
    summary = json.loads(out.getvalue())["summary"]
    episodes = summary["elections"]["episodes"]
    assert any(
        e["lost"] == run.killed_coordinator and e["winner"] == run.new_coordinator for e in episodes
    ), episodes
    assert run.new_coordinator in [w["winner"] for w in summary["elections"]["wins"]]
    replication = summary["replication"]
    assert replication["lag_ms"]["count"] > 0
    assert any(c["node"] == "server-2" for c in replication["catchups"])
    assert summary["requests"]["services"]["publish"]["count"] > 0
    assert summary["clock"]["rounds"]


def test_timeline_is_ordered_by_lamport_and_filtered(run):
    out = io.StringIO()
    argv = [str(run.log_dir), "--json", "--event", "coordinator_*", "--role", "server"]
    assert logs.run(argv, out=out) == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert {x["event"] for x in lines} == {"coordinator_elected", "coordinator_unreachable"}
    assert {x["role"] for x in lines} == {"server"}
    clocks = [x["lamport"] for x in lines]
    assert clocks == sorted(clocks)


# ---- tampered copies of the run's logs -------------------------------------------------------


class Logs:
    """A copy of the run's log folder whose files can be edited line by line."""

    def __init__(self, run: Run, tmp_path: Path) -> None:
        self.dir = tmp_path / "logs"
        shutil.copytree(run.log_dir, self.dir)

    def path(self, node: str) -> Path:
        return self.dir / f"{node}.jsonl"

    def lines(self, node: str) -> list[dict]:
        return [json.loads(x) for x in self.path(node).read_text().splitlines()]

    def write(self, node: str, lines: list[dict]) -> None:
        self.path(node).write_text("".join(json.dumps(x) + "\n" for x in lines))

    def where(self, node: str, index: int) -> str:
        return f"{self.path(node)}:{index + 1}"


@pytest.fixture
def tampered(run, tmp_path) -> Logs:
    return Logs(run, tmp_path)


def _seconds(line: dict) -> float:
    return parse_time(line["timestamp"]) or 0.0


def test_check_fails_when_a_lamport_clock_goes_back(run, tampered):
    node = run.live[0]
    lines = tampered.lines(node)
    i = next(
        i
        for i in range(len(lines) // 2, len(lines))
        if lines[i - 1]["lamport"] > 1
        and lines[i - 1]["event"] != "stopped"
        and 0 < _seconds(lines[i]) - _seconds(lines[i - 1]) < 0.1
        and lines[i]["event"] != "store_opened"
    )
    lines[i]["lamport"] = lines[i - 1]["lamport"] - 1
    tampered.write(node, lines)
    code, text = check(str(tampered.dir))
    assert code == 1
    assert "[FAIL] lamport-monotonic" in text
    assert f"at {tampered.where(node, i)}" in text


def test_check_fails_when_a_reply_clock_does_not_exceed_the_request(run, tampered):
    node = run.live[1]
    lines = tampered.lines(node)
    i = next(i for i, x in enumerate(lines) if x["event"] == "requests_handled")
    reply = lines[i]["replies"][0]
    fields = lines[i]["fields"]
    reply[fields.index("reply_clock")] = reply[fields.index("request_clock")]
    tampered.write(node, lines)
    code, text = check(str(tampered.dir))
    assert code == 1
    assert "[FAIL] reply-after-request" in text
    assert f"at {tampered.where(node, i)}" in text


def test_check_fails_when_a_live_replica_misses_an_acknowledged_write(run, tampered):
    replica = next(n for n in run.live if n != "server-2")  # one lifetime: no store heads
    origin = next(n for n in run.live if n != replica)
    acks = tampered.lines(origin)
    a = next(i for i, x in enumerate(acks) if x["event"] == "writes_acknowledged")
    event_id = acks[a]["ids"][0]
    lines = tampered.lines(replica)
    i = next(
        i for i, x in enumerate(lines) if x["event"] == "events_applied" and event_id in x["ids"]
    )
    lines[i]["ids"].remove(event_id)
    tampered.write(replica, lines)
    code, text = check(str(tampered.dir))
    assert code == 1
    assert "[FAIL] writes-replicated" in text
    assert f"write {event_id} acknowledged by {origin} never reached live replica {replica}" in text
    assert f"at {tampered.where(origin, a)}" in text


def test_check_fails_when_an_event_is_applied_twice(run, tampered):
    node = run.live[0]
    lines = tampered.lines(node)
    i = next(i for i, x in enumerate(lines) if x["event"] == "events_applied")
    lines.insert(i + 1, dict(lines[i]))
    tampered.write(node, lines)
    code, text = check(str(tampered.dir))
    assert code == 1
    assert "[FAIL] applied-once" in text
    assert f"{node} applied {lines[i]['ids'][0]} 2 times" in text
    assert f"at {tampered.where(node, i)}" in text
    assert f"at {tampered.where(node, i + 1)}" in text


def test_check_fails_when_live_servers_end_with_different_coordinators(run, tampered):
    other = next(n for n in run.live if n != run.new_coordinator)
    lines = tampered.lines(run.new_coordinator)
    i = max(i for i, x in enumerate(lines) if x["event"] == "coordinator_elected")
    lines[i]["coordinator"] = other
    tampered.write(run.new_coordinator, lines)
    code, text = check(str(tampered.dir))
    assert code == 1
    assert "[FAIL] single-coordinator" in text
    assert "live servers end with different coordinators" in text
    assert f"at {tampered.where(run.new_coordinator, i)}" in text
