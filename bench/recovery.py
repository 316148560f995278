"""Recovery: one replica is killed, N events are written through the others, then it is
restarted; how fast does it catch up, and when does it serve again?

Measured from its log (the new part after the restart): `store_opened`, `catchup_done`
{events, seconds} (its startup pull), `server_serving`; and by polling its `status` until its
heads reach the other replicas' heads (events pushed by the origins count too).
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

from bench import logs
from bench.load import LoadSpec, run_load
from bench.profiling import PySpy
from bench.topology import USER, ClusterRun

CHANNEL = "recovery"
VICTIM = "server-2"


def _heads(run: ClusterRun, name: str) -> dict[str, int]:
    heads = run.status(name, timeout=5.0).get("heads", {})
    return {k: int(v) for k, v in heads.items()} if isinstance(heads, dict) else {}


def run(events: int, clients: int, work: Path, profile_dir: Path | None = None) -> dict[str, Any]:
    with ClusterRun(3, work / "recovery") as run_:
        run_.channel(CHANNEL)
        run_.cluster.kill(VICTIM, signal.SIGKILL)
        spec = LoadSpec(
            run_.broker,
            "publish",
            {"user": USER, "channel": CHANNEL},
            clients,
            duration=900.0,
            warmup=0.0,
            total=events,
            tag="@rec",
            timeout=10.0,
        )
        written = run_load(spec)
        print(
            f"  recovery: {written.completed} events written in {written.seconds:.1f}s "
            f"while {VICTIM} was down",
            flush=True,
        )
        target: dict[str, int] = {}
        for name in run_.servers:
            if name != VICTIM:
                for origin, head in _heads(run_, name).items():
                    target[origin] = max(target.get(origin, 0), head)
        log = run_.log(VICTIM)
        offset = logs.size(log)
        t0 = time.time()
        proc = run_.cluster.start_one(VICTIM)
        spy = (
            PySpy(proc.pid, profile_dir, f"{VICTIM}-catchup")
            if profile_dir is not None
            else contextlib.nullcontext()
        )
        with spy:
            serving = run_.wait_serving(VICTIM, offset, timeout=300)
            full = _wait_heads(run_, target, timeout=300)
        found = logs.read(log, offset, ("store_opened", "catchup_done", "events_applied"))
        opened = next((r["t"] for r in found if r["event"] == "store_opened"), t0)
        catchup = next((r for r in found if r["event"] == "catchup_done"), {})
        applied = [r for r in found if r["event"] == "events_applied"]
        final = _heads(run_, VICTIM)
        missing = sum(max(0, h - final.get(o, 0)) for o, h in target.items())
        total_applied = sum(len(r.get("ids", [])) for r in applied)
        catchup_window = (applied[-1]["t"] - opened) if applied else 0.0
        rate = total_applied / catchup_window if catchup_window > 0 else 0.0
        out = {
            "events_written": written.completed,
            "write_seconds": round(written.seconds, 2),
            "write_errors": written.errors,
            "write_timeouts": written.timeouts,
            "events_applied_after_restart": total_applied,
            "catchup_seconds": round(catchup_window, 3),
            "catchup_events_per_s": round(rate, 1),
            "server_catchup_done": {
                "events": catchup.get("events"),
                "seconds": catchup.get("seconds"),
                "events_per_s": round(catchup["events"] / catchup["seconds"], 1)
                if catchup.get("seconds")
                else None,
            },
            "start_to_store_opened_s": round(opened - t0, 3),
            "start_to_serving_s": round(serving - t0, 3),
            "start_to_caught_up_s": round(full - t0, 3) if full else None,
            "events_missing_at_end": missing,
        }
        print(
            f"  recovery: {total_applied} events applied in {catchup_window:.2f}s "
            f"({rate:.0f}/s); serving after {serving - t0:.2f}s, "
            f"caught up after {out['start_to_caught_up_s']}s",
            flush=True,
        )
        return out


def _wait_heads(run: ClusterRun, target: dict[str, int], timeout: float) -> float | None:
    """Wall time at which the victim's heads reached `target` (None on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            heads = _heads(run, VICTIM)
        except TimeoutError:
            heads = {}
        if all(heads.get(o, 0) >= h for o, h in target.items()):
            return time.time()
        time.sleep(0.05)
    return None
