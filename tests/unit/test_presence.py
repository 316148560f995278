"""Presence as pure logic: a user is online for 30 s after a request named them, on any
replica, and the tables replicas exchange are bounded and validated."""

from __future__ import annotations

from actors.presence import Presence
from transport import protocol
from transport.protocol import MAX_PRESENCE, PRESENCE_WINDOW, Login, Publish, Who


def test_a_user_is_online_for_the_window_after_a_request() -> None:
    p = Presence()
    p.seen("ana", now=100.0)
    p.seen("bob", now=110.0)
    assert p.online(100.0 + PRESENCE_WINDOW) == ["ana", "bob"]
    assert p.online(100.1 + PRESENCE_WINDOW) == ["bob"]
    p.seen("ana", now=131.0)  # a keep-alive brings her back
    assert p.online(131.0 + PRESENCE_WINDOW) == ["ana"]


def test_a_peer_table_merges_by_age_and_the_most_recent_sighting_wins() -> None:
    here, there = Presence(), Presence()
    here.seen("ana", now=1000.0)
    there.seen("bob", now=50.0)  # another replica's monotonic clock: only ages cross
    there.seen("ana", now=55.0)
    here.merge(there.ages(now=60.0), now=1010.0)
    assert here.ages(1010.0) == {"ana": 5.0, "bob": 10.0}
    here.merge({"ana": 29.0}, now=1010.0)  # an older sighting changes nothing
    assert here.ages(1010.0)["ana"] == 5.0
    here.merge({"zoe": PRESENCE_WINDOW + 1}, now=1010.0)
    assert "zoe" not in here.online(1010.0)


def test_the_table_is_bounded_and_keeps_the_most_recent() -> None:
    p = Presence(limit=3)
    for i in range(5):
        p.seen(f"u{i}", now=float(i))
    assert p.online(5.0) == ["u2", "u3", "u4"]
    p.merge({"old": 20.0, "new": 0.0}, now=5.0)
    assert p.online(5.0) == ["new", "u3", "u4"]


def test_presence_exchange_is_validated_and_bounded() -> None:
    raw = {"ana": 1.5, "": 1.0, "x" * 65: 1.0, "bob": -1, "carl": "soon", "dan": 31, 7: 2.0}
    assert protocol.parse_presence({"online": raw}) == {"ana": 1.5}
    assert protocol.parse_presence({"online": ["ana"]}) == {}
    assert protocol.parse_presence({}) == {}
    many = {f"u{i}": 1.0 for i in range(MAX_PRESENCE + 50)}
    assert len(protocol.parse_presence({"online": many})) == MAX_PRESENCE
    assert protocol.parse_presence(protocol.presence_request({"ana": 2.0})) == {"ana": 2.0}


def test_the_user_a_request_names() -> None:
    assert protocol.request_user(Login("ana")) == "ana"
    assert protocol.request_user(Publish("bob", "geral", "oi")) == "bob"
    assert protocol.request_user(Who()) == ""
    parsed = protocol.parse_client_request("message", {"src": "carl", "dst": "x", "message": "m"})
    assert protocol.request_user(parsed) == "carl"
    assert protocol.request_user(protocol.parse_client_request("users", {"user": "dan"})) == "dan"
    assert protocol.request_user(protocol.parse_client_request("who", {"user": " "})) == ""
