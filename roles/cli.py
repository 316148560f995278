"""`bbs` command line: one subcommand per role, plus `up` (the whole cluster locally)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import structlog

from actors.base import Node
from config import logging as bbs_logging
from config.settings import ROLE_OPTIONS, add_options, node_name, server_settings
from roles.assembly import Assembly, run_until_signal


def _node(role: str, ns: argparse.Namespace) -> Node:
    node = Node(role, node_name(ns))
    bbs_logging.configure(
        role, node.name, node.lamport, ns.log_format, ns.log_file, log_max_mb=ns.log_max_mb
    )
    return node


def run_broker(ns: argparse.Namespace) -> None:
    from roles.secure import cluster_keys
    from transport.devices import Device

    _node("broker", ns)
    keys = cluster_keys(ns.keys)
    _run_device(Device("broker", ns.frontend_bind, ns.backend_bind, keys, ns.secure_frontend_bind))


def run_proxy(ns: argparse.Namespace) -> None:
    from roles.secure import cluster_keys
    from transport.devices import Device

    _node("proxy", ns)
    _run_device(Device("proxy", ns.xsub_bind, ns.xpub_bind, cluster_keys(ns.keys)))


def _run_device(device: object) -> None:
    assembly = Assembly()
    device.start()
    assembly.add("device", device.stop)
    run_until_signal(assembly)


def run_reference(ns: argparse.Namespace) -> None:
    from roles import reference
    from roles.secure import reference_curve

    node = _node("reference", ns)
    curve = reference_curve(ns.keys)
    run_until_signal(reference.build(node, ns.reference_bind, ns.data_dir, curve))


def run_server(ns: argparse.Namespace) -> None:
    from roles import server

    node = _node("server", ns)
    node.clock.skew = ns.clock_skew
    run_until_signal(server.build(server_settings(ns), node))


def run_bot(ns: argparse.Namespace) -> None:
    from roles.bot import Bot, on_delivery, random_name
    from roles.chat_client import ChatClient
    from roles.secure import client_curve

    node = _node("bot", ns)
    user = ns.user or random_name()
    curve = client_curve(ns.broker, ns.server_key, ns.keys)
    client = ChatClient(ns.broker, ns.proxy_sub, on_delivery, node=node, curve=curve)
    stop = threading.Event()
    assembly = Assembly()
    worker = threading.Thread(
        target=Bot(
            client, user, ns.bot_interval, stop, chosen=bool(ns.user), channel=ns.channel
        ).run,
        name="bot",
        daemon=True,
    )
    assembly.add("client", client.close)
    assembly.add("bot", lambda: (stop.set(), worker.join(1.0)))
    worker.start()
    run_until_signal(assembly)


def run_web(ns: argparse.Namespace) -> None:
    from roles import web
    from roles.secure import client_curve

    try:
        listen = web.parse_listen(ns.listen)
    except ValueError as exc:
        sys.exit(f"bbs web: {exc}")
    node = _node("web", ns)
    web.serve(ns, node, listen, client_curve(ns.broker, ns.server_key, ns.keys))


def run_client(ns: argparse.Namespace) -> None:
    from roles import client

    node = Node("client", node_name(ns))
    with open(os.devnull, "w") as quiet:  # the UI owns the terminal; logs go to --log-file
        bbs_logging.configure(
            "client", node.name, node.lamport, "json", ns.log_file, quiet, ns.log_max_mb
        )
        client.main(ns, node)


RUNNERS: dict[str, Callable[[argparse.Namespace], None]] = {
    "broker": run_broker,
    "proxy": run_proxy,
    "reference": run_reference,
    "server": run_server,
    "client": run_client,
    "bot": run_bot,
    "web": run_web,
}


# Subcommands with parsers of their own: name -> (module with main(argv), what it does).
TOOLS = {
    "up": ("roles.cluster", "run the whole cluster locally"),
    "logs": ("ops.logs", "merge and check JSON logs"),
    "status": ("ops.status", "one table of the cluster's state"),
    "bench": ("bench.__main__", "benchmarks"),
    "keys": ("roles.keys", "create the cluster's CURVE keys (secure mode)"),
}


def role_parser(role: str, sub: Any = None) -> argparse.ArgumentParser:
    """The role's parser: standalone (prog `bbs ROLE`, so a bad flag shows the role's usage),
    or added to `sub`, the top parser's subcommands (for `bbs --help`)."""
    what = f"run the {role}"
    if sub is None:
        parser = argparse.ArgumentParser(f"bbs {role}", description=what)
    else:
        parser = sub.add_parser(role, help=what)
    add_options(parser, role)
    return parser


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bbs", description="Replicated bulletin-board messaging")
    sub = top.add_subparsers(dest="command", required=True)
    for role in ROLE_OPTIONS:
        role_parser(role, sub)
    for tool, (_, what) in TOOLS.items():
        sub.add_parser(tool, help=f"{what} (see bbs {tool} --help)", add_help=False)
    return top


def run_tool(name: str, argv: list[str]) -> None:
    import importlib

    importlib.import_module(TOOLS[name][0]).main(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in TOOLS:
        run_tool(argv[0], argv[1:])
        return
    if argv and argv[0] in ROLE_OPTIONS:  # its own parser: a bad flag shows the role's usage
        ns = role_parser(argv[0]).parse_args(argv[1:])
        ns.command = argv[0]
    else:
        ns = parser().parse_args(argv)
    try:
        RUNNERS[ns.command](ns)
    except Exception as exc:
        structlog.get_logger().exception("role_failed", error=str(exc))
        sys.exit(1)


if __name__ == "__main__":
    main()
