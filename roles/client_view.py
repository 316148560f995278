"""The terminal side of `bbs client`: a prompt_toolkit prompt with the windows' status bar
below it, Tab completion, nick colours and the keys of irssi/weechat habit.

Keys: Alt-1..Alt-9 (Alt-0: 10) switch windows, PageUp pages back (/history more), Tab
completes, Ctrl-C clears a half-typed line (on an empty line it quits, as Ctrl-D does).
A line longer than the protocol's message limit is refused at Enter, before it is echoed.
Accepted lines are erased from the screen: what you send is shown once, as it was sent.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from prompt_toolkit.validation import ValidationError, Validator

from roles import client_commands as cc

# 256-colour indices that read well on dark and light backgrounds
NICK_COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96, 166, 172, 37, 208)
NICK = re.compile(r"<([^<>\s]+)>")
COMMANDS = tuple(cc.USAGE)


def nick_colour(name: str) -> int:
    """The same colour for a name in every run and every client (crc32, not hash())."""
    return NICK_COLOURS[zlib.crc32(name.encode()) % len(NICK_COLOURS)]


def coloured(line: str) -> str:
    """`line` with its `<nick>` in that nick's colour (ANSI; the text itself was cleaned of
    escape sequences by client_commands.clean)."""
    match = NICK.search(line)
    if match is None:
        return line
    name = match.group(1)
    code = nick_colour(name)
    sgr = f"\x1b[{code}m" if code < 100 else f"\x1b[38;5;{code}m"
    return f"{line[: match.start(1)]}{sgr}{name}\x1b[0m{line[match.end(1) :]}"


class NameCompleter(Completer):
    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self.names = names

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        word = before.split(" ")[-1]
        for candidate in cc.completions(before, COMMANDS, self.names()):
            yield Completion(candidate, start_position=-len(word))


class PasteLimit(Validator):
    def validate(self, document: Document) -> None:
        if problem := cc.too_long(document.text):
            raise ValidationError(len(document.text), f"{problem} (Ctrl-C clears the line)")


class TerminalView:
    def __init__(
        self,
        write: Callable[[str], None],
        colour: bool = True,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        """`write` prints a line above the prompt (print under patch_stdout)."""
        self.write, self.colour = write, colour
        self.bar: Callable[[], str] = lambda: ""
        self.names: Callable[[], Iterable[str]] = lambda: ()
        self.stash = ""  # a half-typed line kept across a window switch
        self.session: PromptSession[str] = PromptSession(
            input=input,
            output=output,
            key_bindings=self._keys(),
            completer=NameCompleter(lambda: self.names()),
            complete_while_typing=False,
            validator=PasteLimit(),
            validate_while_typing=False,
            bottom_toolbar=lambda: self.bar(),
            erase_when_done=True,
        )

    def attach(self, bar: Callable[[], str], names: Callable[[], Iterable[str]]) -> None:
        self.bar, self.names = bar, names

    def _keys(self) -> KeyBindings:
        keys = KeyBindings()

        def command(line: str) -> Callable[[KeyPressEvent], None]:
            def run(event: KeyPressEvent) -> None:
                self.stash = event.app.current_buffer.text
                event.app.exit(result=line)

            return run

        for digit in "1234567890":
            keys.add("escape", digit)(command(f"/window {int(digit) or 10}"))
        keys.add("pageup")(command("/history more"))

        @keys.add("c-c")
        def _interrupt(event: KeyPressEvent) -> None:
            buffer = event.app.current_buffer
            if buffer.text:
                buffer.reset()
            else:
                event.app.exit(exception=KeyboardInterrupt())

        return keys

    def read(self, prompt: str) -> str:
        default, self.stash = self.stash, ""
        return self.session.prompt(prompt, default=default)

    def show(self, line: str) -> None:
        self.write(coloured(line) if self.colour else line)

    def clear(self) -> None:
        output = self.session.output
        output.erase_screen()
        output.cursor_goto(0, 0)
        output.flush()

    def invalidate(self) -> None:
        """Redraw the status bar (thread-safe: deliveries call it)."""
        app: Any = self.session.app
        if app.is_running:
            app.invalidate()
