"""Driving the podman-compose deployment from the host: the scripts, podman, the servers'
status port, a load generator that records exactly which publishes were acknowledged, a
subscriber on the proxy, network cuts with nft, and the results table.

Everything talks to the containers' addresses on the compose bridge network (reachable from
the host), looked up again after every fault because a restarted container changes address.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import zmq

from ops.table import table
from tests.support import free_base_port, wait_for
from transport import sockets
from transport.keys import ClusterKeys, KeyPair

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "compose"
SERVERS = 3
STATUS_PORT = 5560
BROKER_PORT = 5555
PROXY_PUB_PORT = 5557
PROXY_SUB_PORT = 5558
CUT_TABLE = "bbs_compose_test_cut"
CUT_RULES = f"""
table inet {CUT_TABLE} {{
    chain input {{ type filter hook input priority -400; policy drop; iifname "lo" accept; }}
    chain output {{ type filter hook output priority -400; policy drop; oifname "lo" accept; }}
}}
"""


def run(
    args: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
    stdin: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output (the tail of it) in the message."""
    done = subprocess.run(
        args, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{tail}")
    return done


class Requester:
    """One REQ socket to an endpoint that may move: on a timeout the socket is dropped (Lazy
    Pirate) and the next request asks `endpoint()` again. Never resends a request."""

    def __init__(
        self,
        endpoint: Callable[[], str],
        timeout: float = 3.0,
        curve: tuple[KeyPair, bytes] | None = None,
    ) -> None:
        """`curve`: (own pair, the server's public key) for a secure-mode internal port."""
        self.endpoint = endpoint
        self.timeout_ms = int(timeout * 1000)
        self.curve = curve
        self.clock = 0
        self.sock: zmq.Socket | None = None

    def request(self, service: str, **data: Any) -> dict[str, Any]:
        """The reply's data; raises TimeoutError when no reply came in time."""
        if self.sock is None:
            self.sock = zmq.Context.instance().socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            if self.curve is not None:
                sockets.curve_client(self.sock, *self.curve)
            self.sock.connect(self.endpoint())
        self.clock += 1
        body = {
            "service": service,
            "data": {**data, "timestamp": time.time(), "clock": self.clock},
            "clock": self.clock,
        }
        self.sock.send(msgpack.packb(body))
        if not self.sock.poll(self.timeout_ms):
            self.close()
            raise TimeoutError(f"{service}: no reply in {self.timeout_ms} ms")
        reply = msgpack.unpackb(self.sock.recv())
        self.clock = max(self.clock, int(reply.get("clock") or 0))
        return reply["data"]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None


@dataclass
class Container:
    name: str
    running: bool
    ip: str | None
    pid: int


class ComposeCluster:
    """The compose project under test: names, addresses, status, faults."""

    def __init__(self, project: str, env: dict[str, str], keys: Path | None = None) -> None:
        """`keys`: the keys directory of a secure-mode deployment (its status ports then
        answer the server key only)."""
        self.project = project
        self.env = env
        self.peer_curve = ClusterKeys(keys).as_server("server") if keys is not None else None
        self.servers = [self.container("server", i) for i in range(1, SERVERS + 1)]
        self.broker = self.container("broker")
        self.proxy = self.container("proxy")
        self.reference = self.container("reference")
        self.cut: set[str] = set()

    def container(self, service: str, index: int = 1) -> str:
        return f"{self.project}_{service}_{index}"

    # -- the scripts ------------------------------------------------------------------------
    def script(self, name: str, *args: str, timeout: float = 900.0) -> str:
        return run([str(SCRIPTS / name), *args], env=self.env, timeout=timeout).stdout

    def down(self) -> None:
        for name in list(self.cut):
            with contextlib.suppress(Exception):
                self.heal(name)
        print(self.script("down.sh", timeout=300).strip())

    # -- podman ------------------------------------------------------------------------------
    def podman(self, *args: str, timeout: float = 120.0) -> str:
        return run(["podman", *args], timeout=timeout).stdout

    def inspect(self, *names: str) -> dict[str, Container]:
        fmt = (
            "{{.Name}} {{.State.Running}} {{.State.Pid}} "
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        )
        out: dict[str, Container] = {}
        for line in self.podman("inspect", "--format", fmt, *names).splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            ip = parts[3] if len(parts) > 3 else None
            out[parts[0]] = Container(parts[0], parts[1] == "true", ip or None, int(parts[2]))
        return out

    def ip(self, name: str) -> str:
        found = self.inspect(name)[name]
        if not found.running or not found.ip:
            raise RuntimeError(f"{name} is not running on the network")
        return found.ip

    def broker_endpoint(self) -> str:
        return f"tcp://{self.ip(self.broker)}:{BROKER_PORT}"

    def proxy_endpoint(self) -> str:
        return f"tcp://{self.ip(self.proxy)}:{PROXY_SUB_PORT}"

    def kill(self, name: str) -> None:
        self.podman("kill", "--signal", "KILL", name)

    def start(self, name: str) -> None:
        self.podman("start", name)

    def logs(self, name: str, tail: int = 40) -> str:
        """The last `tail` lines of a container's log, without the tests' own status polls."""
        done = run(["podman", "logs", "--tail", str(tail * 20), name], check=False)
        lines = [
            line
            for line in (done.stdout + done.stderr).splitlines()
            if '"service": "status"' not in line
        ]
        return "\n".join(lines[-tail:])

    # -- network cut inside a container's network namespace ---------------------------------
    def _nft(self, name: str, *args: str, stdin: str | None = None, check: bool = True) -> None:
        pid = self.inspect(name)[name].pid
        run(["nsenter", "-t", str(pid), "-n", "nft", *args], stdin=stdin, check=check)

    def cut_off(self, name: str) -> None:
        """Drop every packet in and out of `name` except on loopback."""
        self._nft(name, "-f", "-", stdin=CUT_RULES)
        self.cut.add(name)

    def heal(self, name: str) -> None:
        self._nft(name, "delete", "table", "inet", CUT_TABLE, check=False)
        self.cut.discard(name)

    # -- the servers' status port -----------------------------------------------------------
    def status(self, name: str, timeout: float = 1.0) -> dict[str, Any] | None:
        """Server container `name`'s status reply, or None if it does not answer."""
        try:
            ip = self.ip(name)
        except (RuntimeError, KeyError):
            return None
        peer = Requester(lambda: f"tcp://{ip}:{STATUS_PORT}", timeout, self.peer_curve)
        try:
            return peer.request("status")
        except TimeoutError:
            return None
        finally:
            peer.close()

    def statuses(self, names: list[str] | None = None) -> dict[str, dict[str, Any] | None]:
        """Every server's status, asked in parallel so that the heads are one snapshot."""
        names = names or self.servers
        with ThreadPoolExecutor(len(names)) as pool:
            return dict(zip(names, pool.map(self.status, names), strict=True))

    def server_named(self, server_name: str) -> str:
        """The container whose server claimed the slot `server_name` (server-N)."""
        for container, status in self.statuses().items():
            if status and status["name"] == server_name:
                return container
        raise AssertionError(f"no container answers as {server_name}")

    def converged(self, names: list[str] | None = None) -> dict[str, dict[str, Any]] | None:
        """Statuses if the given servers (default all) all answer, know each other, name one
        coordinator, reach the reference and hold the same heads; else None."""
        names = names or self.servers
        statuses = self.statuses(names)
        if any(s is None for s in statuses.values()):
            return None
        live = [s for s in statuses.values() if s is not None]
        me = {s["name"] for s in live}
        ok = (
            all(set(s["peers"]) >= me - {s["name"]} for s in live)
            and len({s["coordinator"] for s in live}) == 1
            and live[0]["coordinator"] in me
            and all(s["reference_up"] for s in live)
            and all(s["heads"] == live[0]["heads"] for s in live)
        )
        return {k: v for k, v in statuses.items() if v is not None} if ok else None

    def wait_converged(
        self, timeout: float, names: list[str] | None = None, what: str = "converged cluster"
    ) -> dict[str, dict[str, Any]]:
        return wait_for(lambda: self.converged(names), timeout=timeout, interval=0.1, what=what)

    def coordinator(self) -> tuple[str, str]:
        """(server name, container) of the coordinator all servers agree on."""
        statuses = self.wait_converged(30, what="an agreed coordinator")
        name = next(iter(statuses.values()))["coordinator"]
        return name, self.server_named(name)

    def restore(self) -> None:
        """Undo what a failed test may have left: heal cuts, start stopped containers."""
        for name in list(self.cut):
            self.heal(name)
        names = [*self.servers, self.broker, self.proxy, self.reference]
        for container in self.inspect(*names).values():
            if not container.running:
                self.start(container.name)


def heads_total(status: dict[str, Any]) -> int:
    return sum(status["heads"].values())


class LoadGenerator:
    """A client thread publishing unique messages (`<tag>-<n>`, never resent) to one channel
    and recording the outcome of each: acknowledged ("OK"), refused ("erro") or no reply."""

    def __init__(self, cluster: ComposeCluster, tag: str, rate: float = 10.0) -> None:
        self.cluster, self.tag = cluster, tag
        self.channel = f"load-{tag}"
        self.user = f"load-{tag}"
        self.interval = 1.0 / rate
        self.outcomes: dict[str, str] = {}
        self.acked_at: list[float] = []  # monotonic times of acknowledgements
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"load-{tag}", daemon=True)
        self.client = Requester(cluster.broker_endpoint, timeout=3.0)
        self.error: BaseException | None = None

    def __enter__(self) -> LoadGenerator:
        created = wait_for(
            lambda: self.client.request("channel", channel=self.channel, user=self.user),
            timeout=30,
            what=f"channel {self.channel} created",
        )
        assert created["status"] == "sucesso", created
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(10)
        self.client.close()

    def _run(self) -> None:
        n = 0
        try:
            while not self.stop_event.is_set():
                n += 1
                text = f"{self.tag}-{n}"
                try:
                    reply = self.client.request(
                        "publish", user=self.user, channel=self.channel, message=text
                    )
                    outcome = "OK" if reply.get("status") == "OK" else "erro"
                except (TimeoutError, RuntimeError, zmq.ZMQError):
                    outcome = "no reply"
                with self.lock:
                    self.outcomes[text] = outcome
                    if outcome == "OK":
                        self.acked_at.append(time.monotonic())
                self.stop_event.wait(self.interval)  # the load's pace, not a wait for a state
        except BaseException as exc:  # reported by the test, never swallowed
            self.error = exc

    def acked(self) -> set[str]:
        with self.lock:
            return {t for t, o in self.outcomes.items() if o == "OK"}

    def acks_after(self, moment: float) -> int:
        with self.lock:
            return sum(t > moment for t in self.acked_at)

    def first_ack_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first acknowledgement after it, if any yet."""
        with self.lock:
            later = [t for t in self.acked_at if t > moment]
        return later[0] - moment if later else None

    def attempts(self) -> list[str]:
        """The outcome of every publish so far, in order."""
        with self.lock:
            return list(self.outcomes.values())

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.outcomes.values())

    def wait_acks_after(self, moment: float, count: int, timeout: float) -> None:
        wait_for(
            lambda: self.acks_after(moment) >= count,
            timeout=timeout,
            interval=0.05,
            what=f"{count} acknowledged publishes ({self.tag})",
        )

    def longest_gap(self, since: float) -> float:
        """Longest time without an acknowledgement since `since` (the outage a client saw)."""
        with self.lock:
            times = [since, *(t for t in self.acked_at if t > since)]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def history(client: Requester, channel: str) -> list[dict[str, Any]]:
    data = client.request("history", channel=channel, limit=1000)
    assert data["status"] == "OK", data
    messages = data["messages"]
    assert len(messages) < 1000, f"{channel} outgrew one history page; lower the load"
    return messages


@dataclass
class Presence:
    """What `reads` history replies (through the broker's round robin) said about the load."""

    acked: int
    reads: int
    missing: set[str] = field(default_factory=set)
    duplicated: set[str] = field(default_factory=set)
    unacked_present: int = 0
    differing_replies: int = 0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated and not self.differing_replies

    def figure(self) -> str:
        text = f"{self.acked - len(self.missing)}/{self.acked} acked present x{self.reads} reads"
        if self.unacked_present:
            text += f" (+{self.unacked_present} unacked also stored)"
        if self.duplicated:
            text += f", {len(self.duplicated)} duplicated"
        return text


def check_presence(cluster: ComposeCluster, load: LoadGenerator, reads: int = 6) -> Presence:
    """Ask history `reads` times through the broker (round robin over the replicas, so every
    replica answers some of them): every acknowledged publish must be there exactly once, no
    publish of ours twice, and every reply must list our messages in the same order. (Bots
    may post to the load's channel too, so only the load's own messages are compared.)"""
    acked = load.acked()
    outcome = Presence(acked=len(acked), reads=reads)
    client = Requester(cluster.broker_endpoint, timeout=5.0)
    ours: list[list[str]] = []
    try:
        for _ in range(reads):
            messages = wait_for(
                lambda: history(client, load.channel), timeout=20, what=f"history of {load.channel}"
            )
            texts = [m["message"] for m in messages if m.get("user") == load.user]
            counts = Counter(texts)
            outcome.missing |= acked - set(counts)
            outcome.duplicated |= {t for t, c in counts.items() if c > 1}
            outcome.unacked_present = max(outcome.unacked_present, len(set(counts) - acked))
            ours.append(texts)
    finally:
        client.close()
    outcome.differing_replies = sum(texts != ours[0] for texts in ours)
    return outcome


class Subscriber:
    """Records every publication on the proxy with its arrival time (a background thread)."""

    def __init__(self, cluster: ComposeCluster, topics: tuple[str, ...] = ("",)) -> None:
        self.endpoint = cluster.proxy_endpoint()
        self.topics = topics
        self.seen: list[tuple[float, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="subscriber", daemon=True)

    def __enter__(self) -> Subscriber:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(5)

    def _run(self) -> None:
        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        for topic in self.topics:
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        sock.connect(self.endpoint)
        try:
            while not self.stop_event.is_set():
                if not sock.poll(100):
                    continue
                frames = sock.recv_multipart()
                try:
                    body = msgpack.unpackb(frames[-1])
                except Exception:
                    continue
                if isinstance(body, dict):
                    with self.lock:
                        self.seen.append(
                            (time.monotonic(), frames[0].decode(errors="replace"), body)
                        )
        finally:
            sock.close(0)

    def since(self, moment: float, topic: str) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            return [(t, body) for t, top, body in self.seen if t > moment and top == topic]

    def coordinators_since(self, moment: float) -> list[tuple[float, str]]:
        out = []
        for t, body in self.since(moment, "servers"):
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            name = data.get("coordinator", body.get("coordinator"))
            if isinstance(name, str):
                out.append((t, name))
        return out

    def bot_posts_since(self, moment: float) -> list[float]:
        with self.lock:
            return [
                t
                for t, top, body in self.seen
                if t > moment
                and body.get("service") == "publish"
                and str(body.get("user", "")).startswith("bot-")
            ]


# -- the results table ----------------------------------------------------------------------
@dataclass
class Row:
    fault: str
    check: str
    figure: str = "-"
    ok: bool = False


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    setup_seconds: float | None = None

    @contextlib.contextmanager
    def row(self, fault: str, check: str) -> Iterator[Row]:
        """A row that is PASS only if its block completes; the figure measured so far stays."""
        row = Row(fault, check)
        self.rows.append(row)
        yield row
        row.ok = True

    def render(self) -> str:
        rows = [[r.fault, r.check, r.figure, "PASS" if r.ok else "FAIL"] for r in self.rows]
        return table(["fault injected", "checked", "measured", "result"], rows, indent="")


def elapsed(since: float) -> float:
    return time.monotonic() - since


def default_env(project: str) -> dict[str, str]:
    env = dict(os.environ)
    env["COMPOSE_PROJECT_NAME"] = project
    env.setdefault("BBS_SUBNET", "10.149.0.0/24")
    env.setdefault("BBS_BOT_INTERVAL", "0.5")
    env["BBS_WEB_PORT"] = str(free_base_port(1))  # two deployments may be up at once
    return env
