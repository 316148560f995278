"""`bbs logs`: merge the JSON logs of a run into one timeline, summarize it, check it.

Sources are log files, folders (their *.jsonl, *.log and *.json files) or `-` for standard
input, e.g. `docker compose logs --no-log-prefix | bbs logs - --check`.

Without --summary or --check the merged timeline is printed (filters apply to it only;
summaries and checks always use every line). --check exits with status 1 when an invariant
breaks, naming the offending lines as file:line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO

from ops import invariants, lifetimes, log_reader, report_text, summaries, timeline

EXAMPLES = {
    "node": "'server-*'",
    "role": "server",
    "actor": "replication",
    "event": "'coordinator_*'",
    "level": "warning",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bbs logs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "sources", nargs="*", default=["data/logs"], help="files, folders or - (default data/logs)"
    )
    for name, example in EXAMPLES.items():
        p.add_argument(
            f"--{name}",
            action="append",
            default=[],
            metavar="PATTERN",
            help=f"keep lines whose {name} matches (repeatable; shell-style, e.g. {example})",
        )
    p.add_argument(
        "--summary", action="store_true", help="elections, clock, replication, errors, requests"
    )
    p.add_argument("--check", action="store_true", help="verify the invariants; exit 1 if broken")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--end-slack",
        type=float,
        default=lifetimes.END_SLACK,
        metavar="S",
        help="a server whose log ends more than S seconds before the last one is dead at the "
        "end (default %(default)s)",
    )
    p.add_argument(
        "--restart-gap",
        type=float,
        default=lifetimes.RESTART_GAP,
        metavar="S",
        help="a Lamport drop after S seconds of silence starts a new lifetime "
        "(default %(default)s)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=invariants.SETTLE,
        metavar="S",
        help="writes acknowledged less than S seconds before a replica's log ends need not "
        "be on it (default %(default)s)",
    )
    return p


def run(argv: list[str], stdin: IO[str] | None = None, out: IO[str] | None = None) -> int:
    """The whole command; returns the exit status (0 ok, 1 invariant broken, 2 no input)."""
    out = out or sys.stdout
    ns = parser().parse_args(argv)
    try:
        logs = log_reader.read(ns.sources, stdin)
    except OSError as exc:
        print(f"bbs logs: {exc}", file=sys.stderr)
        return 2
    if logs.skipped_total:
        where = ", ".join(f"{s}: {n}" for s, n in logs.skipped.items())
        print(f"bbs logs: skipped {logs.skipped_total} non-log line(s) ({where})", file=sys.stderr)
    if not logs.lines:
        print("bbs logs: no log lines found", file=sys.stderr)
        return 2
    if not (ns.summary or ns.check):
        filters = timeline.Filters(ns.node, ns.role, ns.actor, ns.event, ns.level)
        merged = timeline.merge(logs.lines, filters)
        if ns.json:
            out.writelines(timeline.as_json(line) + "\n" for line in merged)
        elif merged:
            print(timeline.render(merged), file=out)
        return 0
    document: dict[str, object] = {"lines": len(logs.lines), "skipped": dict(logs.skipped)}
    texts = []
    status = 0
    if ns.summary:
        document["summary"] = summaries.summarize(logs.lines, ns.restart_gap)
        texts.append(report_text.summary(document["summary"]))
    if ns.check:
        view = lifetimes.view(logs.lines, ns.restart_gap, ns.end_slack)
        report = invariants.check(view, logs.lines, ns.settle)
        document["check"] = report.as_dict()
        texts.append(report_text.check(report))
        status = 0 if report.ok else 1
    if ns.json:
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
    else:
        print("\n\n".join(texts), file=out)
    return status


def main(argv: list[str]) -> None:
    try:
        status = run(argv)
    except BrokenPipeError:  # `bbs logs ... | head`
        status = 0
    sys.exit(status)
