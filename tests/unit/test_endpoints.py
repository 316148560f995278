"""Endpoints from the network: what is accepted, and bounded name resolution."""

from __future__ import annotations

import threading

import pytest

from actors.scheduler import ManualScheduler
from tests.support import wait_for
from transport.codec import FieldError
from transport.endpoints import Resolver, literal_ip, peer_endpoint


@pytest.mark.parametrize(
    "endpoint",
    ["tcp://10.0.0.7:5560", "tcp://[::1]:5560", "tcp://server-1:5560", "tcp://a.b.example:1"],
)
def test_ip_and_host_endpoints_are_accepted(endpoint: str) -> None:
    assert peer_endpoint(endpoint) == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://*:5560",
        "tcp://10.0.0.7:0",
        "tcp://10.0.0.7:70000",
        "tcp://10.0.0.7",
        "ipc:///tmp/x",
        "inproc://x",
        "tcp://eth0;10.0.0.1:5560",
        "tcp://-bad-:5560",
        "tcp://" + "a" * 300 + ":1",
        "",
        5560,
        None,
    ],
)
def test_wildcards_other_transports_and_junk_are_refused(endpoint: object) -> None:
    with pytest.raises(FieldError):
        peer_endpoint(endpoint)


def test_literal_ips_are_recognised() -> None:
    assert literal_ip("10.0.0.1") == "10.0.0.1"
    assert literal_ip("[::1]") == "::1"
    assert literal_ip("server") is None


class SlowDns:
    """A resolver that answers only when the test lets it."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.release = threading.Event()

    def __call__(self, host: str, port: str) -> str | None:
        self.asked.append(host)
        self.release.wait(5)
        return None if host.endswith(".invalid") else f"tcp://10.9.9.9:{port}"


def test_a_literal_endpoint_is_used_as_it_is() -> None:
    dns = SlowDns()
    assert Resolver(lookup=dns)("tcp://10.1.2.3:5560") == "tcp://10.1.2.3:5560"
    assert dns.asked == []


def test_a_name_is_looked_up_off_the_callers_thread_and_used_once_known() -> None:
    time, dns = ManualScheduler(), SlowDns()
    resolve = Resolver(ttl=30.0, now=time.now, lookup=dns)
    assert resolve("tcp://server-1:5560") is None  # returns at once: nothing known yet
    assert resolve("tcp://server-1:5560") is None
    dns.release.set()
    wait_for(lambda: resolve("tcp://server-1:5560"), what="answer kept")
    assert resolve("tcp://server-1:5560") == "tcp://10.9.9.9:5560"
    assert dns.asked == ["server-1"]  # one lookup while it was pending and while fresh
    time.advance(31.0)
    assert resolve("tcp://server-1:5560") == "tcp://10.9.9.9:5560"  # stale, still used
    wait_for(lambda: len(dns.asked) == 2, what="refreshed after the ttl")


def test_a_name_that_does_not_resolve_stays_out_and_lookups_are_bounded() -> None:
    dns = SlowDns()
    resolve = Resolver(parallel=2, lookup=dns)
    for i in range(5):
        assert resolve(f"tcp://ghost-{i}.invalid:5560") is None
    wait_for(lambda: len(dns.asked) == 2, what="two lookups running")
    assert len(dns.asked) == 2  # both still pending: a flood of names asks two at a time
    dns.release.set()
    wait_for(lambda: resolve("tcp://ghost-2.invalid:5560") is None and len(dns.asked) >= 3)


def test_the_real_resolver_finds_localhost() -> None:
    resolve = Resolver()
    found = wait_for(lambda: resolve("tcp://localhost:5560"), what="localhost resolved")
    assert found in ("tcp://127.0.0.1:5560", "tcp://[::1]:5560")
