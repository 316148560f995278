"""The interactive client without a terminal: parsing, formatting, and the shell's commands
against an in-memory fake of the cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.session import Unreachable
from config.timing import Timing
from roles import client_commands as cc
from roles.client import LOGIN_ATTEMPTS, Shell, run
from roles.client_state import ClientState
from tests.support import wait_for
from transport.fields import MAX_MESSAGE_CHARS
from transport.protocol import Delivery

TS = 1_700_000_000.5


def at(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


# ---- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("/join geral", cc.Join("geral")),
        ("/join #geral", cc.Join("geral")),
        ("/JOIN geral", cc.Join("geral")),
        ("/j geral", cc.Join("geral")),
        ("  /join   geral  ", cc.Join("geral")),
        ("/leave", cc.Leave()),
        ("/leave #geral", cc.Leave("geral")),
        ("/part geral", cc.Leave("geral")),
        ("/channels", cc.ListChannels()),
        ("/list", cc.ListChannels()),
        ("/users", cc.ListUsers()),
        ("/who", cc.Who()),
        ("/names", cc.ListUsers()),
        ("/history more", cc.History(more=True)),
        ("/window 2", cc.SwitchWindow(2)),
        ("/w 12", cc.SwitchWindow(12)),
        ("/msg bob oi tudo bem?", cc.Msg("bob", "oi tudo bem?")),
        ("/msg bob   spaced   text ", cc.Msg("bob", "spaced   text")),
        ("/history", cc.History()),
        ("/history geral", cc.History("geral")),
        ("/history #geral", cc.History("#geral")),
        ("/history bob", cc.History("bob")),
        ("/help", cc.Help()),
        ("/quit", cc.Quit()),
        ("/exit", cc.Quit()),
        ("/q", cc.Quit()),
        ("hello world", cc.Post("hello world")),
        ("  hello  ", cc.Post("hello")),
        ("//not a command", cc.Post("/not a command")),
        ("ola /join", cc.Post("ola /join")),
    ],
)
def test_parse(line: str, command: cc.Command) -> None:
    assert cc.parse(line) == command


@pytest.mark.parametrize("line", ["", "   ", "\n"])
def test_blank_lines_are_nothing(line: str) -> None:
    assert cc.parse(line) is None


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("/join", "usage: /join CHANNEL"),
        ("/join a b", "usage: /join CHANNEL"),
        ("/leave a b", "usage: /leave"),
        ("/msg", "usage: /msg USER TEXT"),
        ("/msg bob", "usage: /msg USER TEXT"),
        ("/msg bob    ", "usage: /msg USER TEXT"),
        ("/history a b", "usage: /history"),
        ("/users now", "usage: /users"),
        ("/quit now", "usage: /quit"),
        ("/frobnicate", "unknown command /frobnicate"),
        ("/", "unknown command /"),
    ],
)
def test_bad_commands_say_why(line: str, needle: str) -> None:
    command = cc.parse(line)
    assert isinstance(command, cc.Invalid)
    assert needle in command.error


def test_help_lists_every_command() -> None:
    for usage in cc.USAGE.values():
        assert usage in cc.HELP


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("ana", True),
        ("Zé", True),
        ("", False),
        ("ana bel", False),
        ("a\tb", False),
        ("x\x1b[31m", False),
    ],
)
def test_name_problem(name: str, ok: bool) -> None:
    assert (cc.name_problem(name) is None) is ok


def test_history_query() -> None:
    assert cc.history_query(None, "ana", "geral", []) == {"channel": "geral", "limit": 20}
    assert isinstance(cc.history_query(None, "ana", None, []), str)
    assert cc.history_query("#x", "ana", None, []) == {"channel": "x", "limit": 20}
    assert cc.history_query("geral", "ana", None, ["geral"]) == {"channel": "geral", "limit": 20}
    assert cc.history_query("bob", "ana", "geral", ["geral"]) == {
        "user": "ana",
        "peer": "bob",
        "limit": 20,
    }


# ---- replies and formatting ---------------------------------------------------------------


def test_error_replies() -> None:
    assert cc.is_error({"status": "erro", "description": "boom"})
    assert not cc.is_error({"status": "OK"})
    assert not cc.is_error({"status": "sucesso"})
    assert cc.error_text({"status": "erro", "description": "d", "message": "m"}) == "d"
    assert cc.error_text({"status": "erro", "message": "m"}) == "m"
    assert cc.error_text({"status": "erro"})


def test_names_of_and_format_names() -> None:
    assert cc.names_of({"channels": ["b", "a"]}, "channels") == ["a", "b"]
    assert cc.names_of({"users": ["geral"]}, "channels") == ["geral"]  # peers that use `users`
    assert cc.names_of({}, "users") == []
    assert cc.format_names("users", ["ana", "bob"]) == "users (2): ana, bob"
    assert cc.format_names("channels", []) == "no channels yet"


def delivery(
    kind: str = "channel",
    topic: str = "geral",
    user: str = "bob",
    channel: str = "geral",
    dst: str = "",
    message: str = "oi",
    clock: int = 7,
) -> Delivery:
    return Delivery(topic, kind, user, channel, dst, message, TS, clock)


def test_format_delivery() -> None:
    assert cc.format_delivery(delivery()) == f"[{at(TS)}] #geral <bob> oi"
    private = delivery("private", topic="ana", channel="", dst="ana")
    assert cc.format_delivery(private) == f"[{at(TS)}] *private* <bob> oi"


def test_terminal_escapes_from_the_network_are_neutralised() -> None:
    line = cc.format_delivery(delivery(user="b\x1b[2Jb", message="x\x1b]0;pwn\x07y\tz"))
    assert "\x1b" not in line and "\x07" not in line
    assert "\t" in line


def test_audience() -> None:
    assert cc.audience(delivery(), "ana", ["geral"]) == "channel"
    assert cc.audience(delivery(), "ana", ["outro"]) is None
    to_ana = delivery("private", topic="ana", channel="", dst="ana")
    to_anabel = delivery("private", topic="anabel", channel="", dst="anabel")
    assert cc.audience(to_ana, "ana", []) == "private"
    assert cc.audience(to_anabel, "ana", []) is None
    # A channel named like another user: that user's private messages are not ours.
    to_bob = delivery("private", topic="bob", channel="", dst="bob")
    assert cc.audience(to_bob, "ana", ["bob"]) is None
    # Peers whose payload lacks `type`/`service`: a dst, or our own topic, means private.
    bare = delivery("channel", topic="ana", channel="", dst="ana")
    assert cc.audience(bare, "ana", []) == "private"
    assert cc.audience(delivery("channel", topic="ana", channel=""), "ana", []) == "private"
    assert cc.format_delivery(bare, "private") == f"[{at(TS)}] *private* <bob> oi"


def test_format_entries() -> None:
    post = {"user": "bob", "channel": "geral", "message": "oi", "timestamp": TS, "clock": 3}
    assert cc.format_entry(post, "ana") == f"[{at(TS)}] #geral <bob> oi"
    received = {"src": "bob", "dst": "ana", "message": "psst", "timestamp": TS * 1000}
    assert cc.format_entry(received, "ana") == f"[{at(TS)}] *private* <bob> psst"
    sent = {"user": "ana", "dst": "bob", "message": "hi", "timestamp": TS}
    assert cc.format_entry(sent, "ana") == f"[{at(TS)}] *private -> bob* <ana> hi"
    assert cc.entries_of({"messages": [post, "junk"]}) == [post]
    assert cc.entries_of({}) == []


def test_history_titles() -> None:
    assert cc.history_title({"channel": "g"}, 0) == "-- no messages yet in #g"
    assert cc.history_title({"channel": "g"}, 1) == "-- last 1 message of #g"
    assert (
        cc.history_title({"user": "a", "peer": "b"}, 2)
        == "-- last 2 messages of your conversation with b"
    )


# ---- the shell against a fake cluster -----------------------------------------------------


class FakeChat:
    """An in-memory cluster behind ChatClient's interface."""

    def __init__(self, on_delivery: Any) -> None:
        self.on_delivery = on_delivery
        self.users = {"bob", "anabel"}
        self.channels = {"geral"}
        self.posts: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.subs: list[tuple[str, bool]] = []
        self.refuse: dict[str, str] = {}
        self.down = False
        self.closed = False
        self.online: set[str] = set()
        self.private: dict[str, list[dict[str, Any]]] = {}  # conversation with a peer

    def call(self, service: str, **data: Any) -> dict[str, Any]:
        self.calls.append((service, data))
        if self.down:
            raise Unreachable("no answer from the cluster at tcp://fake:1 (timeout)")
        if service in self.refuse:
            text = self.refuse[service]
            return {"status": "erro", "description": text, "message": text}
        return getattr(self, "_" + service)(data)

    def _error(self, text: str) -> dict[str, Any]:
        return {"status": "erro", "description": text, "message": text}

    def _login(self, data: dict[str, Any]) -> dict[str, Any]:
        self.users.add(data["user"])
        return {"status": "sucesso"}

    def _channel(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["channel"] in self.channels:
            return self._error(f"channel '{data['channel']}' already exists")
        if data["channel"].startswith("bad"):
            return self._error("invalid channel name")
        self.channels.add(data["channel"])
        return {"status": "sucesso"}

    def _channels(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"channels": sorted(self.channels), "users": sorted(self.channels)}

    def _users(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "users": sorted(self.users),
            **({"online": sorted(self.online)} if self.online else {}),
        }

    def _publish(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["channel"] not in self.channels:
            return self._error(f"unknown channel '{data['channel']}'")
        self.posts.append({**data, "timestamp": TS, "clock": len(self.posts) + 1})
        return {"status": "OK"}

    def _message(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["dst"] not in self.users:
            return self._error(f"unknown user '{data['dst']}'")
        return {"status": "OK"}

    def _history(self, data: dict[str, Any]) -> dict[str, Any]:
        if "channel" in data:
            found = [p for p in self.posts if p["channel"] == data["channel"]]
        else:
            found = self.private.get(data["peer"], [self._psst(data["user"])])
        before = data.get("before_clock")
        found = [p for p in found if before is None or p["clock"] < before]
        return {"status": "OK", "messages": found[-data.get("limit", 50) :]}

    def _psst(self, me: str, clock: int = 1, text: str = "psst") -> dict[str, Any]:
        return {
            "user": "bob",
            "src": "bob",
            "dst": me,
            "message": text,
            "timestamp": TS,
            "clock": clock,
        }

    def _who(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": "OK", "online": sorted(self.online)}

    def subscribe(self, topic: str, on: bool = True) -> None:
        self.subs.append((topic, on))

    def login(self, user: str) -> dict[str, Any]:
        reply = self.call("login", user=user)
        if reply.get("status") == "sucesso":
            self.subscribe(user)
        return reply

    def close(self) -> None:
        self.closed = True


class Screen:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        self.lines.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def take(self) -> str:
        text, self.lines = self.text, []
        return text


FAST = Timing(request_timeout=30.0)  # no "retrying" notice unless a test wants one


@pytest.fixture
def screen() -> Screen:
    return Screen()


@pytest.fixture
def shell(screen: Screen) -> Iterator[Shell]:
    sh = Shell(FakeChat, "tcp://fake:1", screen, FAST, keepalive=0)
    assert sh.login(lambda _: pytest.fail("asked for a name"), "ana")
    screen.take()
    yield sh
    sh.close()


def fake(sh: Shell) -> FakeChat:
    assert isinstance(sh.client, FakeChat)
    return sh.client


def script(*lines: str) -> Any:
    answers = list(lines)

    def read(prompt: str) -> str:
        if not answers:
            raise EOFError
        return answers.pop(0)

    return read


def test_login_flow(screen: Screen) -> None:
    sh = Shell(FakeChat, "tcp://fake:1", screen, FAST)
    chat = fake(sh)
    prompts: list[str] = []
    answers = ["ana bel", "ghost", "ana"]

    def read(prompt: str) -> str:
        prompts.append(prompt)
        if answers[0] == "ana":
            chat.refuse.pop("login", None)
        else:
            chat.refuse["login"] = "name taken by a ghost"
        return answers.pop(0)

    assert sh.login(read)
    assert sh.user == "ana"
    assert prompts == ["your name: "] * 3
    assert "cannot contain spaces" in screen.text
    assert "login as ghost refused: name taken by a ghost" in screen.text
    assert "logged in as ana" in screen.text
    assert ("ana", True) in chat.subs
    assert sh.prompt() == "ana> "


def test_login_gives_up_when_the_cluster_stays_unreachable(screen: Screen) -> None:
    sh = Shell(FakeChat, "tcp://fake:1", screen, FAST)
    fake(sh).down = True
    assert not sh.login(script(), "ana")
    assert screen.text.count("cluster unreachable at tcp://fake:1, retrying") == LOGIN_ATTEMPTS - 1
    assert screen.lines[-1] == "cluster unreachable at tcp://fake:1: giving up"


def test_join_creates_subscribes_and_shows_history(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    assert shell.handle_line("/join novo")
    assert "novo" in chat.channels
    assert ("novo", True) in chat.subs
    assert shell.current == "novo" and shell.prompt() == "ana@#novo> "
    assert "-- no messages yet in #novo" in screen.text
    assert ("history", {"channel": "novo", "limit": cc.HISTORY_LIMIT}) in chat.calls


def test_join_an_existing_channel_is_fine(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    chat.posts.append(
        {"user": "bob", "channel": "geral", "message": "old", "timestamp": TS, "clock": 1}
    )
    shell.handle_line("/join #geral")
    assert "already exists" not in screen.text
    assert shell.current == "geral"
    assert f"[{at(TS)}] #geral <bob> old" in screen.lines


def test_join_refused_shows_the_description(shell: Shell, screen: Screen) -> None:
    shell.handle_line("/join bad!")
    assert "cannot join #bad!: invalid channel name" in screen.text
    assert shell.current is None
    assert ("bad!", True) not in fake(shell).subs


def test_posting(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    shell.handle_line("hello?")
    assert "/join CHANNEL" in screen.take()
    assert not chat.posts
    shell.handle_line("/join geral")
    screen.take()
    shell.handle_line("ola pessoal")
    assert chat.posts[-1]["message"] == "ola pessoal"
    assert chat.posts[-1]["user"] == "ana" and chat.posts[-1]["channel"] == "geral"
    assert screen.take().endswith("#geral <ana> ola pessoal")  # shown once the server has it
    shell.deliver(delivery(user="ana", message="ola pessoal", clock=7))
    assert screen.take() == ""  # its delivery is not shown again
    chat.refuse["publish"] = "message too long"
    shell.handle_line("x")
    assert "not posted to #geral: message too long" in screen.text


def test_private_message(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    shell.handle_line("/msg bob oi bob")
    assert chat.calls[-1] == ("message", {"src": "ana", "dst": "bob", "message": "oi bob"})
    assert "*private -> bob* <ana> oi bob" in screen.take()
    shell.handle_line("/msg nobody hi")
    assert "message to nobody not sent: unknown user 'nobody'" in screen.take()
    shell.handle_line("/msg ana note to self")
    assert screen.take() == ""  # comes back as a delivery


def test_lists(shell: Shell, screen: Screen) -> None:
    shell.handle_line("/users")
    assert screen.take() == "users (3): ana, anabel, bob"
    shell.handle_line("/channels")
    assert screen.take() == "channels (1): geral"
    fake(shell).refuse["users"] = "busy"
    shell.handle_line("/users")
    assert screen.take() == "/users failed: busy"


def test_history_of_channel_and_of_conversation(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    shell.handle_line("/history")
    assert "you are in no channel" in screen.take()
    shell.handle_line("/history geral")
    assert chat.calls[-1] == ("history", {"channel": "geral", "limit": cc.HISTORY_LIMIT})
    shell.handle_line("/history bob")
    assert chat.calls[-1] == ("history", {"user": "ana", "peer": "bob", "limit": cc.HISTORY_LIMIT})
    assert f"[{at(TS)}] *private* <bob> psst" in screen.take()
    chat.refuse["history"] = "unknown channel 'zz'"
    shell.handle_line("/history #zz")
    assert "no history: unknown channel 'zz'" in screen.take()


def test_leave(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    shell.handle_line("/leave")
    assert "you are in no channel" in screen.take()
    shell.handle_line("/join geral")
    shell.handle_line("/join outro")
    shell.handle_line("/leave")
    assert ("outro", False) in chat.subs
    assert shell.current == "geral"
    assert "left #outro; current channel: #geral" in screen.take()
    shell.handle_line("/leave outro")
    assert "you are not in #outro" in screen.take()
    shell.handle_line("/leave geral")
    assert shell.current is None and shell.joined == ()


def test_leaving_a_channel_named_like_me_keeps_my_private_messages(shell: Shell) -> None:
    shell.handle_line("/join ana")
    shell.handle_line("/leave")
    assert ("ana", False) not in fake(shell).subs


def test_help_quit_and_bad_commands(shell: Shell, screen: Screen) -> None:
    assert shell.handle_line("/help")
    assert "/msg USER TEXT" in screen.take()
    assert shell.handle_line("/nope")
    assert "unknown command /nope" in screen.take()
    assert shell.handle_line("   ")
    assert not shell.handle_line("/quit")


def test_unreachable_cluster_gives_up_and_keeps_the_shell(shell: Shell, screen: Screen) -> None:
    fake(shell).down = True
    assert shell.handle_line("/join geral")
    assert "cluster unreachable at tcp://fake:1: giving up on /join geral" in screen.take()
    assert shell.current is None
    fake(shell).down = False
    shell.handle_line("/join geral")
    assert shell.current == "geral"


def test_slow_answer_says_it_is_retrying(screen: Screen) -> None:
    notice = threading.Event()

    def out(text: str) -> None:
        screen(text)
        if "retrying" in text:
            notice.set()

    sh = Shell(FakeChat, "tcp://fake:1", out, Timing(request_timeout=0.05))
    chat = fake(sh)

    def slow_login(user: str) -> dict[str, Any]:
        assert notice.wait(10), "no retry notice"
        return {"status": "sucesso"}

    chat.login = slow_login  # type: ignore[method-assign]
    assert sh.login(script(), "ana")
    assert "no answer from the cluster at tcp://fake:1, retrying..." in screen.text


def test_live_deliveries(shell: Shell, screen: Screen) -> None:
    shell.handle_line("/join geral")
    screen.take()
    shell.deliver(delivery(message="live!"))
    shell.deliver(delivery(channel="other", topic="other"))
    shell.deliver(delivery("private", topic="ana", channel="", dst="ana", message="psst"))
    shell.deliver(delivery("private", topic="anabel", channel="", dst="anabel", message="no"))
    shell.deliver(delivery("private", topic="user:ana", channel="", dst="", message="other team"))
    assert screen.take().splitlines()[-1] == f"[{at(TS)}] #geral <bob> live!"
    assert shell.status_bar() == "1:status [2:#geral] 3:bob(2!)"  # the conversation waits
    shell.handle_line("/window 3")
    assert screen.take().splitlines()[-2:] == [
        f"[{at(TS)}] *private* <bob> psst",
        f"[{at(TS)}] *private* <bob> other team",
    ]


def test_a_post_seen_live_during_join_is_not_repeated_by_history(screen: Screen) -> None:
    sh = Shell(FakeChat, "tcp://fake:1", screen, FAST)
    sh.login(script(), "ana")
    chat = fake(sh)
    chat.posts.append(
        {"user": "bob", "channel": "geral", "message": "race", "timestamp": TS, "clock": 9}
    )
    real_history = chat._history

    def history_after_live(data: dict[str, Any]) -> dict[str, Any]:
        sh.deliver(delivery(message="race", clock=9))  # arrives live first
        return real_history(data)

    chat._history = history_after_live  # type: ignore[method-assign]
    screen.take()
    sh.handle_line("/join geral")
    assert screen.text.count("<bob> race") == 1
    sh.deliver(delivery(message="race", clock=9))
    assert screen.text.count("<bob> race") == 1


def test_run_quits_on_quit_eof_and_ctrl_c(screen: Screen) -> None:
    made: list[FakeChat] = []

    def connect(on_delivery: Any) -> FakeChat:
        made.append(FakeChat(on_delivery))
        return made[-1]

    run(
        connect,
        "tcp://fake:1",
        "",
        script("ana", "/join geral", "oi", "/quit", "never"),
        screen,
        FAST,
    )
    assert made[-1].closed and made[-1].posts[-1]["message"] == "oi"
    assert screen.lines[-1] == "bye"

    run(connect, "tcp://fake:1", "ana", script(), screen, FAST)  # Ctrl-D at the prompt
    assert made[-1].closed

    def interrupted(prompt: str) -> str:
        raise KeyboardInterrupt

    run(connect, "tcp://fake:1", "", interrupted, screen, FAST)  # Ctrl-C at the name prompt
    assert made[-1].closed


# ---- windows, scroll-back, presence, memory, other servers --------------------------------


def test_join_of_an_open_window_switches_and_redraws_without_asking_again(
    shell: Shell, screen: Screen
) -> None:
    chat = fake(shell)
    cleared: list[int] = []
    shell.clear = lambda: cleared.append(len(screen.lines))
    shell.handle_line("/join geral")
    shell.deliver(delivery(message="first"))
    shell.handle_line("/join outro")
    shell.deliver(delivery(message="while away", clock=8))
    assert shell.status_bar() == "1:status 2:#geral(1) [3:#outro]"
    calls = len(chat.calls)
    screen.take()
    shell.handle_line("/join geral")
    assert len(chat.calls) == calls  # no request: the window was open
    assert cleared and shell.current == "geral" and shell.prompt() == "ana@#geral> "
    shown = screen.take()
    assert "<bob> first" in shown and "<bob> while away" in shown  # its buffer, redrawn
    assert "#outro" not in shown  # only the current window's lines
    assert shell.status_bar() == "1:status [2:#geral] 3:#outro"
    shell.handle_line("/window 7")
    assert "no window 7" in screen.take()


def test_a_mention_marks_its_window(shell: Shell) -> None:
    shell.handle_line("/join geral")
    shell.handle_line("/join outro")
    shell.deliver(delivery(message="ana: look"))
    shell.deliver(delivery(message="banana"))  # not a mention
    assert shell.status_bar().split()[1] == "2:#geral(2!)"


def test_a_conversation_window_sends_private_messages(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    shell.deliver(delivery("private", topic="ana", channel="", dst="ana", message="oi ana"))
    assert shell.status_bar() == "[1:status] 2:bob(1!)"
    shell.handle_line("/window 2")
    assert "*private* <bob> oi ana" in screen.take()
    shell.handle_line("tudo bem?")
    assert chat.calls[-1] == ("message", {"src": "ana", "dst": "bob", "message": "tudo bem?"})
    assert "*private -> bob* <ana> tudo bem?" in screen.take()
    shell.handle_line("/leave")  # closes the conversation's window
    assert shell.status_bar() == "[1:status]"


def test_my_post_is_shown_once_when_its_delivery_beats_the_reply(
    shell: Shell, screen: Screen
) -> None:
    chat = fake(shell)
    shell.handle_line("/join geral")
    screen.take()
    publish = chat._publish

    def delivered_first(data: dict[str, Any]) -> dict[str, Any]:
        reply = publish(data)
        shell.deliver(delivery(user="ana", message=data["message"], clock=99))
        return reply

    chat._publish = delivered_first  # type: ignore[method-assign]
    shell.handle_line("quick")
    assert screen.take().count("<ana> quick") == 1


def test_history_more_pages_back_with_before_clock(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    day = 86_400
    for clock in range(1, 31):  # ten posts a day earlier, then twenty
        when = TS - day if clock <= 10 else TS
        chat.posts.append(
            {
                "user": "bob",
                "channel": "geral",
                "message": f"m{clock}",
                "timestamp": when,
                "clock": clock,
            }
        )
    shell.handle_line("/join geral")
    first = screen.take()
    assert "<bob> m11" in first and "<bob> m10" not in first
    shell.handle_line("/history more")
    assert chat.calls[-1] == (
        "history",
        {"channel": "geral", "limit": cc.HISTORY_LIMIT, "before_clock": 11},
    )
    older = screen.take().splitlines()
    assert older[0] == "-- 10 older messages of #geral (/history more: before these)"
    assert older[1] == time.strftime("--- %a %d %b %Y ---", time.localtime(TS - day))
    assert older[2].endswith("<bob> m1") and older[-1].endswith("<bob> m10")
    shell.handle_line("/history more")
    assert screen.take() == "-- no older messages in #geral"


def test_a_paste_over_the_message_limit_is_refused_before_sending(
    shell: Shell, screen: Screen
) -> None:
    chat = fake(shell)
    shell.handle_line("/join geral")
    screen.take()
    calls = len(chat.calls)
    shell.handle_line("x" * (MAX_MESSAGE_CHARS + 1))
    shell.handle_line("/msg bob " + "y" * (MAX_MESSAGE_CHARS + 1))
    assert len(chat.calls) == calls
    assert screen.take().count(f"the limit is {MAX_MESSAGE_CHARS}") == 2


def test_who_and_the_online_mark_of_users(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    chat.online = {"ana", "bob"}
    shell.handle_line("/who")
    assert chat.calls[-1] == ("who", {"user": "ana"})
    assert screen.take() == "online (2): ana, bob"
    shell.handle_line("/users")
    assert screen.take() == "users (3): ana*, anabel, bob*  (* online)"
    chat.refuse["who"] = "unknown service 'who'"
    shell.handle_line("/who")
    assert "/who failed: unknown service 'who'" in screen.take()


def test_a_reply_without_status_or_payload_is_a_failure(shell: Shell, screen: Screen) -> None:
    chat = fake(shell)
    chat._history = lambda data: {}  # type: ignore[method-assign]
    shell.handle_line("/history #geral")
    assert "no history: the server's reply has no messages list" in screen.take()
    chat._users = lambda data: {"status": "error", "message": "nope"}  # type: ignore[method-assign]
    shell.handle_line("/users")
    assert screen.take() == "/users failed: nope"
    chat._publish = lambda data: {"timestamp": 1}  # type: ignore[method-assign]
    shell.handle_line("/join geral")
    screen.take()
    shell.handle_line("oi")
    assert "not posted to #geral: the server's reply has no status" in screen.take()


def test_the_keep_alive_asks_who_as_me(screen: Screen) -> None:
    sh = Shell(FakeChat, "tcp://fake:1", screen, FAST, keepalive=0.01)
    try:
        assert sh.login(script(), "ana")
        wait_for(lambda: ("who", {"user": "ana"}) in fake(sh).calls, what="a keep-alive")
    finally:
        sh.close()


def test_channels_and_what_came_while_away_are_remembered(screen: Screen, tmp_path: Path) -> None:
    state = ClientState(tmp_path)
    chats: list[FakeChat] = []

    def connect(on_delivery: Any) -> FakeChat:
        chats.append(FakeChat(on_delivery))
        if len(chats) > 1:  # the cluster kept bob's messages while ana was away
            chats[-1].private["bob"] = [chats[-1]._psst("ana", c, f"p{c}") for c in (5, 6, 7, 8)]
        return chats[-1]

    run(
        connect,
        "tcp://fake:1",
        "ana",
        script("/join geral", "/join dev", "/leave dev"),
        screen,
        FAST,
        state=state,
        keepalive=0,
    )
    first = chats[0]
    first.on_delivery(delivery("private", topic="ana", channel="", dst="ana", clock=5))
    screen.take()
    run(connect, "tcp://fake:1", "ana", script(), screen, FAST, state=state, keepalive=0)
    assert ("geral", True) in chats[1].subs and ("dev", True) not in chats[1].subs
    back = screen.take()
    assert "back in #geral" in back
    assert "3 private messages from bob while you were away — /history bob" in back
    run(connect, "tcp://fake:1", "ana", script(), screen, FAST, state=state, keepalive=0)
    assert "while you were away" not in screen.take()  # told once


def test_piped_input_after_a_refused_login_is_not_a_name(screen: Screen) -> None:
    made: list[FakeChat] = []

    def connect(on_delivery: Any) -> FakeChat:
        made.append(FakeChat(on_delivery))
        made[-1].refuse["login"] = "name taken"
        return made[-1]

    lines = script("ghost", "/quit")
    assert not run(connect, "tcp://fake:1", "", lines, screen, FAST, interactive=False)
    assert [c for c in made[-1].calls if c[0] == "login"] == [("login", {"user": "ghost"})]
    assert "login as ghost refused: name taken" in screen.text
    assert not run(connect, "tcp://fake:1", "", script("/quit"), screen, FAST, interactive=False)
    assert "cannot start with /" in screen.text and not made[-1].calls
