"""The client path through real sockets: a local cluster (broker, proxy, reference, 3 servers)
as processes, ChatClients, and `bbs client` itself under a pseudo-terminal."""

from __future__ import annotations

import fcntl
import itertools
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyte
import pytest

from actors.base import Node
from config.timing import Timing
from roles.chat_client import ChatClient, Delivery, Unreachable
from roles.client import LOGIN_ATTEMPTS, run
from roles.cluster import Topology
from tests.support import free_base_port, start_cluster, wait_for

pytestmark = pytest.mark.cluster

DEADLINE = 15.0
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_names)}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """Broker, proxy, reference and 3 servers, serving and settled (every server knows its
    peers, one coordinator), so every write is acknowledged by all replicas."""
    running = start_cluster(tmp_path_factory.mktemp("client"), servers=3, bots=0)
    try:
        yield running.topology
    finally:
        running.stop()


class Peer:
    """A ChatClient plus what it received."""

    def __init__(self, topology: Topology, user: str) -> None:
        self.user = user
        self.got: list[Delivery] = []
        self.client = ChatClient(
            topology.broker,
            topology.proxy_sub,
            self.got.append,
            node=Node("client", f"test-{user}"),
        )
        assert self.client.login(user)["status"] == "sucesso"

    def messages(self) -> list[str]:
        return [d.message for d in list(self.got)]

    def received(self, text: str) -> Delivery | None:
        return next((d for d in list(self.got) if d.message == text), None)

    @property
    def dropped(self) -> int:
        return self.client.session.proxy().dropped.get(timeout=5)

    def ok(self, service: str, **data: Any) -> dict[str, Any]:
        reply = self.client.call(service, **data)
        assert reply.get("status") in ("OK", "sucesso"), reply
        return reply

    def until_received(self, send: Callable[[str], None], what: str) -> int:
        """Send probes until one arrives: a subscription only works once it has reached the
        publishers through the proxy. Returns how many probes were sent."""
        end = time.monotonic() + DEADLINE
        for sent in itertools.count(1):
            probe = unique(f"probe-{what}-")
            send(probe)
            try:
                wait_for(lambda p=probe: self.received(p), timeout=0.5, interval=0.02, what=what)
                return sent
            except AssertionError:
                if time.monotonic() > end:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture
def peers(cluster: Topology) -> Iterator[Callable[[str], Peer]]:
    made: list[Peer] = []

    def make(user: str) -> Peer:
        made.append(Peer(cluster, user))
        return made[-1]

    yield make
    for peer in made:
        peer.client.close()


def test_a_private_message_reaches_only_its_exact_user(peers: Callable[[str], Peer]) -> None:
    stem = unique("ana")
    ana, anabel = peers(stem), peers(stem + "bel")
    ana.until_received(lambda m: ana.ok("message", src=ana.user, dst=ana.user, message=m), "ana")
    # ana's subscription ("ana…") is live, so from here every message to anabel also reaches
    # ana's socket by prefix match, and must be dropped there.
    sent = anabel.until_received(
        lambda m: anabel.ok("message", src=anabel.user, dst=anabel.user, message=m), "anabel"
    )
    ana.ok("message", src=ana.user, dst=anabel.user, message="only for anabel")
    got = wait_for(lambda: anabel.received("only for anabel"), what="anabel's message")
    assert (got.kind, got.user, got.dst, got.topic) == (
        "private",
        ana.user,
        anabel.user,
        anabel.user,
    )
    wait_for(lambda: ana.dropped >= sent + 1, what="ana dropping anabel's topic")
    assert "only for anabel" not in ana.messages()
    assert all(d.topic == ana.user for d in ana.got)


def test_a_channel_post_is_delivered_live(peers: Callable[[str], Peer]) -> None:
    channel = unique("live")
    poster, reader = peers(unique("poster")), peers(unique("reader"))
    poster.ok("channel", channel=channel, user=poster.user)
    reader.client.subscribe(channel)
    reader.until_received(
        lambda m: poster.ok("publish", user=poster.user, channel=channel, message=m), channel
    )
    before = time.time()
    poster.ok("publish", user=poster.user, channel=channel, message="live post")
    got = wait_for(lambda: reader.received("live post"), what="the live post")
    assert (got.kind, got.user, got.channel, got.topic) == (
        "channel",
        poster.user,
        channel,
        channel,
    )
    assert got.clock > 0
    assert abs(got.timestamp - before) < 30


