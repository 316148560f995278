"""Endpoints from the network: what is accepted, and bounded name resolution."""

from __future__ import annotations

import pytest

from transport.codec import FieldError
from transport.endpoints import literal_ip, peer_endpoint, resolved


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


def test_a_literal_endpoint_is_used_as_it_is() -> None:
    assert resolved("tcp://10.1.2.3:5560", timeout=0.01) == "tcp://10.1.2.3:5560"


def test_a_name_resolves_to_an_ip() -> None:
    assert resolved("tcp://localhost:5560", timeout=5.0) in (
        "tcp://127.0.0.1:5560",
        "tcp://[::1]:5560",
    )


def test_a_name_that_does_not_resolve_gives_none() -> None:
    assert resolved("tcp://no-such-host.invalid:5560", timeout=5.0) is None
