"""Process lifetimes and which servers were alive at the end of a run, from the logs alone.

A node's log file holds every lifetime of that node (a restarted process appends to it). A
new lifetime starts at:
- a `store_opened` line (a server opening its store is always the start of a process), or
- a line whose Lamport clock is lower than the previous line's when the previous line is
  `stopped` or when at least `restart_gap` seconds of silence separate them (a process
  killed with SIGKILL leaves no last words; its successor restarts its clock from 0).

A server is *alive at the end* when the last line of its log is at most `end_slack` seconds
older than the last line any server wrote. A server killed and never restarted simply ends
early and is excluded; so is a server stopped long before the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ops.log_reader import LogLine, by_node

SERVER = "server"
RESTART_GAP = 0.5
END_SLACK = 5.0


@dataclass
class Lifetime:
    node: str
    role: str
    lines: list[LogLine] = field(default_factory=list)

    @property
    def first(self) -> LogLine:
        return self.lines[0]

    @property
    def last(self) -> LogLine:
        return self.lines[-1]

    @property
    def start(self) -> float | None:
        return next((ln.time for ln in self.lines if ln.time is not None), None)

    @property
    def end(self) -> float | None:
        return next((ln.time for ln in reversed(self.lines) if ln.time is not None), None)


def _starts_lifetime(prev: LogLine, line: LogLine, restart_gap: float) -> bool:
    if line.event == "store_opened":
        return True
    if prev.lamport is None or line.lamport is None or line.lamport >= prev.lamport:
        return False
    if prev.event == "stopped":
        return True
    return prev.time is not None and line.time is not None and line.time - prev.time >= restart_gap


def split(lines: list[LogLine], restart_gap: float = RESTART_GAP) -> list[Lifetime]:
    """The lifetimes of one node's lines, given in file order."""
    lifetimes: list[Lifetime] = []
    for line in lines:
        if not lifetimes or _starts_lifetime(lifetimes[-1].last, line, restart_gap):
            lifetimes.append(Lifetime(line.node, line.role))
        lifetimes[-1].lines.append(line)
    return lifetimes


@dataclass
class RunView:
    """Every node's lifetimes and the servers alive at the end of the run."""

    lifetimes: dict[str, list[Lifetime]]
    end: float | None
    live: set[str]
    end_slack: float

    @property
    def servers(self) -> list[str]:
        return sorted(n for n, lts in self.lifetimes.items() if lts[0].role == SERVER)

    def final(self, node: str) -> Lifetime:
        return self.lifetimes[node][-1]

    def ended_early(self) -> list[str]:
        return [n for n in self.servers if n not in self.live]


def view(
    lines: Iterable[LogLine], restart_gap: float = RESTART_GAP, end_slack: float = END_SLACK
) -> RunView:
    lifetimes: dict[str, list[Lifetime]] = {}
    for (_, node), stream in by_node(lines):
        lifetimes.setdefault(node, []).extend(split(stream, restart_gap))
    ends = {
        node: lts[-1].end
        for node, lts in lifetimes.items()
        if lts[0].role == SERVER and lts[-1].end is not None
    }
    end = max(ends.values(), default=None)
    live = {n for n, t in ends.items() if end is not None and end - t <= end_slack}
    return RunView(lifetimes, end, live, end_slack)