def test_history_returns_posts_in_order(peers: Callable[[str], Peer]) -> None:
    channel = unique("hist")
    alice, bob = peers(unique("alice")), peers(unique("bob"))
    alice.ok("channel", channel=channel, user=alice.user)
    # One after the other from one client: each request carries a Lamport clock above the
    # previous post's, whichever replica takes it, so this is the order history must give.
    texts = [f"post {i}" for i in range(6)]
    for text in texts:
        alice.ok("publish", user=alice.user, channel=channel, message=text)

    def complete() -> list[dict[str, Any]] | None:
        reply = bob.ok("history", channel=channel, limit=50)
        return reply["messages"] if len(reply["messages"]) == len(texts) else None

    # The broker spreads asks over the replicas (round-robin): they must all agree.
    answers = [wait_for(complete, what="the whole history") for _ in range(3)]
    for messages in answers:
        assert [m["message"] for m in messages] == texts
        assert {m["user"] for m in messages} == {alice.user}
        assert {m["channel"] for m in messages} == {channel}
        clocks = [m["clock"] for m in messages]
        assert clocks == sorted(clocks) and len(set(clocks)) == len(clocks)
    assert answers[0] == answers[1] == answers[2]
    last_two = bob.ok("history", channel=channel, limit=2)["messages"]
    assert [m["message"] for m in last_two] == texts[-2:]

    alice.ok("message", src=alice.user, dst=bob.user, message="private 1")
    alice.ok("message", src=alice.user, dst=bob.user, message="private 2")
    conversation = wait_for(
        lambda: (lambda m: m if len(m) == 2 else None)(
            bob.ok("history", user=bob.user, peer=alice.user)["messages"]
        ),
        what="the private conversation",
    )
    assert [m["message"] for m in conversation] == ["private 1", "private 2"]


def test_who_lists_the_users_of_the_last_30_s(peers: Callable[[str], Peer]) -> None:
    ana, watcher = peers(unique("ana")), peers(unique("watcher"))
    # ana's login may have reached another replica: the tables meet within one exchange
    reply = wait_for(
        lambda: (r := watcher.client.who())["status"] == "OK" and ana.user in r["online"] and r,
        timeout=10,
        what=f"{ana.user} online",
    )
    assert watcher.user in reply["online"]  # a `who` with a user is its keep-alive
    assert reply["online"] == sorted(reply["online"])


def test_a_dead_broker_raises_unreachable_quickly() -> None:
    quick = Timing(request_timeout=0.1, request_retries=1)
    client = ChatClient(
        f"tcp://127.0.0.1:{free_base_port(1)}",
        "tcp://127.0.0.1:1",
        lambda _: None,
        node=Node("client", "lonely", timing=quick),
    )
    try:
        started = time.monotonic()
        with pytest.raises(Unreachable, match="no answer from the cluster"):
            client.call("users")
        assert time.monotonic() - started < 5
    finally:
        client.close()


def test_the_shell_gives_up_on_a_dead_cluster_and_closes() -> None:
    quick = Timing(request_timeout=0.1, request_retries=1)
    broker = f"tcp://127.0.0.1:{free_base_port(1)}"
    made: list[ChatClient] = []
    lines: list[str] = []

    def connect(on_delivery: Callable[[Delivery], None]) -> ChatClient:
        made.append(
            ChatClient(
                broker,
                "tcp://127.0.0.1:1",
                on_delivery,
                node=Node("client", "lonely", timing=quick),
            )
        )
        return made[-1]

    def read(prompt: str) -> str:
        raise AssertionError(f"asked {prompt!r} although the cluster is down")

    started = time.monotonic()
    assert not run(connect, broker, "ana", read, lines.append, quick)
    assert time.monotonic() - started < 10
    assert f"cluster unreachable at {broker}, retrying (1/{LOGIN_ATTEMPTS - 1})..." in lines
    assert lines[-2:] == [f"cluster unreachable at {broker}: giving up", "bye"]
    assert not made[0].session.is_alive()


# ---- `bbs client` under a pseudo-terminal -------------------------------------------------

ANSI = re.compile(
    r"\x1b(\[[0-9;?<=>]*[ -/]*[@-~]"  # CSI: cursor moves, colours, modes
    r"|\][^\x07\x1b]*(\x07|\x1b\\)"  # OSC: window title
    r"|[()][0-9A-Za-z]|[=>78])"  # charset and keypad modes
)


class Display(pyte.Screen):
    """What the terminal shows now; it answers the program's cursor-position queries as a
    terminal does (prompt_toolkit draws its bottom toolbar only once it knows the height)."""

    def __init__(self, columns: int, lines: int, answer: Callable[[str], object]) -> None:
        super().__init__(columns, lines)
        self.answer = answer

    def write_process_input(self, data: str) -> None:
        self.answer(data)


