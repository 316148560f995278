"""`bbs bench` / `python -m bench`: benchmarks of the whole system on this machine.

Starts everything it needs on free loopback ports (a throw-away data directory), drives
load with its own protocol-speaking clients, prints a table, writes <out>/results.json and
PNG plots. Suites: ceiling, publish, lag, fanout, recovery, history, memory, endurance, web.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.meta import describe, loadavg
from bench.targets import evaluate
from transport import keys

SUITES = (
    "ceiling",
    "publish",
    "lag",
    "fanout",
    "recovery",
    "history",
    "memory",
    "endurance",
    "web",
)
LEVELS = (1, 8, 32)
FANOUT = (1, 10, 100)
WEB_SESSIONS, WEB_RATE = 500, 50.0  # browsers on the gateway, posts/s to their channel
DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bbs bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and short runs (a smoke run in under 2 minutes)",
    )
    p.add_argument(
        "--only",
        default="",
        metavar="NAME[,NAME]",
        help=f"run only these suites ({', '.join(SUITES)})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="where results.json and the plots go (default bench/out)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="measured seconds per load level (default 10, quick 2)",
    )
    p.add_argument(
        "--recovery-events",
        type=int,
        default=None,
        help="events written while a replica is down (default 100000, quick 5000)",
    )
    p.add_argument(
        "--history-messages",
        type=int,
        default=None,
        help="messages in the big store (default 1000000, quick 100000)",
    )
    p.add_argument(
        "--endurance-seconds",
        type=float,
        default=None,
        help="length of the endurance run (default 60, quick 12)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the clusters keep their data (default: a temporary directory)",
    )
    p.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    p.add_argument(
        "--secure",
        action="store_true",
        help="run the publish suite's clusters in secure mode (CURVE between the cluster's "
        "roles; the load clients stay plain, as other teams' clients do)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample with py-spy: server-0 at the highest publish load, the history "
        "server, the recovering replica (figures are then perturbed); writes "
        "profile-*.svg/.txt to --out",
    )
    return p


def _selected(only: str) -> set[str]:
    if not only:
        return set(SUITES)
    names = {n.strip() for n in only.split(",") if n.strip()}
    unknown = names - set(SUITES)
    if unknown:
        raise SystemExit(
            f"unknown suite(s): {', '.join(sorted(unknown))}; known: {', '.join(SUITES)}"
        )
    return names


def run(ns: argparse.Namespace, work: Path) -> dict[str, Any]:
    # the suites need the bench extra (psutil): imported here, so --help works without it
    from bench import bigstore, ceiling, endurance, fanout, publish, recovery, web

    suites = _selected(ns.only)
    quick = ns.quick
    duration = ns.duration or (2.0 if quick else 10.0)
    warmup = 0.5 if quick else 2.0
    events = ns.recovery_events or (5_000 if quick else 100_000)
    messages = ns.history_messages or (100_000 if quick else 1_000_000)
    profile_dir = ns.out if ns.profile else None
    res: dict[str, Any] = {"meta": describe(quick, duration, sorted(suites))}
    started = time.monotonic()
    if "ceiling" in suites:
        print("ceiling: REQ -> ROUTER/DEALER -> 3 REP workers (decode + encode only)", flush=True)
        res["ceiling"] = ceiling.run(LEVELS, duration, warmup)
    if suites & {"publish", "lag"}:
        print("publish: durable, replicated publish through the cluster", flush=True)
        replicas = (1, 3) if "publish" in suites else (3,)
        levels = LEVELS if "publish" in suites else (32,)
        res["publish"] = {}
        for r in replicas:
            out = publish.run_cluster(
                r,
                levels,
                duration,
                warmup,
                work,
                want_lag="lag" in suites,
                profile_dir=profile_dir,
                keys=keys.ensure(work / "keys") if ns.secure else None,
            )
            if "lag" in out:
                res["lag"] = out.pop("lag")
            res["publish"][f"r{r}"] = out
    if "fanout" in suites:
        print("fan-out: subscribers of one channel", flush=True)
        res["fanout"] = fanout.run(FANOUT, 32, duration, work)
    if "recovery" in suites:
        print(f"recovery: {events:,} events written while a replica is down", flush=True)
        res["recovery"] = recovery.run(events, 32, work, profile_dir=profile_dir)
    if "endurance" in suites:
        seconds = ns.endurance_seconds or (12.0 if quick else 60.0)
        print(f"endurance: {seconds:.0f}s of publishes on a store of {messages:,}", flush=True)
        res["endurance"] = endurance.run(messages, seconds, work)
    if suites & {"history", "memory"}:
        print(f"history and memory: a store of {messages:,} messages", flush=True)
        big = bigstore.run(messages, duration, warmup, work, profile_dir=profile_dir)
        res.update({k: v for k, v in big.items() if k in suites})
    if "web" in suites:
        print(
            f"web: {WEB_SESSIONS} WebSocket sessions on bbs web, {WEB_RATE:g} posts/s", flush=True
        )
        res["web"] = web.run(WEB_SESSIONS, WEB_RATE, max(duration, 5.0), work)
    res["meta"]["seconds"] = round(time.monotonic() - started, 1)
    res["meta"]["loadavg_end"] = loadavg()
    res["targets"] = evaluate(res)
    return res


def save(res: dict[str, Any], out: Path) -> None:
    from bench import plots, report

    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(res, indent=2)
    (out / "results.json").write_text(text)
    stamp = res["meta"]["date"].replace(":", "").replace("-", "")[:15]
    (out / f"results-{stamp}.json").write_text(text)
    table = report.render(res)
    (out / "results.txt").write_text(table)
    print()
    print(table)
    for path in plots.draw(res, out):
        print(f"plot: {path}")
    print(f"results: {out / 'results.json'}")


def _interrupt(signum: int, _frame: object) -> None:
    """First Ctrl-C or SIGTERM: unwind (every `with` stops what it started); later ones are
    ignored so that the clean-up itself is not interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("\nstopping everything the benchmark started...", file=sys.stderr, flush=True)
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> None:
    ns = parser().parse_args(sys.argv[1:] if argv is None else argv)
    _selected(ns.only)
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupt)
    work = ns.work_dir or Path(tempfile.mkdtemp(prefix="bbs-bench-"))
    try:
        save(run(ns, work), ns.out)
    except KeyboardInterrupt:
        print("\ninterrupted: everything started has been stopped", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if ns.keep:
            print(f"data and logs kept in {work}")
        elif ns.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
