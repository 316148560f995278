"""`bbs client`'s terminal, driven key by key through prompt_toolkit's pipe input against the
in-memory cluster: the status bar and window keys, Tab completion, Ctrl-C, PageUp, and the
paste limit at Enter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from roles.client import run
from roles.client_view import TerminalView, coloured, nick_colour
from tests.support import wait_for
from tests.unit.test_client_commands import FAST, FakeChat, delivery
from transport.fields import MAX_MESSAGE_CHARS

ALT_2, PAGE_UP, CTRL_C, CTRL_D, TAB = "\x1b2", "\x1b[5~", "\x03", "\x04", "\t"


@dataclass
class Terminal:
    keys: PipeInput
    view: TerminalView
    lines: list[str] = field(default_factory=list)
    chats: list[FakeChat] = field(default_factory=list)
    outcome: list[bool] = field(default_factory=list)
    thread: threading.Thread | None = None

    @property
    def chat(self) -> FakeChat:
        return self.chats[-1]

    @property
    def typed(self) -> str:
        return self.view.session.default_buffer.text

    def type(self, text: str) -> None:
        self.keys.send_text(text)

    def called(self, service: str, **data: Any) -> bool:
        return any(c == (service, data) for c in list(self.chat.calls))


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    with create_pipe_input() as keys:
        lines: list[str] = []
        term = Terminal(keys, TerminalView(lines.append, False, keys, DummyOutput()), lines)

        def connect(on_delivery: Any) -> FakeChat:
            term.chats.append(FakeChat(on_delivery))
            return term.chats[-1]

        def session() -> None:
            term.outcome.append(
                run(connect, "tcp://fake:1", "ana", input, print, FAST, view=term.view, keepalive=0)
            )

        term.thread = threading.Thread(target=session, daemon=True)
        term.thread.start()
        wait_for(lambda: term.chats and term.view.session.app.is_running, what="the prompt")
        yield term
        if term.thread.is_alive():
            term.type(CTRL_C + CTRL_D)  # clear what is typed, then leave
            term.thread.join(10)
        assert not term.thread.is_alive()


def test_status_bar_and_window_keys(terminal: Terminal) -> None:
    terminal.type("/join geral\r")
    wait_for(lambda: terminal.view.bar() == "1:status [2:#geral]", what="a window for #geral")
    terminal.type("/join dev\r")
    wait_for(lambda: terminal.view.bar() == "1:status 2:#geral [3:#dev]")
    terminal.chat.on_delivery(delivery(message="ana: are you there?"))
    wait_for(lambda: terminal.view.bar() == "1:status 2:#geral(1!) [3:#dev]", what="a mark")
    assert not any("are you there" in line for line in terminal.lines)  # not the current one
    terminal.type("half-typed" + ALT_2)
    wait_for(lambda: terminal.view.bar() == "1:status [2:#geral] 3:#dev", what="Alt-2")
    assert terminal.lines[-1].endswith("<bob> ana: are you there?")  # its buffer, redrawn
    wait_for(lambda: terminal.typed == "half-typed", what="the half-typed line kept")


def test_tab_completes_commands_channels_and_users(terminal: Terminal) -> None:
    terminal.type("/jo" + TAB)
    wait_for(lambda: terminal.typed == "/join", what="a command completed")
    terminal.type(" #ger" + TAB)
    wait_for(lambda: terminal.typed == "/join #geral", what="a channel completed")
    terminal.type("\r/msg anab" + TAB)  # `anabel` is in the users list fetched at login
    wait_for(lambda: terminal.typed == "/msg anabel", what="a user completed")
    terminal.type(" oi\r")
    wait_for(lambda: terminal.called("message", src="ana", dst="anabel", message="oi"))


def test_ctrl_c_clears_a_line_then_quits(terminal: Terminal) -> None:
    terminal.type("something half-typed")
    wait_for(lambda: terminal.typed == "something half-typed")
    terminal.type(CTRL_C)
    wait_for(lambda: terminal.typed == "", what="the line cleared")
    assert terminal.thread is not None and terminal.thread.is_alive()
    terminal.type("/who\r")
    wait_for(lambda: terminal.called("who", user="ana"))
    terminal.type(CTRL_C)
    terminal.thread.join(10)
    assert terminal.outcome == [True] and terminal.chat.closed


def test_ctrl_d_quits(terminal: Terminal) -> None:
    terminal.type(CTRL_D)
    assert terminal.thread is not None
    terminal.thread.join(10)
    assert terminal.outcome == [True] and terminal.chat.closed


def test_page_up_pages_back(terminal: Terminal) -> None:
    terminal.type("/join geral\r")
    wait_for(lambda: terminal.view.bar() == "1:status [2:#geral]")
    calls = len(terminal.chat.calls)
    terminal.type(PAGE_UP)
    wait_for(lambda: len(terminal.chat.calls) > calls, what="a history request")
    assert terminal.chat.calls[-1][0] == "history"


def test_a_paste_over_the_limit_is_refused_at_enter(terminal: Terminal) -> None:
    terminal.type("/join geral\r")
    wait_for(lambda: terminal.view.bar() == "1:status [2:#geral]")
    paste = "x" * (MAX_MESSAGE_CHARS + 1)
    terminal.type(f"\x1b[200~{paste}\x1b[201~\r")  # a bracketed paste, then Enter
    wait_for(lambda: terminal.typed == paste, what="the paste in the line")
    terminal.type("/who\r")  # typed after it: still the same refused line
    wait_for(lambda: terminal.typed.endswith("/who"), what="more typing")
    assert not any(c[0] in ("publish", "who") for c in terminal.chat.calls)
    terminal.type(CTRL_C + "short\r")
    wait_for(lambda: terminal.called("publish", user="ana", channel="geral", message="short"))


def test_nick_colours_are_stable_per_name() -> None:
    assert nick_colour("bob") == nick_colour("bob")
    assert len({nick_colour(f"user{i}") for i in range(50)}) > 5
    line = coloured("[12:00:00] #geral <bob> hi <ana>")
    assert "<" + f"\x1b[{nick_colour('bob')}mbob\x1b[0m" + ">" in line or "38;5" in line
    assert line.endswith("hi <ana>")  # only the author is coloured
    assert coloured("-- no messages yet") == "-- no messages yet"
