"""What the interactive client understands and shows, as pure functions (no terminal, no I/O):
a typed line becomes a Command; replies, deliveries and history entries become text lines."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from transport.fields import MAX_MESSAGE_CHARS
from transport.numbers import wire_timestamp
from transport.protocol import Delivery

HISTORY_LIMIT = 20

HELP = """\
commands:
  /join CHANNEL            join a channel (created if new), make it current, show its last posts
  /leave [CHANNEL]         leave the current channel (or CHANNEL); in a conversation's
                           window, close it
  /channels                list the channels
  /users                   list the users (* online)
  /who                     who is online now (a request in the last 30 s)
  /msg USER TEXT           send a private message to USER
  /history [CHANNEL|USER]  recent posts of a channel (default: the current window),
                           or your private conversation with USER (#name forces a channel)
  /history more            the page before the last one shown (also PageUp)
  /window N                switch to window N (also Alt-N; the bar below lists them)
  /register                claim your name with a password (then only you can use it,
                           and your private messages travel sealed to your key)
  /password                change the password of your claimed name
  /help                    this help
  /quit                    leave the chat (also Ctrl-D, or Ctrl-C on an empty line)
  TEXT                     post TEXT to the current window's channel or person
                           (//TEXT sends a line starting with /); Tab completes"""


# ---- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Join:
    channel: str


@dataclass(frozen=True)
class Leave:
    channel: str | None = None


@dataclass(frozen=True)
class ListChannels:
    pass


@dataclass(frozen=True)
class ListUsers:
    pass


@dataclass(frozen=True)
class Msg:
    user: str
    text: str


@dataclass(frozen=True)
class History:
    target: str | None = None
    more: bool = False  # the page before the last one shown


@dataclass(frozen=True)
class Who:
    pass


@dataclass(frozen=True)
class SwitchWindow:
    number: int


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Post:
    text: str


@dataclass(frozen=True)
class Register:
    pass


@dataclass(frozen=True)
class ChangePassword:
    pass


@dataclass(frozen=True)
class Invalid:
    error: str


Command = (
    Join
    | Leave
    | ListChannels
    | ListUsers
    | Msg
    | History
    | Who
    | SwitchWindow
    | Help
    | Quit
    | Post
    | Register
    | ChangePassword
    | Invalid
)

USAGE = {
    "join": "/join CHANNEL",
    "leave": "/leave [CHANNEL]",
    "channels": "/channels",
    "users": "/users",
    "msg": "/msg USER TEXT",
    "history": "/history [CHANNEL|USER]",
    "who": "/who",
    "window": "/window N",
    "register": "/register",
    "password": "/password",
    "help": "/help",
    "quit": "/quit",
}
ALIASES = {
    "j": "join",
    "part": "leave",
    "list": "channels",
    "names": "users",
    "w": "window",
    "win": "window",
    "m": "msg",
    "query": "msg",
    "h": "help",
    "q": "quit",
    "exit": "quit",
}


def _channel(word: str) -> str:
    # IRC habit: "/join #geral" means the channel "geral".
    return word[1:] if word.startswith("#") and len(word) > 1 else word


def parse(line: str) -> Command | None:
    """The command a typed line stands for; None for a blank line."""
    text = line.strip()
    if not text:
        return None
    if not text.startswith("/"):
        return Post(text)
    if text.startswith("//"):
        return Post(text[1:])
    head, _, rest = text[1:].partition(" ")
    name = ALIASES.get(head.lower(), head.lower())
    args = rest.split()
    if name not in USAGE:
        shown = f"/{head}" if head else "/"
        return Invalid(f"unknown command {shown}: type /help for the list")
    if name == "msg":
        user, _, message = rest.strip().partition(" ")
        if not user or not message.strip():
            return Invalid(f"usage: {USAGE[name]}")
        return Msg(user, message.strip())
    arity = {"join": (1, 1), "leave": (0, 1), "history": (0, 1), "window": (1, 1)}.get(name, (0, 0))
    if not arity[0] <= len(args) <= arity[1]:
        return Invalid(f"usage: {USAGE[name]}")
    if name == "join":
        return Join(_channel(args[0]))
    if name == "leave":
        return Leave(_channel(args[0]) if args else None)
    if name == "history":
        if args == ["more"]:
            return History(more=True)
        return History(args[0] if args else None)
    if name == "window":
        if not args[0].isdigit():
            return Invalid(f"usage: {USAGE[name]}")
        return SwitchWindow(int(args[0]))
    simple: dict[str, type[Command]] = {
        "channels": ListChannels,
        "users": ListUsers,
        "who": Who,
        "help": Help,
        "quit": Quit,
        "register": Register,
        "password": ChangePassword,
    }
    return simple[name]()


def name_problem(name: str) -> str | None:
    """Why a user name typed at the prompt cannot be used (the server checks again)."""
    if not name:
        return "the name cannot be empty"
    if name.startswith("/"):
        return "a name cannot start with / (that is how commands start)"
    if any(unicodedata.category(ch)[0] in "CZ" for ch in name):
        return "the name cannot contain spaces or control characters"
    return None


def history_query(
    target: str | None, me: str, current: str | None, channels: Collection[str]
) -> dict[str, Any] | str:
    """Request data of the `history` service for /history, or why it cannot be asked.

    A bare name is a channel when such a channel exists, else a user; `#name` is a channel.
    """
    if target is None:
        if current is None:
            return "you are in no channel: use /history CHANNEL, /history USER or /join CHANNEL"
        return {"channel": current, "limit": HISTORY_LIMIT}
    if target.startswith("#") and len(target) > 1:
        return {"channel": target[1:], "limit": HISTORY_LIMIT}
    if target in channels:
        return {"channel": target, "limit": HISTORY_LIMIT}
    return {"user": me, "peer": target, "limit": HISTORY_LIMIT}


# ---- replies ------------------------------------------------------------------------------


ERROR_STATUSES = frozenset({"erro", "error", "fail", "failed", "failure"})
SUCCESS_STATUSES = frozenset({"ok", "sucesso", "success"})
# The key a successful reply of each listing service carries (servers that omit `status`).
PAYLOADS = {"users": ("users",), "channels": ("channels", "users"), "history": ("messages",)}


def is_error(reply: Mapping[str, Any]) -> bool:
    return str(reply.get("status", "")).lower() in ERROR_STATUSES


def failure(reply: Mapping[str, Any], service: str) -> str | None:
    """Why a reply to `service` is not a success, or None when it is. A reply without a
    status succeeds only where it carries what the service returns (a `users` list, ...):
    an empty map from a server that answered in some other shape is not "no messages"."""
    status = str(reply.get("status", "")).lower()
    if status in ERROR_STATUSES:
        return error_text(reply)
    wanted = PAYLOADS.get(service, ())
    if wanted and not any(isinstance(reply.get(k), list) for k in wanted):
        return f"the server's reply has no {'/'.join(wanted)} list"
    if status in SUCCESS_STATUSES or wanted:
        return None
    return "the server's reply has no status" if not status else f"unexpected status '{status}'"


def error_text(reply: Mapping[str, Any]) -> str:
    text = reply.get("description") or reply.get("message") or "the server refused without a reason"
    return clean(str(text))


def names_of(reply: Mapping[str, Any], key: str) -> list[str]:
    """A list of names from a `users` or `channels` reply (channels also come under `users`)."""
    for name in (key, "users"):
        value = reply.get(name)
        if isinstance(value, list):
            return sorted(clean(str(v)) for v in value)
    return []


def format_names(kind: str, names: list[str], online: Collection[str] = ()) -> str:
    """`online`: names to mark with `*` (and a note saying what the mark means)."""
    if not names:
        return f"no {kind} yet"
    shown = ", ".join(f"{n}*" if n in online else n for n in names)
    note = "  (* online)" if any(n in online for n in names) else ""
    return f"{kind} ({len(names)}): {shown}{note}"


def online_of(reply: Mapping[str, Any]) -> list[str]:
    """The `online` list of a `who` or `users` reply (ours; other servers have none)."""
    value = reply.get("online")
    return sorted(clean(str(v)) for v in value) if isinstance(value, list) else []


def too_long(text: str) -> str | None:
    """Why `text` cannot be sent (a paste over the protocol's message limit)."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return None
    return f"not sent: {len(text)} characters, the limit is {MAX_MESSAGE_CHARS}"


def mentions(text: str, me: str) -> bool:
    """Whether `text` names `me` as a word (irssi's highlight)."""
    return bool(me) and re.search(rf"(?<![\w-]){re.escape(me)}(?![\w-])", text) is not None


def completions(before: str, commands: Iterable[str], names: Iterable[str]) -> list[str]:
    """What Tab may put in place of the word before the cursor: a command name at the start
    of a `/` line, else a channel (`#` prefix) or user name (`names`)."""
    word = before.split(" ")[-1]
    if before.startswith("/") and " " not in before:
        return sorted(f"/{c}" for c in commands if f"/{c}".startswith(word))
    if not word:
        return []
    return sorted({n for n in names if n.startswith(word) and n != word})


# ---- what arrives -------------------------------------------------------------------------


def clean(text: str) -> str:
    """Text from the network made safe for a terminal: no escape sequences, no control
    characters (a peer could otherwise move the cursor or recolour the screen)."""
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else "\ufffd" for ch in text
    )


def clock_time(timestamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def audience(delivery: Delivery, me: str, joined: Collection[str]) -> str | None:
    """How to show a delivery: "channel", "private", or None when it is not for this user.

    Topics of channels and users share one namespace, so a private message to a user named
    like a joined channel is not ours; a peer's payload without `type` or `service` that
    came on our own topic is a private message.
    """
    mine = delivery.topic in (me, f"user:{me}")  # one team publishes them on `user:NAME`
    if delivery.kind == "private" or (delivery.dst and not delivery.channel):
        return "private" if delivery.dst == me or (not delivery.dst and mine) else None
    if (delivery.channel or delivery.topic) in joined:
        return "channel"
    if mine and not delivery.channel:
        return "private"
    return None


def format_delivery(delivery: Delivery, kind: str | None = None) -> str:
    stamp = clock_time(delivery.timestamp)
    who = clean(delivery.user or "?")
    text = clean(delivery.message)
    if (kind or delivery.kind) == "private":
        return f"[{stamp}] *private* <{who}> {text}"
    return f"[{stamp}] #{clean(delivery.channel or delivery.topic)} <{who}> {text}"


def format_sent_private(dst: str, me: str, text: str, timestamp: float) -> str:
    return f"[{clock_time(timestamp)}] *private -> {clean(dst)}* <{clean(me)}> {clean(text)}"


def format_entry(entry: Mapping[str, Any], me: str) -> str:
    """One stored message of a `history` reply."""
    stamp = clock_time(wire_timestamp(entry.get("timestamp")))
    who = str(entry.get("user") or entry.get("src") or entry.get("from") or "?")
    text = str(entry.get("message", ""))
    channel = entry.get("channel")
    if channel:
        return f"[{stamp}] #{clean(str(channel))} <{clean(who)}> {clean(text)}"
    dst = str(entry.get("dst") or entry.get("to") or "")
    if who == me and dst and dst != me:
        return format_sent_private(dst, me, text, wire_timestamp(entry.get("timestamp")))
    return f"[{stamp}] *private* <{clean(who)}> {clean(text)}"


def entries_of(reply: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = reply.get("messages")
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, Mapping)]


def history_title(query: Mapping[str, Any], count: int, older: bool = False) -> str:
    """`older`: a page before one already shown (/history more)."""
    if "channel" in query:
        where = f"#{clean(str(query['channel']))}"
    else:
        where = f"your conversation with {clean(str(query.get('peer')))}"
    if not count:
        return f"-- no older messages in {where}" if older else f"-- no messages yet in {where}"
    plural = "s" if count != 1 else ""
    if older:
        return f"-- {count} older message{plural} of {where} (/history more: before these)"
    return f"-- last {count} message{plural} of {where}"


def entry_key(channel: str, user: str, message: str, clock: int) -> tuple[str, str, str, int]:
    """Identity of a post, shared by its live delivery and its history entry (a post that
    arrives live while a channel's history is being fetched is shown once)."""
    return (channel, user, message, clock)
