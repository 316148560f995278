"""`bbs client`: the interactive terminal chat.

`Shell` runs commands against a ChatClient and writes text lines through `out`; it knows no
terminal, so tests drive it with a fake client. `main` wires it to prompt_toolkit, whose
patch_stdout lets deliveries appear above the prompt while the user types.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import getpass
import signal
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from prompt_toolkit.patch_stdout import patch_stdout

from actors.base import Node
from actors.session import Unreachable
from config.timing import DEFAULT_TIMING, Timing
from roles import client_commands as cc
from roles.chat_client import ChatClient
from roles.client_state import ClientState, Memory
from roles.client_view import TerminalView
from roles.client_windows import Windows, channel_key
from roles.keyring import DEFAULT_HOME
from roles.secure import client_curve
from transport.endpoints import literal_ip
from transport.numbers import wire_clock, wire_timestamp
from transport.protocol import Delivery, is_claimed_refusal, login_accepted

LOGIN_ATTEMPTS = 3
SEEN_MAX = 1000
KEEPALIVE = 20.0  # seconds between `who` requests: presence lasts 30 s on the servers
AWAY_LIMIT = 50  # messages of one conversation read at login ("50+ ... while you were away")


class ChatLike(Protocol):
    """What the shell needs of roles.chat_client.ChatClient."""

    def call(self, service: str, **data: Any) -> dict[str, Any]: ...

    def subscribe(self, topic: str, on: bool = True) -> None: ...

    def login(self, user: str, password: str = "", new_password: str = "") -> dict[str, Any]: ...

    def close(self) -> None: ...


Connect = Callable[[Callable[[Delivery], None]], ChatLike]
Out = Callable[[str], None]
Read = Callable[[str], str]


class Shell:
    def __init__(
        self,
        connect: Connect,
        broker: str,
        out: Out,
        timing: Timing = DEFAULT_TIMING,
        secret: Read = getpass.getpass,
        password: str = "",
        *,
        state: ClientState | None = None,
        interactive: bool = True,
        clear: Callable[[], None] = lambda: None,
        changed: Callable[[], None] = lambda: None,
        keepalive: float = KEEPALIVE,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`secret` reads a password without echo; `password` (from --password-file) is
        tried first, and claims the name if it is free. `state` remembers channels and
        conversations between runs; with `interactive` off (piped input) a refused login
        ends the session; `clear` empties the screen (a window switch redraws), `changed`
        says the status bar may have changed; a `who` keep-alive goes every `keepalive` s."""
        self.broker, self.out, self.timing = broker, out, timing
        self.secret, self.password = secret, password
        self.state, self.interactive = state or ClientState(None), interactive
        self.clear, self.changed, self.keepalive, self.now = clear, changed, keepalive, now
        self.user = ""
        self.memory = Memory()
        self.joined: tuple[str, ...] = ()  # replaced, never mutated: deliveries read it
        self.windows = Windows(now)
        self.users: set[str] = set()  # names Tab completes
        self.channels: set[str] = set()
        self._pages: dict[str, tuple[dict[str, Any], int]] = {}  # window -> last page shown
        self._own: OrderedDict[tuple[str, str], str] = OrderedDict()  # posts on their way
        self._seen: OrderedDict[tuple[str, str, str, int], None] = OrderedDict()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.client = connect(self.deliver)

    @property
    def current(self) -> str | None:
        """The channel of the current window (None in the status window or a conversation)."""
        return self.windows.active.channel

    # ---- showing lines ------------------------------------------------------------------

    def _show(self, key: str, line: str, timestamp: float | None = None, **how: bool) -> None:
        """A line for window `key`: on screen if that window is current, else counted
        (piped input has no screen to switch: every line is written)."""
        with self._lock:
            shown = self.windows.add(key, line, timestamp, **how)
            for text in shown if shown or self.interactive else [line]:  # a pipe shows all
                self.out(text)
        self.changed()

    def say(self, line: str) -> None:
        """Command feedback: in the current window."""
        self._show(self.windows.active.key, line)

    def status_bar(self) -> str:
        with self._lock:
            return self.windows.status_bar()

    def _know(self, kind: str, names: list[str]) -> None:
        """Remember `users` or `channels` names for Tab (the prompt reads them meanwhile)."""
        with self._lock:
            (self.users if kind == "users" else self.channels).update(names)

    def names(self) -> list[str]:
        """What Tab completes after a command or in a line: users and #channels."""
        with self._lock:
            return [*self.users, *(f"#{c}" for c in self.channels | set(self.joined))]

    # ---- what arrives (session actor's thread) ------------------------------------------

    def deliver(self, d: Delivery) -> None:
        kind = cc.audience(d, self.user, self.joined)
        if kind is None:
            return
        line = cc.format_delivery(d, kind)
        if d.user:
            self._know("users", [d.user])
        if kind == "private":
            peer = d.user or self.user
            self._remember_peer(peer, d.clock)
            self._show(peer, line, d.timestamp, mention=True)
            return
        channel = d.channel or d.topic
        key = cc.entry_key(channel, d.user, d.message, d.clock)
        if not self._first_sight(key) or not self._own_post_arrived(channel, d):
            return
        self._show(
            channel_key(channel), line, d.timestamp, mention=cc.mentions(d.message, self.user)
        )

    def _own_post_arrived(self, channel: str, d: Delivery) -> bool:
        """Whether to show a delivery: one of our own posts is shown once, whichever of its
        delivery and its OK reply comes first."""
        if d.user != self.user:
            return True
        with self._lock:
            state = self._own.get((channel, d.message))
            if state == "echoed":
                del self._own[(channel, d.message)]
                return False
            if state == "sent":
                self._own[(channel, d.message)] = "delivered"
            return True

    def _first_sight(self, key: tuple[str, str, str, int]) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
            return True

    def _remember_peer(self, peer: str, clock: int = 0) -> None:
        with self._lock:
            peers = [p for p in self.memory.peers if p != peer]
            self.memory.peers = [*peers, peer]
            self.memory.seen_clock = max(self.memory.seen_clock, clock)
            self.state.save(self.user, self.memory)

    # ---- requests -----------------------------------------------------------------------

    def _ask(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """The reply, or None when the cluster did not answer after every retry."""
        notice = threading.Timer(
            self.timing.request_timeout,
            self.say,
            [f"no answer from the cluster at {self.broker}, retrying..."],
        )
        notice.daemon = True
        notice.start()
        try:
            return call()
        except (Unreachable, TimeoutError):
            return None
        finally:
            notice.cancel()

    def _request(self, what: str, service: str, **data: Any) -> dict[str, Any] | None:
        reply = self._ask(lambda: self.client.call(service, **data))
        if reply is None:
            self.say(f"cluster unreachable at {self.broker}: giving up on {what}")
        return reply

    def _query(self, what: str, service: str, **data: Any) -> dict[str, Any] | None:
        """The reply when it is a success; else None, and the reason said."""
        reply = self._request(what, service, **data)
        if reply is None:
            return None
        if problem := cc.failure(reply, service):
            self.say(f"{what} failed: {problem}")
            return None
        return reply

    # ---- login --------------------------------------------------------------------------

    def _log_in(self, name: str, password: str) -> Callable[[], dict[str, Any]]:
        if password:
            return functools.partial(self.client.login, name, password)
        return functools.partial(self.client.login, name)

    def login(self, read: Read, name: str = "") -> bool:
        """Ask for a name (and the password of a claimed one) until the cluster accepts
        them; False if it stays unreachable, or (piped input) once it refused."""
        failures = 0
        password = self.password
        while True:
            if not name:
                name = read("your name: ").strip()
            problem = cc.name_problem(name)
            if problem:
                self.say(problem)
                if not self.interactive:
                    return False
                name = ""
                continue
            reply = self._ask(self._log_in(name, password))
            if reply is None:
                failures += 1
                if failures >= LOGIN_ATTEMPTS:
                    self.say(f"cluster unreachable at {self.broker}: giving up")
                    return False
                self.say(
                    f"cluster unreachable at {self.broker}, retrying "
                    f"({failures}/{LOGIN_ATTEMPTS - 1})..."
                )
                continue
            if login_accepted(reply):
                self.user = name
                self.say(f"logged in as {name}. /join CHANNEL to start, /help for commands.")
                self._settle_in()
                return True
            if is_claimed_refusal(reply) and not password:
                password = self.secret(f"{name} is a claimed name; its password: ")
                continue
            self.say(f"login as {name} refused: {cc.failure(reply, 'login') or reply}")
            if not self.interactive:  # the next piped line is a command, not a name
                return False
            name, password = "", self.password

    def _settle_in(self) -> None:
        """After login: names for Tab, the channels of the last run, what came while away,
        and the keep-alive that keeps us in `/who`."""
        self._know("users", [self.user])
        self.memory = self.state.load(self.user)
        for service in ("users", "channels"):
            reply = self._ask(functools.partial(self.client.call, service))
            if reply is not None and not cc.failure(reply, service):
                self._know(service, cc.names_of(reply, service))
        for channel in self.memory.channels:
            self._join(channel, switch=False)
        if self.joined:
            back = ", ".join(f"#{c}" for c in self.joined)
            self.say(f"back in {back}: Alt-N or /window N shows window N (the bar below)")
        self._tell_what_came_while_away()
        if self.keepalive > 0:
            threading.Thread(target=self._keep_alive, name="keepalive", daemon=True).start()

    def _tell_what_came_while_away(self) -> None:
        since, newest = self.memory.seen_clock, self.memory.seen_clock
        for peer in list(self.memory.peers):
            reply = self._ask(
                functools.partial(
                    self.client.call, "history", user=self.user, peer=peer, limit=AWAY_LIMIT
                )
            )
            if reply is None or cc.failure(reply, "history"):
                continue
            clocks = [
                wire_clock(e.get("clock"))
                for e in cc.entries_of(reply)
                if str(e.get("user") or e.get("src") or "") == peer
            ]
            count = sum(c > since for c in clocks)
            newest = max([newest, *clocks])
            if count:
                many = f"{count}{'+' if count >= AWAY_LIMIT else ''}"
                s = "s" if count != 1 else ""
                self.say(
                    f"{many} private message{s} from {peer} while you were away — /history {peer}"
                )
        with self._lock:
            self.memory.seen_clock = newest
            self.state.save(self.user, self.memory)

    def _keep_alive(self) -> None:
        """Quietly: a lost keep-alive says nothing (the next command will, if it matters)."""
        while not self._stop.wait(self.keepalive):
            with contextlib.suppress(Unreachable, TimeoutError):
                self.client.call("who", user=self.user)

    def prompt(self) -> str:
        window = self.windows.active
        return f"{self.user}@{window.key}> " if window.key else f"{self.user}> "

    # ---- commands -----------------------------------------------------------------------

    def handle_line(self, line: str) -> bool:
        """Run one typed line; False when the user quits."""
        command = cc.parse(line)
        return True if command is None else self.handle(command)

    def handle(self, command: cc.Command) -> bool:
        match command:
            case cc.Quit():
                return False
            case cc.Help():
                self.say(cc.HELP)
            case cc.Invalid(error=error):
                self.say(error)
            case cc.Join(channel=channel):
                self._join(channel)
            case cc.Leave(channel=channel):
                self._leave(channel)
            case cc.ListChannels():
                self._list("channels")
            case cc.ListUsers():
                self._list("users")
            case cc.Who():
                self._who()
            case cc.SwitchWindow(number=number):
                self._switch(number)
            case cc.Msg(user=user, text=text):
                self._msg(user, text)
            case cc.History(target=target, more=more):
                self._history(target, more)
            case cc.Post(text=text):
                self._post(text)
            case cc.Register():
                self._register()
            case cc.ChangePassword():
                self._change_password()
        return True

    def _register(self) -> None:
        password = self.secret(f"a password for {self.user}: ")
        if not password:
            self.say("no password: the name stays open to anyone")
            return
        if self._account_call(
            "/register", functools.partial(self.client.login, self.user, password)
        ):
            self.say(f"{self.user} is yours: log in with its password from now on")

    def _change_password(self) -> None:
        old = self.secret(f"the present password of {self.user}: ")
        new = self.secret("the new password: ") if old else ""
        if not new:
            self.say("no password: nothing changed")
            return
        call = functools.partial(self.client.login, self.user, old, new)
        if self._account_call("/password", call):
            self.say("password changed: your other sessions must log in again")

    def _account_call(self, what: str, call: Callable[[], dict[str, Any]]) -> bool:
        reply = self._ask(call)
        if reply is None:
            self.say(f"cluster unreachable at {self.broker}: giving up on {what}")
            return False
        if problem := cc.failure(reply, "login"):
            self.say(f"{what} failed: {problem}")
        return not problem

    def _switch(self, number: int) -> None:
        with self._lock:
            window = self.windows.switch(number)
            if window is not None:
                self.clear()
                for line in window.lines:
                    self.out(line)
        if window is None:
            self.say(f"no window {number}: the bar below lists them")
        self.changed()

    def _join(self, channel: str, switch: bool = True) -> None:
        index = self.windows.find(channel_key(channel))
        if index is not None:  # already joined: just show it
            self._switch(index + 1)
            return
        reply = self._request(f"/join {channel}", "channel", channel=channel, user=self.user)
        if reply is None:
            return
        if problem := cc.failure(reply, "channel"):
            # "erro" also means "exists already", which is fine: tell it from real refusals.
            listing = self._request(f"/join {channel}", "channels")
            if listing is None:
                return
            if channel not in cc.names_of(listing, "channels"):
                self.say(f"cannot join #{channel}: {problem}")
                return
        self.client.subscribe(channel)
        with self._lock:
            self.joined = (*(c for c in self.joined if c != channel), channel)
            self.channels.add(channel)
            self.memory.channels = list(self.joined)
            self.state.save(self.user, self.memory)
            self.windows.open(channel_key(channel))
        if switch:
            self._switch(len(self.windows.windows))
            self.say(f"joined #{channel}: what you type now goes there")
        query = {"channel": channel, "limit": cc.HISTORY_LIMIT}
        self._show_history("/join", query, channel_key(channel), dedup=True)

    def _leave(self, channel: str | None) -> None:
        peer = self.windows.active.peer
        if channel is None and peer is not None:  # a conversation's window: just close it
            self.windows.close(peer)
            self._switch(self.windows.current + 1)
            return
        target = channel or self.current
        if target is None or target not in self.joined:
            self.say("you are in no channel" if target is None else f"you are not in #{target}")
            return
        if target != self.user:  # that topic also carries our private messages
            self.client.subscribe(target, on=False)
        with self._lock:
            self.joined = tuple(c for c in self.joined if c != target)
            self.memory.channels = list(self.joined)
            self.state.save(self.user, self.memory)
            self.windows.close(channel_key(target))
            self._pages.pop(channel_key(target), None)
        self._switch(self.windows.current + 1)
        now = f"; current channel: #{self.current}" if self.current else ""
        self.say(f"left #{target}{now}")

    def _list(self, kind: str) -> None:
        reply = self._query(f"/{kind}", kind)
        if reply is None:
            return
        names = cc.names_of(reply, kind)
        self._know(kind, names)
        self.say(cc.format_names(kind, names, cc.online_of(reply)))

    def _who(self) -> None:
        reply = self._request("/who", "who", user=self.user)
        if reply is None:
            return
        if cc.is_error(reply) or not isinstance(reply.get("online"), list):
            reason = cc.error_text(reply) if cc.is_error(reply) else "no online list"
            self.say(f"/who failed: {reason} (this server may not know who is online)")
            return
        online = cc.online_of(reply)
        self._know("users", online)
        self.say(cc.format_names("online", online))

    def _msg(self, user: str, text: str) -> None:
        if problem := cc.too_long(text):
            self.say(problem)
            return
        reply = self._request(f"/msg {user}", "message", src=self.user, dst=user, message=text)
        if reply is None:
            return
        if problem := cc.failure(reply, "message"):
            self.say(f"message to {user} not sent: {problem}")
            return
        self._remember_peer(user)
        if user != self.user:  # a message to oneself comes back as a delivery
            line = cc.format_sent_private(user, self.user, text, self.now())
            self._show(user, line, self.now(), unread=False)
            if self.windows.active.key != user:
                self.say(line)

    def _history(self, target: str | None, more: bool = False) -> None:
        key = self.windows.active.key
        if more:
            page = self._pages.get(key)
            if page is not None:
                query, oldest = page
                self._show_history("/history more", {**query, "before_clock": oldest}, key)
                return
        channels: list[str] = []
        if target and not target.startswith("#") and target not in self.joined:
            listing = self._request("/history", "channels")
            if listing is None:
                return
            channels = cc.names_of(listing, "channels")
        if target is None and self.windows.active.peer:
            target = self.windows.active.peer
        query = cc.history_query(target, self.user, self.current, [*self.joined, *channels])
        if isinstance(query, str):
            self.say(query)
            return
        self._show_history("/history", query, key)

    def _show_history(
        self, what: str, query: dict[str, Any], key: str, dedup: bool = False
    ) -> None:
        reply = self._request(what, "history", **query)
        if reply is None:
            return
        if problem := cc.failure(reply, "history"):
            self.say(f"no history: {problem}")
            return
        entries = cc.entries_of(reply)
        older = "before_clock" in query
        self._show(key, cc.history_title(query, len(entries), older), unread=False)
        clocks = [wire_clock(e.get("clock")) for e in entries]
        if entries and min(clocks) > 0:
            self._pages[key] = (
                {k: v for k, v in query.items() if k != "before_clock"},
                min(clocks),
            )
        for entry, clock in zip(entries, clocks, strict=True):
            if dedup:
                key_of = cc.entry_key(
                    str(entry.get("channel", "")),
                    str(entry.get("user") or entry.get("src") or ""),
                    str(entry.get("message", "")),
                    clock,
                )
                if not self._first_sight(key_of):
                    continue
            stamp = wire_timestamp(entry.get("timestamp"))
            self._show(key, cc.format_entry(entry, self.user), stamp, unread=False)

    def _post(self, text: str) -> None:
        peer = self.windows.active.peer
        if peer is not None:
            self._msg(peer, text)
            return
        if self.current is None:
            self.say("you are in no channel: /join CHANNEL first (/channels lists them)")
            return
        if problem := cc.too_long(text):
            self.say(problem)
            return
        channel = self.current
        with self._lock:
            self._own[(channel, text)] = "sent"
            while len(self._own) > SEEN_MAX:
                self._own.popitem(last=False)
        reply = self._request(
            f"posting to #{channel}", "publish", user=self.user, channel=channel, message=text
        )
        problem = "no answer" if reply is None else cc.failure(reply, "publish")
        with self._lock:
            delivered = self._own.get((channel, text)) == "delivered"
            if problem or delivered:
                self._own.pop((channel, text), None)
            else:
                self._own[(channel, text)] = "echoed"  # its delivery, when it comes, is dropped
        if reply is not None and problem:
            self.say(f"not posted to #{channel}: {problem}")
        elif not problem and not delivered:
            entry = {
                "user": self.user,
                "channel": channel,
                "message": text,
                "timestamp": self.now(),
            }
            self._show(channel_key(channel), cc.format_entry(entry, self.user), self.now())

    def close(self) -> None:
        self._stop.set()
        self.client.close()


def run(
    connect: Connect,
    broker: str,
    user: str,
    read: Read,
    out: Out,
    timing: Timing = DEFAULT_TIMING,
    password: str = "",
    view: TerminalView | None = None,
    **shell: Any,
) -> bool:
    """The whole session: login, then one command per line until /quit, Ctrl-D or Ctrl-C.
    False when it never logged in (the cluster stayed unreachable, or refused piped input).
    `view`: the terminal (it reads and shows instead of `read` and `out`); `shell`: Shell's
    keyword options."""
    if view is not None:
        read, out = view.read, view.show
        shell = {"clear": view.clear, "changed": view.invalidate, **shell}
    session = Shell(connect, broker, out, timing, password=password, **shell)
    if view is not None:
        view.attach(session.status_bar, session.names)
    logged_in = False
    try:
        logged_in = session.login(read, user)
        if logged_in:
            while session.handle_line(read(session.prompt())):
                pass
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        out("bye")
        session.close()
    return logged_in


def unresolved(endpoints: dict[str, str]) -> str | None:
    """What to say when the host of an endpoint (`--option` -> endpoint) does not resolve:
    the compose names (`broker`, `proxy`) exist only inside compose's network."""
    missing = []
    for option, endpoint in endpoints.items():
        host = endpoint.partition("://")[2].rpartition(":")[0].strip("[]")
        if not host or host == "*" or literal_ip(host):
            continue
        try:
            socket.getaddrinfo(host, None)
        except (socket.gaierror, UnicodeError):
            missing.append(f"--{option} {endpoint}")
    if not missing:
        return None
    local = " ".join(
        f"--{option} tcp://127.0.0.1:{endpoint.rpartition(':')[2]}"
        for option, endpoint in endpoints.items()
    )
    return (
        f"cannot resolve the host of {', '.join(missing)} (compose names resolve only inside "
        f"compose's network). With `bbs up` on this machine: bbs client {local}"
    )


def _read_plain(_prompt: str) -> str:
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, a closed session) ends like Ctrl-C


