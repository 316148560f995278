"""The bot: a user that keeps posting 10 messages at a time, to its own channel if it was
given one (`bbs up` gives each bot its own), else to a random channel."""

from __future__ import annotations

import random
import string
import threading

import structlog

from roles.chat_client import ChatClient, Delivery, Unreachable

log = structlog.get_logger()
BURST = 10
LOGIN_TRIES = 5
WORDS = ("ola", "mundo", "zeromq", "pykka", "replica", "lamport", "berkeley", "bully", "chat")


def random_name(prefix: str = "bot") -> str:
    return prefix + "-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=6))


def on_delivery(d: Delivery) -> None:
    log.info(
        "message_received", kind=d.kind, topic=d.topic, user=d.user, text=d.message, clock=d.clock
    )


class Bot:
    def __init__(
        self,
        client: ChatClient,
        user: str,
        interval: float,
        stop: threading.Event,
        chosen: bool = False,
        channel: str = "",
    ) -> None:
        """`chosen`: the name was given (--user): if the cluster refuses it, the bot stops
        rather than post as a name it does not hold; a random name is replaced instead.
        `channel`: the one channel it posts in (created if new); empty: any channel."""
        self.client, self.user, self.interval, self.stop = client, user, interval, stop
        self.chosen, self.channel = chosen, channel
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self.client.user:
                    self._login()
                if not self.stop.is_set():
                    self._burst()
            except Unreachable as exc:
                if self.stop.is_set():
                    return
                log.warning("bot_cluster_unreachable", error=str(exc))
                self.stop.wait(self.interval)

    def _login(self) -> None:
        for _ in range(LOGIN_TRIES):
            reply = self.client.login(self.user)
            log.info("bot_login", user=self.user, status=reply.get("status"))
            if reply.get("status") == "sucesso":
                return
            reason = reply.get("description") or reply.get("message")
            if self.chosen:  # never post as a name the cluster refused
                log.error("bot_login_refused", user=self.user, reason=reason)
                self.stop.set()
                return
            self.user = random_name()  # a random name that was refused: draw another
        raise Unreachable(f"no name accepted after {LOGIN_TRIES} tries")

    def _pick_channel(self) -> str:
        # `users` too: the assignment names that key, and some servers answer only under it
        listed = self.client.call("channels")
        channels = listed.get("channels") or listed.get("users") or []
        if self.channel:
            name = self.channel
        elif channels:
            return random.choice(channels)
        else:
            name = random_name("sala")
        if name not in channels:
            self.client.call("channel", channel=name, user=self.user)
        return name

    def _burst(self) -> None:
        channel = self._pick_channel()
        self.client.subscribe(channel)
        for _ in range(BURST):
            if self.stop.is_set():
                return
            text = " ".join(random.choices(WORDS, k=4))
            reply = self.client.call("publish", user=self.user, channel=channel, message=text)
            self.sent += 1
            log.info(
                "bot_published",
                channel=channel,
                status=reply.get("status"),
                error=reply.get("message") if reply.get("status") == "erro" else None,
            )
            self.stop.wait(self.interval)
        self.client.subscribe(channel, on=False)
