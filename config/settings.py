"""Command-line and environment settings of every role.

Each option has a flag and a BBS_* environment variable; the defaults are the protocol's
(compose hostnames `broker`, `proxy`, `reference`). A flag beats the environment, which
beats the default.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from config.timing import DEFAULT_TIMING, Timing

KINDS = {int: "a whole number", float: "a number"}
BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class EnvValue(str):
    """An option's value read from its BBS_* variable (so a bad one is reported by name)."""

    env = ""


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    default: object
    help: str
    type: type = str
    choices: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def parse(self, text: str) -> object:
        """The typed value of `text` (a flag's or the BBS_* variable's), or one clear line
        naming the variable and what it accepts (argparse prints it with the usage)."""
        source = f"{self.env}={text!r}" if isinstance(text, EnvValue) else repr(text)
        if self.type is bool:
            if text.lower() not in BOOLEANS:
                raise argparse.ArgumentTypeError(f"{source} is not one of {', '.join(BOOLEANS)}")
            return BOOLEANS[text.lower()]
        if self.choices and text not in self.choices:
            raise argparse.ArgumentTypeError(f"{source} is not one of {', '.join(self.choices)}")
        try:
            return self.type(text)
        except ValueError:
            kind = KINDS.get(self.type, self.type.__name__)
            raise argparse.ArgumentTypeError(f"{source} is not {kind} ({self.help})") from None

    def environment_default(self) -> object:
        """The BBS_* variable as an unparsed default (argparse parses a string default only
        when the option is not on the command line and only for the subcommand run, so a bad
        variable never breaks `--help` or another role), else the default."""
        raw = os.environ.get(self.env)
        if raw is None:
            return self.default
        value = EnvValue(raw)
        value.env = self.env
        return value


def _opt(
    flag: str, default: object, help: str, type: type = str, choices: tuple[str, ...] = ()
) -> Option:
    env = "BBS_" + flag.lstrip("-").replace("-", "_").upper()
    return Option(flag, env, default, help, type, choices)


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
BOT_INTERVAL = _opt("--bot-interval", 5.0, "bot: seconds between messages", float)
CHANNEL = _opt(
    "--channel", "", "bot: post only in this channel (created if new); empty: any channel"
)
LOG_FORMAT = _opt("--log-format", "json", "log line format", choices=("json", "console"))
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
    "bot": (BROKER, PROXY_SUB, USER, BOT_INTERVAL, CHANNEL, SERVER_KEY, KEYS),
    "web": (BROKER, PROXY_SUB, LISTEN, SERVER_KEY, KEYS),
}


def add_option(parser: argparse.ArgumentParser, opt: Option) -> None:
    shown = f"one of {', '.join(opt.choices)}; " if opt.choices else ""
    switch = {"nargs": "?", "const": True} if opt.type is bool else {}  # --secure alone: on
    parser.add_argument(
        opt.flag,
        dest=opt.dest,
        type=opt.parse,
        default=opt.environment_default(),
        metavar=opt.dest.upper(),
        help=f"{opt.help} ({shown}env {opt.env}, default {opt.default!r})",
        **switch,
    )


def add_options(parser: argparse.ArgumentParser, role: str) -> None:
    for opt in (*ROLE_OPTIONS[role], *COMMON):
        add_option(parser, opt)


def host_address() -> str:
    """This host's address as peers see it: its name's address (a container's IP in
    compose); when the name maps to loopback (many /etc/hosts map it to 127.0.1.1), the
    address of the interface that carries the default route, if there is one."""
    try:
        named = socket.gethostbyname(socket.gethostname())
    except OSError:
        named = "127.0.0.1"
    if not ipaddress.ip_address(named).is_loopback:
        return named
    return routed_address() or named


def routed_address() -> str | None:
    """The local address of the default route, or None (no route, or only loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1; a UDP connect only picks the route
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback else address


def loopback_warning(settings: ServerSettings) -> str:
    """A warning when the server would tell the reference a loopback peer address although
    no one chose it (--advertise): servers on other machines could not reach it."""
    host = settings.advertised.removeprefix("tcp://").rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name given with --advertise: the operator's choice
        return ""
    if settings.advertise or not loopback:
        return ""
    port = port_of(settings.peer_bind)
    return (
        f"this host's name resolves to {host} and no other address was found, so servers on "
        f"other machines cannot reach this one: give --advertise tcp://REACHABLE-ADDRESS:{port} "
        f"(or BBS_ADVERTISE)"
    )


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
