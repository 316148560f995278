"""Who of the gateway's browser sessions gets which publication (pure logic, no sockets).

Channel posts and private messages share one topic namespace on the proxy: a private
message to `bob` is published on topic `bob`, as would be a post to a channel named `bob`.
So a session gets a channel post on topic T only if it subscribed channel T, and a private
message on topic T only if it is logged in as T; subscribing "channel bob" never shows bob's
private messages. The gateway's one SUB socket is subscribed to a topic while any session
wants it (ZeroMQ matches prefixes: the exact match is done here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Set


class TopicBook:
    def __init__(self) -> None:
        self._channels: dict[str, set[Hashable]] = defaultdict(set)
        self._users: dict[str, set[Hashable]] = defaultdict(set)

    def _wanted(self, topic: str) -> bool:
        return bool(self._channels.get(topic) or self._users.get(topic))

    def add(self, session: Hashable, topic: str, private: bool = False) -> bool:
        """Add `session` as a reader of `topic` (its own private messages if `private`);
        True if the socket must now subscribe to the topic."""
        first = not self._wanted(topic)
        (self._users if private else self._channels)[topic].add(session)
        return first

    def remove(self, session: Hashable, topic: str, private: bool = False) -> bool:
        """True if no session wants `topic` any more (the socket unsubscribes)."""
        table = self._users if private else self._channels
        readers = table.get(topic)
        if readers is None or session not in readers:
            return False
        readers.discard(session)
        if not readers:
            del table[topic]
        return not self._wanted(topic)

    def drop(self, session: Hashable) -> list[str]:
        """Forget `session` everywhere; the topics no session wants any more."""
        gone = []
        for private, table in ((False, self._channels), (True, self._users)):
            for topic in [t for t, readers in table.items() if session in readers]:
                if self.remove(session, topic, private):
                    gone.append(topic)
        return gone

    def readers(self, topic: str, private: bool) -> Set[Hashable]:
        return (self._users if private else self._channels).get(topic, frozenset())

    def topics(self) -> set[str]:
        return set(self._channels) | set(self._users)