class Terminal:
    """A process on a pseudo-terminal: what a person at a terminal sees and types."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.proc = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.raw = b""
        self.display = Display(160, 40, lambda answer: os.write(self.master, answer.encode()))
        self._feed = pyte.ByteStream(self.display)

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def _pump(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the other side closed
            return False
        self.raw += chunk
        self._feed.feed(chunk)
        return bool(chunk)

    def shown(self, text: str, deadline: float = DEADLINE) -> list[str]:
        """Wait until a line of the terminal as it looks now holds `text`; its lines."""
        end = time.monotonic() + deadline
        while not any(text in line for line in self.display.display):
            if time.monotonic() > end:
                lines = "\n".join(line.rstrip() for line in self.display.display)
                raise AssertionError(f"{text!r} not on the terminal; it shows:\n{lines}")
            self._pump(0.1)
        return [line.rstrip() for line in self.display.display]

    def expect(self, text: str, deadline: float = DEADLINE, after: int = 0) -> int:
        """Wait until `text` is on screen (past offset `after`); returns where it ends."""
        end = time.monotonic() + deadline
        while True:
            found = self.screen.find(text, after)
            if found >= 0:
                return found + len(text)
            if time.monotonic() > end:
                raise AssertionError(
                    f"{text!r} not shown within {deadline}s; screen:\n{self.screen[-3000:]}"
                )
            if not self._pump(0.1) and self.proc.poll() is not None:
                raise AssertionError(
                    f"client exited ({self.proc.returncode}) before showing "
                    f"{text!r}; screen:\n{self.screen[-3000:]}"
                )

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_exit(self, deadline: float = DEADLINE) -> int:
        end = time.monotonic() + deadline
        while self.proc.poll() is None and time.monotonic() < end:
            self._pump(0.1)
        return self.proc.wait(timeout=1)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        os.close(self.master)


@pytest.fixture
def terminal(cluster: Topology, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def open_client(*extra: str) -> Terminal:
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "PYTHONUNBUFFERED": "1",
        }
        args = [
            sys.executable,
            "-m",
            "roles.cli",
            "client",
            f"--broker={cluster.broker}",
            f"--proxy-sub={cluster.proxy_sub}",
            f"--log-file={tmp_path / 'client.jsonl'}",
            f"--keys-home={tmp_path / 'home'}",  # where it remembers channels
            *extra,
        ]
        opened.append(Terminal(args, env))
        return opened[-1]

    yield open_client
    for term in opened:
        term.close()


def test_bbs_client_in_a_terminal(
    terminal: Callable[..., Terminal], peers: Callable[[str], Peer]
) -> None:
    channel, me = unique("geral"), unique("carla")
    term = terminal()
    # Keys are typed only once the prompt is up: before that the terminal is in cooked mode.
    term.expect("your name:")
    term.type(me + "\r")
    mark = term.expect(f"logged in as {me}")
    term.expect(f"{me}>", after=mark)
    term.type(f"/join {channel}\r")
    term.expect(f"joined #{channel}", after=mark)
    mark = term.expect(f"-- no messages yet in #{channel}", after=mark)
    term.expect(f"{me}@#{channel}>", after=mark)
    term.type("ola do terminal\r")
    mark = term.expect(f"#{channel} <{me}> ola do terminal", after=mark)

    # Posts and private messages from others appear while the prompt waits for input.
    dora = peers(unique("dora"))
    dora.ok("publish", user=dora.user, channel=channel, message="oi carla")
    mark = term.expect(f"#{channel} <{dora.user}> oi carla", after=mark)
    prompt = f"{me}@#{channel}>"
    lines = term.shown(f"#{channel} <{dora.user}> oi carla")
    assert not any(prompt in line and "oi carla" in line for line in lines)  # never on the prompt
    # A private message opens a window of its own: the status bar counts it, Alt-3 shows it.
    dora.ok("message", src=dora.user, dst=me, message="so pra voce")
    lines = term.shown(f"1:status [2:#{channel}] 3:{dora.user}(1!)")
    assert lines[-1].strip().startswith("1:status")  # the bar is the bottom line
    assert not any("so pra voce" in line for line in lines)
    term.type("\x1b3")
    lines = term.shown(f"1:status 2:#{channel} [3:{dora.user}]")
    term.shown(f"*private* <{dora.user}> so pra voce")
    term.type("/window 2\r")
    term.shown(f"1:status [2:#{channel}] 3:{dora.user}")
    lines = term.shown(f"#{channel} <{dora.user}> oi carla")  # its buffer, redrawn
    assert not any("so pra voce" in line for line in lines)  # only this window's lines
    mark = len(term.screen)
    term.expect(f"{me}@#{channel}>", after=mark - 200)

    term.type(f"/msg nobody-{me} hello\r")
    mark = term.expect(f"message to nobody-{me} not sent: unknown user", after=mark)
    term.expect(f"{me}@#{channel}>", after=mark)
    term.type("/quit\r")
    term.expect("bye", after=mark)
    assert term.wait_exit() == 0


@pytest.mark.parametrize(
    "leave",
    [lambda term: term.type("\x04"), lambda term: term.proc.send_signal(signal.SIGTERM)],
    ids=["ctrl-d", "sigterm"],
)
def test_the_terminal_client_quits_cleanly(
    terminal: Callable[..., Terminal], leave: Callable[[Terminal], None]
) -> None:
    me = unique("dani")
    term = terminal(f"--user={me}")
    mark = term.expect(f"logged in as {me}")
    term.expect(f"{me}>", after=mark)
    leave(term)
    term.expect("bye", after=mark)
    assert term.wait_exit() == 0
