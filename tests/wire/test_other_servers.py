"""The terminal client against another team's server, played here by real ZeroMQ sockets (a
ROUTER where the broker would be, a PUB where the proxy would be) that answer in the shapes
other teams use: no `status`, an `error` service, replies without the `data` wrapper, private
messages on `user:NAME`. Plus how `bbs client` starts when the compose names do not resolve
and how it ends when the cluster never answers."""

from __future__ import annotations

import argparse
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
import zmq

from actors.base import Node
from config.timing import Timing
from roles import client
from roles.chat_client import ChatClient, Delivery
from roles.client import run
from tests.support import free_base_port, wait_for

QUICK = Timing(request_timeout=0.5, request_retries=1)
Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


class OtherTeam:
    """A server of another team: `answer(service, data)` gives the whole reply map."""

    def __init__(self, answer: Answer) -> None:
        base = free_base_port(2)
        self.broker, self.proxy = f"tcp://127.0.0.1:{base}", f"tcp://127.0.0.1:{base + 1}"
        self.answer = answer
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self.outbox: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self.running = True
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(5)

    def _serve(self, ready: threading.Event) -> None:
        ctx = zmq.Context.instance()
        router, pub = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB)
        for sock, endpoint in ((router, self.broker), (pub, self.proxy)):
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(endpoint)
        ready.set()
        try:
            while self.running:
                if router.poll(20):
                    *envelope, payload = router.recv_multipart()
                    request = msgpack.unpackb(payload)
                    service, data = request["service"], request.get("data", {})
                    self.asked.append((service, data))
                    reply = msgpack.packb(self.answer(service, data))
                    router.send_multipart([*envelope, reply])
                while not self.outbox.empty():
                    topic, message = self.outbox.get()
                    pub.send_multipart([topic.encode(), msgpack.packb(message)])
        finally:
            router.close(0)
            pub.close(0)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.outbox.put((topic, message))

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)

    def connect(self, on_delivery: Callable[[Delivery], None]) -> ChatClient:
        node = Node("client", "tester", timing=QUICK)
        return ChatClient(self.broker, self.proxy, on_delivery, node=node)


def their_answer(service: str, data: dict[str, Any]) -> dict[str, Any]:
    """Shapes seen in other teams' servers."""
    now = time.time()
    if service == "login":
        ok = data.get("user") != "ghost"
        return {"service": "login", "data": {"status": "sucesso" if ok else "erro"}}
    if service == "users":  # flat: no data wrapper
        return {"service": "users", "users": ["ana", "bob"], "timestamp": now}
    if service == "channels":
        return {"service": "channels", "data": {"channels": ["geral"], "timestamp": now}}
    if service == "channel":
        return {"service": "channel", "data": {"status": "sucesso"}}
    if service == "history" and data.get("channel") == "geral":  # no status, no messages
        return {"service": "history", "data": {"timestamp": now, "clock": 3}}
    return {"service": "error", "data": {"message": f"unknown service {service}"}}


@pytest.fixture
def other_team() -> Iterator[OtherTeam]:
    server = OtherTeam(their_answer)
    yield server
    server.stop()


def session(server: OtherTeam, *lines: str, user: str = "ana") -> tuple[bool, list[str]]:
    """`bbs client` with piped input against `server`: whether it logged in, what it said."""
    said: list[str] = []
    script = list(lines)

    def read(prompt: str) -> str:
        if not script:
            raise EOFError
        return script.pop(0)

    logged_in = run(
        server.connect,
        server.broker,
        user,
        read,
        said.append,
        QUICK,
        interactive=False,
        keepalive=0,
    )
    return logged_in, said


def test_replies_without_status_or_with_an_error_service_are_failures(
    other_team: OtherTeam,
) -> None:
    ok, said = session(other_team, "/users", "/history #geral", "/history #zz", "/who")
    assert ok
    assert "users (2): ana, bob" in said  # read although the reply was flat
    assert "no history: the server's reply has no messages list" in said
    assert "no messages yet" not in "\n".join(said)
    assert "no history: unknown service history" in said  # the `error` service
    assert any(line.startswith("/who failed: unknown service who") for line in said)


def test_a_refused_piped_login_reads_no_name_from_the_next_line(other_team: OtherTeam) -> None:
    ok, said = session(other_team, "/quit", "/join geral", user="ghost")
    assert not ok
    assert [s for s, _ in other_team.asked] == ["login"]
    assert any(line.startswith("login as ghost refused") for line in said)


def test_private_messages_on_user_topics_are_shown(other_team: OtherTeam) -> None:
    said: list[str] = []
    arrived = threading.Event()

    def out(line: str) -> None:
        said.append(line)
        if "psst from another team" in line:
            arrived.set()

    def read(prompt: str) -> str:
        message = {"type": "private", "from": "bob", "message": "psst from another team"}
        wait_for(
            lambda: other_team.publish("user:ana", message) or arrived.wait(0.1),
            what="a private message on user:ana",
        )
        raise EOFError

    assert run(
        other_team.connect,
        other_team.broker,
        "ana",
        read,
        out,
        QUICK,
        interactive=False,
        keepalive=0,
    )
    window = next(line for line in said if "psst from another team" in line)
    assert "<bob>" in window


def test_an_unresolvable_broker_is_said_at_once_with_the_local_command() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "roles.cli",
            "client",
            "--broker",
            "tcp://no-such-host.invalid:5555",
            "--proxy-sub",
            "tcp://no-such-host.invalid:5558",
            "--user",
            "ana",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert time.monotonic() - started < 15
    assert "cannot resolve the host of --broker tcp://no-such-host.invalid:5555" in done.stderr
    assert (
        "bbs client --broker tcp://127.0.0.1:5555 --proxy-sub tcp://127.0.0.1:5558" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_giving_up_exits_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    broker = f"tcp://127.0.0.1:{free_base_port(1)}"  # nothing listens
    ns = argparse.Namespace(
        broker=broker,
        proxy_sub="tcp://127.0.0.1:1",
        user="ana",
        password_file="",
        keys_home="",
        server_key="",
        keys="",
    )
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # noqa: SIM115 (pytest closes it)
    with pytest.raises(SystemExit) as exited:
        client.main(ns, Node("client", "lonely", timing=QUICK))
    assert exited.value.code == 1
