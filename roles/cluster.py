"""`bbs up`: the whole topology as local processes (broker, proxy, reference, servers, bots).

Ports from --base-port N: broker N (clients) and N+1 (servers), proxy N+2 (XSUB) and N+3
(XPUB), reference N+4, server i's server-to-server port N+5+i. Each process logs JSON lines
to <data-dir>/logs/<name>.jsonl (rotated: --log-max-mb), and whatever it writes to stderr
before its logging starts (a crash at start-up) to <name>.stderr.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from transport import keys


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))  # servers bind tcp://*:port
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_base_port(span: int = 8) -> int:
    """A port P such that P .. P+span-1 are free right now, chosen outside the kernel's
    ephemeral range: outgoing connections (our own processes' included) take their local
    ports from that range and could take a port between this check and the bind."""
    low, high = _ephemeral_range()
    ranges = [(r0, r1 - span) for r0, r1 in ((10_000, low), (high + 1, 65_535)) if r1 - span > r0]
    for _ in range(500):
        start, stop = random.choice(ranges)
        base = random.randrange(start, stop)
        if all(_bindable(base + i) for i in range(span)):
            return base
    raise RuntimeError(f"no run of {span} free ports outside the ephemeral range")


@dataclass
class Topology:
    base_port: int = 5555
    servers: int = 3
    bots: int = 2
    host: str = "127.0.0.1"
    data_dir: Path = Path("data")
    bot_interval: float = 1.0
    extra_env: dict[str, str] = field(default_factory=dict)
    clock_skews: tuple[float, ...] = ()
    keys: Path | None = None  # secure mode: every infrastructure role gets --keys
    web_port: int = 0  # `bbs web` on this port (0: no web gateway)

    @property
    def secure(self) -> list[str]:
        return [f"--keys={self.keys}"] if self.keys is not None else []

    def endpoint(self, offset: int) -> str:
        return f"tcp://{self.host}:{self.base_port + offset}"

    @property
    def broker(self) -> str:
        return self.endpoint(0)

    @property
    def proxy_sub(self) -> str:
        return self.endpoint(3)

    def server_name(self, i: int) -> str:
        return f"server-{i}"

    def commands(self) -> list[tuple[str, list[str]]]:
        """(process name, bbs arguments) in start order."""
        b = self.base_port
        out = [
            (
                "broker",
                [
                    "broker",
                    f"--frontend-bind=tcp://*:{b}",
                    f"--backend-bind=tcp://*:{b + 1}",
                    *self.secure,
                ],
            ),
            (
                "proxy",
                [
                    "proxy",
                    f"--xsub-bind=tcp://*:{b + 2}",
                    f"--xpub-bind=tcp://*:{b + 3}",
                    *self.secure,
                ],
            ),
            (
                "reference",
                [
                    "reference",
                    f"--reference-bind=tcp://*:{b + 4}",
                    f"--data-dir={self.data_dir}",
                    *self.secure,
                ],
            ),
        ]
        for i in range(self.servers):
            out.append((self.server_name(i), self.server_args(i)))
        for i in range(self.bots):
            out.append(
                (
                    f"bot-{i}",
                    [
                        "bot",
                        f"--broker={self.broker}",
                        f"--proxy-sub={self.proxy_sub}",
                        f"--interval={self.bot_interval}",
                    ],
                )
            )
        if self.web_port:
            out.append(
                (
                    "web",
                    [
                        "web",
                        f"--broker={self.broker}",
                        f"--proxy-sub={self.proxy_sub}",
                        f"--listen={self.host}:{self.web_port}",
                    ],
                )
            )
        return out

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}/"

    def server_args(self, i: int) -> list[str]:
        port = self.base_port + 5 + i
        return [
            "server",
            f"--broker-backend={self.endpoint(1)}",
            f"--proxy-pub={self.endpoint(2)}",
            f"--proxy-sub={self.proxy_sub}",
            f"--reference={self.endpoint(4)}",
            f"--peer-bind=tcp://*:{port}",
            f"--advertise=tcp://{self.host}:{port}",
            f"--data-dir={self.data_dir}",
            f"--clock-skew={self.clock_skews[i] if i < len(self.clock_skews) else 0.0}",
            *self.secure,
        ]


class Cluster:
    """Starts and stops the processes of a Topology; used by `bbs up` and by tests."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.procs: dict[str, subprocess.Popen] = {}
        self.log_dir = topology.data_dir / "logs"

    def start(self) -> Cluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, args in self.topology.commands():
            self.start_one(name, args)
        return self

    def start_one(self, name: str, args: list[str] | None = None) -> subprocess.Popen:
        args = args or dict(self.topology.commands())[name]
        env = {**os.environ, **self.topology.extra_env, "PYTHONUNBUFFERED": "1"}
        log = f"--log-file={self.log_dir / f'{name}.jsonl'}"  # rotated by the process itself
        crash = open(self.log_dir / f"{name}.stderr", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            [sys.executable, "-m", "roles.cli", *args, f"--name={name}", "--log-format=json", log],
            stdout=subprocess.DEVNULL,
            stderr=crash,
            env=env,
            start_new_session=True,
        )
        crash.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM everything (clients first), then SIGKILL what did not exit."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def dead(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is not None]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="bbs up", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BBS_BASE_PORT", 5555)))
    parser.add_argument("--data-dir", default=os.environ.get("BBS_DATA_DIR", "data"))
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--bots", type=int, default=2)
    parser.add_argument("--bot-interval", type=float, default=1.0)
    parser.add_argument(
        "--secure",
        action="store_true",
        help="secure mode: keys under DATA_DIR/keys (made if missing); clients stay plain",
    )
    parser.add_argument(
        "--web-port",
        type=int,
        default=int(os.environ.get("BBS_WEB_PORT", 8080)),
        help="the page for browsers (bbs web) on this port; 0: none",
    )
    ns = parser.parse_args(argv)
    topology = Topology(
        web_port=ns.web_port,
        base_port=ns.base_port,
        servers=ns.servers,
        bots=ns.bots,
        data_dir=Path(ns.data_dir),
        bot_interval=ns.bot_interval,
        keys=keys.ensure(Path(ns.data_dir) / "keys") if ns.secure else None,
    )
    cluster = Cluster(topology).start()
    print(f"BBS cluster up: {ns.servers} servers, {ns.bots} bots")
    for offset, what in (
        (0, "broker (clients)"),
        (1, "broker (servers)"),
        (2, "proxy (XSUB)"),
        (3, "proxy (XPUB)"),
        (4, "reference"),
    ):
        print(f"  {what:18} {topology.endpoint(offset)}")
    for i in range(ns.servers):
        print(f"  {topology.server_name(i):18} {topology.endpoint(5 + i)}")
    if topology.web_port:
        print(f"  web (browsers)     {topology.web_url}")
    print(f"  logs               {cluster.log_dir}/")
    if topology.keys is not None:
        print(f"  keys (secure mode) {topology.keys}/")
    print(
        f"Attach a client:  bbs client --broker={topology.broker} --proxy-sub={topology.proxy_sub}"
    )
    print("Ctrl-C stops the cluster.", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1.0):
        for name in cluster.dead():
            print(f"warning: {name} exited with {cluster.procs[name].returncode}", flush=True)
            cluster.procs.pop(name)
    print("stopping...", flush=True)
    cluster.stop()
    print("stopped.")
