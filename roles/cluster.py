"""`bbs up`: the whole topology as local processes (broker, proxy, reference, servers, bots).

Ports from --base-port N: broker N (clients) and N+1 (servers), proxy N+2 (XSUB) and N+3
(XPUB), reference N+4, server i's server-to-server port N+5+i; the page for browsers (bbs web)
on --web-port. Every port is checked before anything starts; the broker, proxy and reference
must be up before a server or bot starts, so a cluster that cannot start whole never joins
another one on this machine. Each process logs JSON lines to <data-dir>/logs/<name>.jsonl,
and whatever it writes to stderr before its logging starts (a crash at start-up) to
<name>.stderr. Bot i logs in as bot-i and posts only in its own channel bots-i.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import BOT_INTERVAL, DATA_DIR, Option, add_option
from transport import keys

AUTO = "auto"
BASE_PORT = Option(
    "--base-port",
    "BBS_BASE_PORT",
    "5555",
    f"first port of the cluster (the protocol's 5555), or {AUTO}: a free block, printed",
)
SERVERS = Option("--servers", "BBS_SERVERS", 3, "how many server replicas", int)
BOTS = Option("--bots", "BBS_BOTS", 2, "how many bots (bot-0, bot-1, ...)", int)
SECURE = Option(
    "--secure",
    "BBS_SECURE",
    False,
    "secure mode: keys under DATA_DIR/keys (made if missing); clients stay plain",
    bool,
)
WEB_PORT = Option(
    "--web-port", "BBS_WEB_PORT", 8080, "the page for browsers (bbs web); 0: none", int
)
UP_OPTIONS = (BASE_PORT, DATA_DIR, SERVERS, BOTS, BOT_INTERVAL, SECURE, WEB_PORT)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        # as ZeroMQ binds: a port held only by closing connections (TIME_WAIT) is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


class PortsBusy(RuntimeError):
    """Ports of the topology that something else holds; nothing was started."""

    def __init__(self, busy: list[tuple[int, str]]) -> None:
        self.busy = busy
        held = ", ".join(f"{port} ({what})" for port, what in busy)
        super().__init__(f"port(s) already in use: {held}")


class StartFailed(RuntimeError):
    """A process of the topology exited before it was up; everything started was stopped."""


# The line each infrastructure process logs once its sockets are bound.
READY_EVENTS = {
    "broker": "device_started",
    "proxy": "device_started",
    "reference": "reference_serving",
}
INFRASTRUCTURE = tuple(READY_EVENTS)


@dataclass
class Topology:
    base_port: int = 5555
    servers: int = 3
    bots: int = 2
    host: str = "127.0.0.1"
    data_dir: Path = Path("data")
    bot_interval: float = 5.0
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

    def ports(self) -> list[tuple[int, str]]:
        """(port, what binds it) for every port the topology binds."""
        named = ["broker (clients)", "broker (servers)", "proxy (XSUB)", "proxy (XPUB)"]
        named += ["reference", *(f"{self.server_name(i)} (peers)" for i in range(self.servers))]
        return [(self.base_port + offset, what) for offset, what in enumerate(named)]

    def busy_ports(self) -> list[tuple[int, str]]:
        web = [(self.web_port, "web (browsers)")] if self.web_port else []
        return [(port, what) for port, what in [*self.ports(), *web] if not _bindable(port)]

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}/"

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
                        f"--bot-interval={self.bot_interval}",
                        f"--user=bot-{i}",  # the same names after a restart
                        f"--channel=bots-{i}",  # never drowns a person's channel
                    ],
                )
            )
        if self.web_port:
            web = ["web", f"--broker={self.broker}", f"--proxy-sub={self.proxy_sub}"]
            out.append(("web", [*web, f"--listen={self.host}:{self.web_port}"]))
        return out

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

    def start(self, ready_timeout: float | None = None) -> Cluster:
        """Start every process; raises PortsBusy, before starting any, when a port is taken.
        With `ready_timeout`, the broker, proxy and reference must be up (their sockets
        bound) within it before anything else starts, else everything is stopped and
        StartFailed raised: servers and bots never reach another cluster's broker."""
        busy = self.topology.busy_ports()
        if busy:
            raise PortsBusy(busy)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        commands = self.topology.commands()
        if ready_timeout is not None:
            marks = {name: self._log_size(name) for name in INFRASTRUCTURE}
            for name, args in commands[: len(INFRASTRUCTURE)]:
                self.start_one(name, args)
            try:
                self._await_infrastructure(marks, ready_timeout)
            except BaseException:  # StartFailed, or Ctrl-C meanwhile: leave no orphan
                self.stop()
                raise
            commands = commands[len(INFRASTRUCTURE) :]
        for name, args in commands:
            self.start_one(name, args)
        return self

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.jsonl"

    def _log_size(self, name: str) -> int:
        try:
            return self._log(name).stat().st_size
        except FileNotFoundError:
            return 0

    def _logged_since(self, name: str, offset: int) -> list[dict]:
        """The JSON lines `name` appended to its log after `offset` bytes."""
        try:
            with self._log(name).open("rb") as stream:
                stream.seek(offset)
                text = stream.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        out = []
        for raw in text.splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if isinstance(line, dict):
                    out.append(line)
        return out

    def _why(self, name: str, lines: list[dict]) -> str:
        """The error a process that exited at start-up left: in its log, else the last line
        of its stderr (a settings error comes before logging starts)."""
        errors = [str(line["error"]) for line in lines if line.get("error")]
        if errors:
            return f"{errors[-1]} (see {self._log(name)})"
        stderr = self.log_dir / f"{name}.stderr"
        with contextlib.suppress(OSError):
            last = stderr.read_text(errors="replace").strip().splitlines()[-1:]
            if last:
                return f"{last[0]} (see {stderr})"
        return f"exit status {self.procs[name].returncode}"

    def _await_infrastructure(self, marks: dict[str, int], timeout: float) -> None:
        waiting = set(marks)
        deadline = time.monotonic() + timeout
        while waiting:
            for name in sorted(waiting):
                lines = self._logged_since(name, marks[name])
                if any(line.get("event") == READY_EVENTS[name] for line in lines):
                    waiting.discard(name)
                elif self.procs[name].poll() is not None:
                    raise StartFailed(f"{name} did not start: {self._why(name, lines)}")
            if waiting and time.monotonic() > deadline:
                raise StartFailed(f"not up within {timeout:.0f} s: {', '.join(sorted(waiting))}")
            time.sleep(0.1)  # polling a file another process writes

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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bbs up", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for opt in UP_OPTIONS:
        add_option(p, opt)
    return p


