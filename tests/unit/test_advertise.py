"""The peer address a server gives the reference when --advertise is not given: never a
loopback address silently, as on a host whose name maps to 127.0.1.1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from config import settings
from config.settings import ServerSettings, host_address, loopback_warning


def server(advertise: str = "") -> ServerSettings:
    return ServerSettings("s", Path("data"), peer_bind="tcp://*:6000", advertise=advertise)


@pytest.fixture
def name_maps_to_loopback(monkeypatch):
    monkeypatch.setattr(socket, "gethostbyname", lambda _: "127.0.1.1")


def test_a_name_on_loopback_gives_way_to_the_routed_interface(name_maps_to_loopback, monkeypatch):
    monkeypatch.setattr(settings, "routed_address", lambda: "10.1.2.3")
    assert host_address() == "10.1.2.3"
    assert server().advertised == "tcp://10.1.2.3:6000"
    assert loopback_warning(server()) == ""


def test_with_no_other_address_the_loopback_is_kept_and_warned(name_maps_to_loopback, monkeypatch):
    monkeypatch.setattr(settings, "routed_address", lambda: None)
    assert server().advertised == "tcp://127.0.1.1:6000"
    warning = loopback_warning(server())
    assert "127.0.1.1" in warning and "--advertise tcp://REACHABLE-ADDRESS:6000" in warning


def test_an_address_the_operator_chose_is_never_questioned(name_maps_to_loopback) -> None:
    assert loopback_warning(server("tcp://127.0.0.1:6000")) == ""  # bbs up: one machine
    assert loopback_warning(server("tcp://server-0:6000")) == ""


def test_a_name_with_a_real_address_is_used_as_it_is(monkeypatch) -> None:
    monkeypatch.setattr(socket, "gethostbyname", lambda _: "10.147.0.7")  # as in compose
    monkeypatch.setattr(settings, "routed_address", lambda: pytest.fail("not needed"))
    assert server().advertised == "tcp://10.147.0.7:6000"
