"""A whole local cluster for one benchmark: free ports, a fresh data directory, readiness,
and a guaranteed stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import zmq

from bench import logs, wire
from bench.ports import free_base_port
from roles.cluster import Cluster, Topology
from transport.keys import ClusterKeys

USER = "bench"


class ClusterRun:
    """`with ClusterRun(3, dir) as run:` starts broker, proxy, reference and the servers as
    processes on free loopback ports and returns once every server serves clients."""

    def __init__(
        self,
        servers: int,
        data_dir: Path,
        prepare: Callable[[Path], None] | None = None,
        ready_timeout: float = 90.0,
        keys: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.prepare = prepare
        self.ready_timeout = ready_timeout
        self.topology = Topology(
            base_port=free_base_port(), data_dir=data_dir, servers=servers, bots=0, keys=keys
        )
        # the status probes speak to the servers' peer ports: in secure mode, as a server
        self.peer_curve = ClusterKeys(keys).as_server("server") if keys is not None else None
        self.cluster = Cluster(self.topology)
        self.ctx = zmq.Context()
        self.caller: wire.Caller | None = None

    # ---- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> ClusterRun:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.prepare is not None:
            self.prepare(self.data_dir)
        try:
            self.cluster.start()
            self.wait_ready()
            self.caller = wire.Caller(self.ctx, self.broker, timeout=5.0)
            self.caller.call("login", user=USER)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.caller is not None:
            self.caller.close()
        self.cluster.stop()
        self.ctx.term()

    # ---- addresses and processes ------------------------------------------------------

    @property
    def broker(self) -> str:
        return self.topology.broker

    @property
    def proxy_sub(self) -> str:
        return self.topology.proxy_sub

    @property
    def servers(self) -> list[str]:
        return [self.topology.server_name(i) for i in range(self.topology.servers)]

    def peer_endpoint(self, name: str) -> str:
        return self.topology.endpoint(5 + self.servers.index(name))

    def log(self, name: str) -> Path:
        return self.cluster.log_dir / f"{name}.jsonl"

    def pid(self, name: str) -> int:
        return self.cluster.procs[name].pid

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by each process of the cluster."""
        out = {}
        for name, proc in self.cluster.procs.items():
            try:
                t = psutil.Process(proc.pid).cpu_times()
                out[name] = t.user + t.system
            except psutil.Error:
                continue
        return out

    # ---- readiness --------------------------------------------------------------------

    def status(self, name: str, timeout: float = 2.0) -> dict[str, Any]:
        caller = wire.Caller(self.ctx, self.peer_endpoint(name), timeout, self.peer_curve)
        try:
            return caller.call("status", retries=0)
        finally:
            caller.close()

    def wait_serving(self, name: str, offset: int = 0, timeout: float | None = None) -> float:
        """Wall-clock time at which `name` logged server_serving (after byte `offset`)."""
        return logs.wait_for(
            self.log(name), "server_serving", offset, timeout or self.ready_timeout
        )["t"]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        peers = self.topology.servers - 1
        for name in self.servers:
            self.wait_serving(name, timeout=max(1.0, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            dead = self.cluster.dead()
            if dead:
                raise RuntimeError(f"cluster processes exited: {', '.join(dead)}")
            try:
                if all(len(self.status(n).get("peers", [])) >= peers for n in self.servers):
                    return
            except TimeoutError:
                pass
            time.sleep(0.2)
        raise TimeoutError("cluster not ready")

    def call(self, service: str, **data: Any) -> dict[str, Any]:
        assert self.caller is not None
        return self.caller.call(service, **data)

    def channel(self, name: str) -> None:
        """Create a channel (fine if it exists) and wait until every server knows it."""
        deadline = time.monotonic() + self.ready_timeout
        while True:  # a busy server (just started, catching up) says so: ask again
            reply = self.call("channel", channel=name, user=USER)
            if wire.ok(reply) or "exists" in str(reply.get("description")):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"channel {name}: {reply}")
        for _ in range(3 * len(self.servers)):  # round-robin reaches every server
            reply = self.call("history", channel=name, limit=1)
            if not wire.ok(reply):
                raise RuntimeError(f"channel {name}: {reply}")
