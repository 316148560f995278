"""The bot: a random user that keeps posting 10 messages at a time to a random channel."""

from __future__ import annotations

import random
import string
import threading

import structlog

from roles.chat_client import ChatClient, Delivery, Unreachable

log = structlog.get_logger()
BURST = 10
WORDS = ("ola", "mundo", "zeromq", "pykka", "replica", "lamport", "berkeley", "bully", "chat")


def random_name(prefix: str = "bot") -> str:
    return prefix + "-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=6))


def on_delivery(d: Delivery) -> None:
    log.info(
        "message_received", kind=d.kind, topic=d.topic, user=d.user, text=d.message, clock=d.clock
    )


class Bot:
    def __init__(
        self, client: ChatClient, user: str, interval: float, stop: threading.Event
    ) -> None:
        self.client, self.user, self.interval, self.stop = client, user, interval, stop
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self.client.user:
                    self._login()
                self._burst()
            except Unreachable as exc:
                if self.stop.is_set():
                    return
                log.warning("bot_cluster_unreachable", error=str(exc))
                self.stop.wait(self.interval)

    def _login(self) -> None:
        reply = self.client.login(self.user)
        log.info("bot_login", user=self.user, status=reply.get("status"))

    def _pick_channel(self) -> str:
        channels = self.client.call("channels").get("channels") or []
        if channels:
            return random.choice(channels)
        name = random_name("sala")
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
