"""Command-line and environment settings of every role.

Each option has a flag and a BBS_* environment variable; the defaults are the protocol's
(compose hostnames `broker`, `proxy`, `reference`). A flag beats the environment, which
beats the default.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from config.timing import DEFAULT_TIMING, Timing


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    default: object
    help: str
    type: type = str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def _opt(flag: str, default: object, help: str, type: type = str) -> Option:
    env = "BBS_" + flag.lstrip("-").replace("-", "_").upper()
    return Option(flag, env, default, help, type)


BROKER = _opt("--broker", "tcp://broker:5555", "broker endpoint clients connect to")
BROKER_BACKEND = _opt("--broker-backend", "tcp://broker:5556", "broker endpoint servers connect to")
PROXY_PUB = _opt("--proxy-pub", "tcp://proxy:5557", "proxy endpoint publishers connect to")
PROXY_SUB = _opt("--proxy-sub", "tcp://proxy:5558", "proxy endpoint subscribers connect to")
REFERENCE = _opt("--reference", "tcp://reference:5559", "reference server endpoint")
FRONTEND_BIND = _opt("--frontend-bind", "tcp://*:5555", "broker: bind for clients")
BACKEND_BIND = _opt("--backend-bind", "tcp://*:5556", "broker: bind for servers")
XSUB_BIND = _opt("--xsub-bind", "tcp://*:5557", "proxy: bind for publishers")
XPUB_BIND = _opt("--xpub-bind", "tcp://*:5558", "proxy: bind for subscribers")
REFERENCE_BIND = _opt("--reference-bind", "tcp://*:5559", "reference: bind for servers")
PEER_PORT = 5560
PEER_BIND = _opt("--peer-bind", f"tcp://*:{PEER_PORT}", "server: bind for server-to-server calls")
ADVERTISE = _opt("--advertise", "", "server: endpoint peers use to reach --peer-bind")
NAME = _opt("--name", "", "node name (default: the host name)")
DATA_DIR = _opt("--data-dir", "data", "directory for persistent state")
CLOCK_SKEW = _opt(
    "--clock-skew", 0.0, "server: seconds added to the OS clock (demos, tests)", float
)
MAX_DB_MB = _opt(
    "--max-db-mb",
    0.0,
    "server: refuse writes once the database reaches this size, as on a full disk (0: no limit)",
    float,
)
KEYS = _opt("--keys", "", "secure mode: the cluster's keys directory (bbs keys); empty: open mode")
SECURE_FRONTEND_BIND = _opt(
    "--secure-frontend-bind",
    "",
    "broker, secure mode: also bind for clients here, CURVE-encrypted (any client key)",
)
SERVER_KEY = _opt(
    "--server-key",
    "",
    "CURVE public key (Z85) of the broker's secure frontend: encrypt the link to --broker",
)
USER = _opt("--user", "", "user name (client: asked if empty; bot: random if empty)")
PASSWORD_FILE = _opt(
    "--password-file", "", "client: file holding the password (claims the name if it is free)"
)
KEYS_HOME = _opt("--keys-home", "", "client: folder of the account key pairs (~/.config/bbs)")
LISTEN = _opt("--listen", "127.0.0.1:8080", "web: HOST:PORT the page and its WebSocket listen on")
INTERVAL = _opt("--interval", 1.0, "bot: seconds between messages", float)
LOG_FORMAT = _opt("--log-format", "json", "json or console")
LOG_FILE = _opt("--log-file", "", "also append JSON log lines to this file")
LOG_MAX_MB = _opt(
    "--log-max-mb", 64.0, "rotate --log-file at this size, keeping 3 older files", float
)

COMMON = (NAME, LOG_FORMAT, LOG_FILE, LOG_MAX_MB)
ROLE_OPTIONS: dict[str, tuple[Option, ...]] = {
    "broker": (FRONTEND_BIND, BACKEND_BIND, KEYS, SECURE_FRONTEND_BIND),
    "proxy": (XSUB_BIND, XPUB_BIND, KEYS),
    "reference": (REFERENCE_BIND, DATA_DIR, KEYS),
    "server": (
        BROKER_BACKEND,
        PROXY_PUB,
        PROXY_SUB,
        REFERENCE,
        PEER_BIND,
        ADVERTISE,
        DATA_DIR,
        CLOCK_SKEW,
        MAX_DB_MB,
        KEYS,
    ),
    "client": (BROKER, PROXY_SUB, USER, PASSWORD_FILE, KEYS_HOME, SERVER_KEY, KEYS),
    "bot": (BROKER, PROXY_SUB, USER, INTERVAL, SERVER_KEY, KEYS),
    "web": (BROKER, PROXY_SUB, LISTEN, SERVER_KEY, KEYS),
}


def add_options(parser: argparse.ArgumentParser, role: str) -> None:
    for opt in (*ROLE_OPTIONS[role], *COMMON):
        raw = os.environ.get(opt.env)
        try:
            default = opt.type(raw) if raw is not None else opt.default
        except ValueError:  # one clear line, not a traceback
            parser.error(f"{opt.env}={raw!r} is not a {opt.type.__name__} ({opt.help})")
        parser.add_argument(
            opt.flag,
            dest=opt.dest,
            type=opt.type,
            default=default,
            help=f"{opt.help} (env {opt.env}, default {opt.default!r})",
        )


def host_address() -> str:
    """This host's address as peers see it (a container's IP in compose)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def default_peer_endpoint(name: str) -> str:
    """A server's server-to-server endpoint when no one said otherwise (the protocol's)."""
    return f"tcp://{name}:{PEER_PORT}"


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@dataclass(frozen=True)
class ServerSettings:
    name: str
    data_dir: Path
    broker_backend: str = BROKER_BACKEND.default
    proxy_pub: str = PROXY_PUB.default
    proxy_sub: str = PROXY_SUB.default
    reference: str = REFERENCE.default
    peer_bind: str = PEER_BIND.default
    advertise: str = ""
    max_db_mb: float = 0.0
    keys: str = ""  # secure mode's keys directory; empty: open mode
    timing: Timing = field(default=DEFAULT_TIMING)

    @property
    def advertised(self) -> str:
        return self.advertise or f"tcp://{host_address()}:{port_of(self.peer_bind)}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / f"{self.name}.sqlite3"


def node_name(ns: argparse.Namespace) -> str:
    return ns.name or socket.gethostname()


def server_settings(ns: argparse.Namespace) -> ServerSettings:
    return ServerSettings(
        name=node_name(ns),
        data_dir=Path(ns.data_dir),
        broker_backend=ns.broker_backend,
        proxy_pub=ns.proxy_pub,
        proxy_sub=ns.proxy_sub,
        reference=ns.reference,
        peer_bind=ns.peer_bind,
        advertise=ns.advertise,
        max_db_mb=ns.max_db_mb,
        keys=ns.keys,
    )
