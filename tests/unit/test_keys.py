"""Secure mode's key files and the ZAP allow-list."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from zmq.utils import z85

from roles.cluster import Topology
from transport import keys
from transport.keys import ClusterKeys, Curve, fresh_pair
from transport.zap import CLIENTS, CLUSTER, ZAP_ENDPOINT, ZapHandler


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bbs_keys_writes_one_pair_per_role_with_private_secrets(tmp_path: Path) -> None:
    out = keys.create(tmp_path / "keys")
    assert mode(out) == 0o700
    for role in keys.ROLES:
        assert mode(out / f"{role}.key_secret") == 0o600
        pair = ClusterKeys(out).pair(role)
        assert pair.public == ClusterKeys(out).public(role)
        assert len(pair.public) == len(pair.secret) == 40
    publics = {ClusterKeys(out).public(role) for role in keys.ROLES}
    assert len(publics) == len(keys.ROLES)  # no two roles share a pair


def test_the_allow_list_holds_only_the_servers_public_key(tmp_path: Path) -> None:
    out = keys.create(tmp_path / "keys")
    assert sorted(p.name for p in (out / keys.ALLOWED_DIR).iterdir()) == ["server.key"]
    assert ClusterKeys(out).allowed() == {ClusterKeys(out).public("server")}
    assert b"secret" not in (out / keys.ALLOWED_DIR / "server.key").read_bytes()


def test_existing_keys_are_never_overwritten(tmp_path: Path) -> None:
    out = keys.create(tmp_path / "keys")
    before = ClusterKeys(out).public("server")
    with pytest.raises(FileExistsError):
        keys.create(out)
    assert keys.ensure(out) == out
    assert ClusterKeys(out).public("server") == before


def test_a_trusted_tool_connects_as_a_server(tmp_path: Path) -> None:
    out = ClusterKeys(keys.create(tmp_path / "keys"))
    own, target = out.as_server("reference")
    assert own == out.pair("server") and own.public in out.allowed()
    assert target == out.public("reference")


def test_a_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    out = keys.create(tmp_path / "keys")
    os.chmod(out / "broker.key_secret", 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        ClusterKeys(out).pair("broker")


def test_a_pump_connects_plain_where_no_server_key_is_known() -> None:
    server = fresh_pair()
    curve = Curve(fresh_pair(), remotes={"tcp://a:1": server.public, "tcp://b:2": None})
    assert curve.server_key("tcp://a:1") == server.public
    assert curve.server_key("tcp://b:2") is None
    assert Curve(fresh_pair(), others=server.public).server_key("tcp://peer:3") == server.public


@pytest.fixture
def zap() -> Iterator[tuple[ZapHandler, zmq.Socket, bytes]]:
    allowed = fresh_pair().public
    ctx = zmq.Context()
    handler = ZapHandler(ctx, frozenset({allowed}))
    asker = ctx.socket(zmq.REQ)
    asker.connect(ZAP_ENDPOINT)
    yield handler, asker, allowed
    asker.close(0)
    handler.close()
    ctx.term()


def ask(
    zap: tuple[ZapHandler, zmq.Socket, bytes], domain: str, mechanism: bytes, *cred: bytes
) -> bytes:
    handler, asker, _ = zap
    asker.send_multipart([b"1.0", b"7", domain.encode(), b"10.0.0.9", b"", mechanism, *cred])
    handler.handle(handler.socket.recv_multipart())
    version, request_id, status, *_ = asker.recv_multipart()
    assert (version, request_id) == (b"1.0", b"7")
    return status


def test_the_zap_handler_admits_allow_listed_keys_only(
    zap: tuple[ZapHandler, zmq.Socket, bytes],
) -> None:
    allowed = z85.decode(zap[2])
    stranger = z85.decode(fresh_pair().public)
    assert ask(zap, CLUSTER, b"CURVE", allowed) == b"200"
    assert ask(zap, CLUSTER, b"CURVE", stranger) == b"400"
    assert ask(zap, CLUSTER, b"NULL") == b"400"
    assert ask(zap, "another", b"CURVE", allowed) == b"400"


def test_the_clients_domain_takes_any_key(zap: tuple[ZapHandler, zmq.Socket, bytes]) -> None:
    assert ask(zap, CLIENTS, b"CURVE", z85.decode(fresh_pair().public)) == b"200"
    assert ask(zap, CLIENTS, b"NULL") == b"400"


def test_the_zap_handler_answers_a_malformed_request(
    zap: tuple[ZapHandler, zmq.Socket, bytes],
) -> None:
    handler, asker, _ = zap
    asker.send_multipart([b"1.0", b"7"])
    handler.handle(handler.socket.recv_multipart())
    assert asker.recv_multipart()[2] == b"400"


def test_a_secure_topology_gives_every_infrastructure_role_the_keys(tmp_path: Path) -> None:
    topology = Topology(servers=2, bots=1, keys=tmp_path / "keys")
    given = {name: f"--keys={tmp_path / 'keys'}" in args for name, args in topology.commands()}
    assert given == {
        "broker": True,
        "proxy": True,
        "reference": True,
        "server-0": True,
        "server-1": True,
        "bot-0": False,  # clients stay plain, as other teams' clients are
    }
    assert not any("--keys" in " ".join(args) for _, args in Topology().commands())