def _base_port(p: argparse.ArgumentParser, value: str, servers: int) -> int:
    if value == AUTO:
        return free_base_port(5 + servers)
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535 - 4 - servers:  # the last server's port is base + 4 + servers
        p.error(f"--base-port {value!r} is neither a port for the whole block nor {AUTO}")
    return port


def _banner(cluster: Cluster) -> None:
    topology = cluster.topology
    print(f"BBS cluster up: {topology.servers} servers, {topology.bots} bots")
    for port, what in topology.ports():
        print(f"  {what:18} tcp://{topology.host}:{port}")
    if topology.web_port:
        print(f"  web (browsers)     {topology.web_url}")
    print(f"  logs               {cluster.log_dir}/")
    if topology.keys is not None:
        print(f"  keys (secure mode) {topology.keys}/")
    if topology.bots:
        print(
            f"  bots               bot-0.. post every {topology.bot_interval:g} s "
            f"in their own channels bots-0.."
        )
    print(
        f"Attach a client:  bbs client --broker={topology.broker} --proxy-sub={topology.proxy_sub}"
    )
    print("Ctrl-C stops the cluster.", flush=True)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> None:
    p = parser()
    ns = p.parse_args(argv)
    base_port = _base_port(p, ns.base_port, ns.servers)
    if ns.base_port == AUTO:
        print(f"--base-port auto: {base_port}")
    if not 0 <= ns.web_port <= 65535:
        p.error(f"--web-port {ns.web_port} is not a port (0: no web gateway)")
    topology = Topology(
        web_port=ns.web_port,
        base_port=base_port,
        servers=ns.servers,
        bots=ns.bots,
        data_dir=Path(ns.data_dir),
        bot_interval=ns.bot_interval,
        keys=keys.ensure(Path(ns.data_dir) / "keys") if ns.secure else None,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # while starting: unwind, leave no orphan
    try:
        cluster = Cluster(topology).start(ready_timeout=30.0)
    except KeyboardInterrupt:
        sys.exit("bbs up: interrupted while starting; every process it had started was stopped")
    except PortsBusy as exc:
        sys.exit(
            f"bbs up: {exc}; nothing was started. Stop what holds it, or choose other "
            f"ports: --base-port N or --base-port {AUTO} (the page: --web-port N, or 0)"
        )
    except StartFailed as exc:
        sys.exit(f"bbs up: {exc}; every process it had started was stopped")
    _banner(cluster)
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
