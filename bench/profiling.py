"""Optional py-spy sampling of a process while a benchmark runs (`--profile`).

Writes <out>/profile-<name>.svg (flame graph of all non-idle threads) and
<out>/profile-<name>.txt: the functions with the largest share of samples (inclusive and
self) and the share of each thread, twice: "wall" (every non-idle thread, so time spent in
SQLite or blocked shows) and "gil" (only the thread holding the GIL: where Python CPU goes).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any


class PySpy:
    """Samples `pid` from enter to exit; a no-op when py-spy is not installed."""

    def __init__(self, pid: int, out: Path, name: str, rate: int = 100) -> None:
        self.pid, self.out, self.name, self.rate = pid, out, name, rate
        self.procs: list[subprocess.Popen] = []
        self.raw = {
            "wall": out / f"profile-{name}.wall.txt",
            "gil": out / f"profile-{name}.gil.txt",
        }

    def __enter__(self) -> PySpy:
        exe = shutil.which("py-spy")
        if exe is None:
            print("  (py-spy not installed: pip install py-spy)")
            return self
        self.out.mkdir(parents=True, exist_ok=True)
        common = [
            exe,
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(self.rate),
            "--nonblocking",
            "--threads",
        ]
        runs = [
            ["--format", "flamegraph", "-o", str(self.out / f"profile-{self.name}.svg")],
            ["--format", "raw", "-o", str(self.raw["wall"])],
            ["--format", "raw", "--gil", "-o", str(self.raw["gil"])],
        ]
        for extra in runs:
            self.procs.append(
                subprocess.Popen(
                    [*common, *extra],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        parts = [
            f"== {kind} ==\n" + render(summarize(path))
            for kind, path in self.raw.items()
            if path.exists()
        ]
        if parts:
            (self.out / f"profile-{self.name}.txt").write_text("\n".join(parts))


def _frame_name(frame: str) -> str:
    """'func (module/path.py:12)' -> 'func (module/path.py)'."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summarize(raw: Path, top: int = 25) -> dict[str, Any]:
    """Inclusive and self shares of sampled functions, and per-thread shares."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            n = int(count)
            frames = stack.split(";")
            total += n
            threads[frames[0]] += n
            names = [_frame_name(f) for f in frames[1:]]
            for name in set(names):
                inclusive[name] += n
            if names:
                own[names[-1]] += n
    if not total:
        return {"samples": 0, "inclusive": [], "self": [], "threads": []}

    def pct(c: Counter[str]) -> list[tuple[str, float]]:
        return [(k, round(100.0 * v / total, 1)) for k, v in c.most_common(top)]

    return {
        "samples": total,
        "inclusive": pct(inclusive),
        "self": pct(own),
        "threads": pct(threads),
    }


def render(summary: dict[str, Any]) -> str:
    lines = [f"samples: {summary['samples']}", "", "threads:"]
    lines += [f"  {p:5.1f}%  {k}" for k, p in summary["threads"]]
    lines += ["", "inclusive:"] + [f"  {p:5.1f}%  {k}" for k, p in summary["inclusive"]]
    lines += ["", "self:"] + [f"  {p:5.1f}%  {k}" for k, p in summary["self"]]
    return "\n".join(lines) + "\n"
