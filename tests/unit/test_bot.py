"""The bot against a scripted cluster: refused logins, a channel list under `users`, its own
channel."""

from __future__ import annotations

import threading
from typing import Any

from roles.bot import Bot


class Scripted:
    """A ChatClient stand-in: answers from a script and records what the bot asked."""

    def __init__(self, logins: list[str], channels: dict[str, Any]) -> None:
        self.logins, self.channels_reply = logins, channels
        self.user = ""
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def login(self, user: str) -> dict[str, Any]:
        status = self.logins.pop(0)
        if status == "sucesso":
            self.user = user
        return {"status": status, "description": "" if status == "sucesso" else "refused"}

    def call(self, service: str, **data: Any) -> dict[str, Any]:
        self.asked.append((service, data))
        return self.channels_reply if service == "channels" else {"status": "OK"}

    def subscribe(self, topic: str, on: bool = True) -> None:
        pass


def run_once(client: Scripted, user: str, chosen: bool, channel: str = "") -> Bot:
    stop = threading.Event()
    bot = Bot(client, user, 0.0, stop, chosen=chosen, channel=channel)  # type: ignore[arg-type]
    original = client.call

    def call(service: str, **data: Any) -> dict[str, Any]:
        if service == "publish":
            stop.set()  # one post is enough to see where it went
        return original(service, **data)

    client.call = call  # type: ignore[method-assign]
    bot.run()
    return bot


def test_a_refused_chosen_name_stops_the_bot_before_it_posts() -> None:
    client = Scripted(["erro"], {"channels": ["c"]})
    run_once(client, "mine", chosen=True)
    assert client.asked == []  # nothing, not even a channel list, as a refused name


def test_a_refused_random_name_is_replaced() -> None:
    client = Scripted(["erro", "sucesso"], {"channels": ["c"]})
    bot = run_once(client, "bot-aaaaaa", chosen=False)
    assert bot.user != "bot-aaaaaa" and client.user == bot.user
    assert (
        "publish",
        {"user": bot.user, "channel": "c", "message": client.asked[-1][1]["message"]},
    ) == client.asked[-1]


def test_a_channel_list_under_users_is_used_and_no_channel_is_created() -> None:
    client = Scripted(["sucesso"], {"users": ["general"]})  # a server that answers so
    run_once(client, "bot-b", chosen=False)
    services = [service for service, _ in client.asked]
    assert "channel" not in services
    assert client.asked[-1][1]["channel"] == "general"


def test_a_bot_with_its_own_channel_creates_it_and_posts_only_there() -> None:
    client = Scripted(["sucesso"], {"channels": ["general", "people"]})
    run_once(client, "bot-0", chosen=True, channel="bots-0")
    assert ("channel", {"channel": "bots-0", "user": "bot-0"}) in client.asked
    posts = [data["channel"] for service, data in client.asked if service == "publish"]
    assert posts == ["bots-0"]


def test_a_bot_whose_channel_exists_does_not_create_it_again() -> None:
    client = Scripted(["sucesso"], {"channels": ["general", "bots-1"]})
    run_once(client, "bot-1", chosen=True, channel="bots-1")
    assert [service for service, _ in client.asked] == ["channels", "publish"]
    assert client.asked[-1][1]["channel"] == "bots-1"
