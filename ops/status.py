"""`bbs status`: one table of the cluster's state, from the reference and every server.

Asks the reference's `list` service, then each listed server's `status` service on its
server-to-server port (1 s timeout each, in parallel). A server that does not answer is shown
as not alive. With --watch the table refreshes until Ctrl-C, and a server that disappears from
the reference's list stays in the table as not alive.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from config.settings import KEYS, REFERENCE
from ops.cluster_status import ServerState, Snapshot, collect
from ops.table import table
from transport.keys import ClusterKeys

CLEAR = "\x1b[H\x1b[2J"
LOCAL_REFERENCE_PORT = 5559


def _alive(server: ServerState) -> str:
    if server.alive:
        return "yes" if server.listed else "yes (not listed)"
    if not server.address:
        return "NO (no address)"
    return "NO (no answer)" if server.listed else "NO (left the list)"


def _heads(heads: Any) -> str:
    if not isinstance(heads, dict) or not heads:
        return "-"
    return " ".join(f"{origin}:{seq}" for origin, seq in sorted(heads.items()))


def _catchup(last: Any, now: float) -> str:
    if not isinstance(last, dict) or not last.get("events"):
        return "-"
    ago = f", {now - last['at']:.0f}s ago" if isinstance(last.get("at"), (int, float)) else ""
    return f"{last.get('events')} ev in {last.get('seconds')}s{ago}"


def _offset(offset: Any) -> str:
    return f"{offset * 1000:+.3f}" if isinstance(offset, (int, float)) else "-"


def _unreachable(snapshot: Snapshot, origin: str) -> list[str]:
    """What was tried, why it failed, and how to point `bbs status` elsewhere."""
    tried = f" ({origin})" if origin else ""
    return [
        f"reference {snapshot.reference}{tried}: UNREACHABLE: {snapshot.reference_error}",
        f"  ask another: bbs status --reference tcp://HOST:PORT (or {REFERENCE.env})",
        f"  a local `bbs up` has it at tcp://127.0.0.1:{LOCAL_REFERENCE_PORT} (--base-port + 4);"
        " compose: docker run --rm --network bbs_bbs bbs:latest status",
    ]


def render(snapshot: Snapshot, origin: str = "") -> str:
    """The table; `origin` says where the reference endpoint came from."""
    if not snapshot.reference_up and not snapshot.servers:
        return "\n".join(_unreachable(snapshot, origin))
    state = "up" if snapshot.reference_up else f"UNREACHABLE ({snapshot.reference_error})"
    listed = sum(s.listed for s in snapshot.servers)
    out = [f"reference {snapshot.reference}: {state}, {listed} server(s) listed"]
    named = snapshot.coordinators
    answering = sum(s.alive for s in snapshot.servers)
    if len(named) == 1:
        ((name, by),) = named.items()
        out.append(f"coordinator: {name} (named by {len(by)} of {answering} answering)")
    elif named:
        views = "; ".join(f"{c} by {', '.join(by)}" for c, by in named.items())
        out.append(f"coordinator: DISAGREEMENT -- {views}")
    elif answering:
        out.append("coordinator: none known (election in progress?)")
    rows = [
        [
            s.name,
            s.rank,
            _alive(s),
            s.get("coordinator"),
            s.get("lamport"),
            _offset(s.get("offset")),
            _heads(s.get("heads")),
            _catchup(s.get("last_catchup"), snapshot.taken_at),
            s.get("requests_handled"),
        ]
        for s in snapshot.servers
    ]
    headers = [
        "name",
        "rank",
        "alive",
        "coordinator",
        "lamport",
        "offset ms",
        "heads",
        "last catch-up",
        "requests",
    ]
    out.append(table(headers, rows, indent=""))
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bbs status", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--reference",
        default=os.environ.get(REFERENCE.env, str(REFERENCE.default)),
        help=f"reference endpoint (env {REFERENCE.env}, default {REFERENCE.default})",
    )
    p.add_argument(
        "--keys",
        default=os.environ.get(KEYS.env, ""),
        help=f"secure mode: the cluster's keys directory (env {KEYS.env})",
    )
    p.add_argument("--timeout", type=float, default=1.0, help="seconds per request (default 1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS")
    return p


def _origin(argv: list[str]) -> str:
    if any(a == "--reference" or a.startswith("--reference=") for a in argv):
        return "from --reference"
    if REFERENCE.env in os.environ:
        return f"from {REFERENCE.env}"
    return "the default: the compose host name"


def _show(snapshot: Snapshot, as_json: bool, out: IO[str], clear: bool, origin: str) -> None:
    if as_json:
        print(json.dumps(snapshot.as_dict(), ensure_ascii=False), file=out, flush=True)
        return
    prefix = CLEAR if clear else ""
    stamp = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
    print(f"{prefix}{render(snapshot, origin)}\n({stamp})", file=out, flush=True)


def run(argv: list[str], out: IO[str] | None = None, stop: threading.Event | None = None) -> int:
    """The whole command; returns 0, or 1 when the reference did not answer (single shot)."""
    out = out or sys.stdout
    ns = parser().parse_args(argv)
    keys = ClusterKeys(Path(ns.keys)) if ns.keys else None
    snapshot = collect(ns.reference, ns.timeout, keys=keys)
    origin = _origin(argv)
    if ns.watch is None:
        _show(snapshot, ns.json, out, clear=False, origin=origin)
        return 0 if snapshot.reference_up else 1
    stop = stop or threading.Event()
    clear = out.isatty() and not ns.json
    while True:
        _show(snapshot, ns.json, out, clear, origin)
        if stop.wait(ns.watch):
            return 0
        snapshot = collect(ns.reference, ns.timeout, previous=snapshot, keys=keys)


def main(argv: list[str]) -> None:
    try:
        status = run(argv)
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C ends --watch; `| head` is fine
        status = 0
    sys.exit(status)