def main(ns: argparse.Namespace, node: Node) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    if problem := unresolved({"broker": ns.broker, "proxy-sub": ns.proxy_sub}):
        print(problem, file=sys.stderr, flush=True)
        sys.exit(2)

    keys_home = Path(ns.keys_home) if ns.keys_home else DEFAULT_HOME
    password = Path(ns.password_file).read_text().strip() if ns.password_file else ""
    curve = client_curve(ns.broker, ns.server_key, ns.keys)

    def connect(on_delivery: Callable[[Delivery], None]) -> ChatLike:
        return ChatClient(
            ns.broker, ns.proxy_sub, on_delivery, node=node, keys_home=keys_home, curve=curve
        )

    out = functools.partial(print, flush=True)  # resolves sys.stdout (patched) at each call
    state = ClientState(keys_home)
    user = ns.user or ""
    if sys.stdin.isatty() and sys.stdout.isatty():
        with patch_stdout(raw=True):  # raw: our nick colours pass, as ANSI
            view = TerminalView(out)
            logged_in = run(
                connect, ns.broker, user, out, out, password=password, view=view, state=state
            )
    else:  # a pipe: one command per line (scripts, tests)
        logged_in = run(
            connect,
            ns.broker,
            user,
            _read_plain,
            out,
            password=password,
            state=state,
            interactive=False,
        )
    if not logged_in:
        sys.exit(1)
