"""PNG plots of throughput and latency against client concurrency, and of fan-out.

Every axis is logarithmic (figures span orders of magnitude: the ceiling is ~10x the
replicated path), and each legend sits below its axes, outside them, so it covers no line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _legend_below(ax: Any) -> None:
    """The legend under the axes (savefig's tight box keeps it in the picture)."""
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def _request_path(plt: Any, series: list[tuple[str, list[dict]]], stamp: str) -> Any:
    fig, (ax_t, ax_l) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, rows in series:
        x = [r["clients"] for r in rows]
        ax_t.plot(x, [r["throughput"] for r in rows], marker="o", label=label)
        line = ax_l.plot(x, [r["p99_ms"] for r in rows], marker="o", label=f"{label} p99")
        ax_l.plot(
            x,
            [r["p50_ms"] for r in rows],
            marker="x",
            linestyle="--",
            color=line[0].get_color(),
            label=f"{label} p50",
        )
    ax_l.axhline(25, color="grey", linewidth=0.8, linestyle=":", label="p99 target 25 ms")
    ticks = sorted({r["clients"] for _, rows in series for r in rows})
    for ax, title, unit in ((ax_t, "Throughput", "requests/s"), (ax_l, "Latency", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        _legend_below(ax)
    fig.suptitle(f"BBS request path — {stamp}", fontsize=10)
    return fig


def _fanout(plt: Any, fan: list[dict], stamp: str) -> Any:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    x = [r["subscribers"] for r in fan]
    ax.plot(
        x,
        [r["delivered_per_s_per_subscriber"] for r in fan],
        marker="o",
        label="publications/s delivered to each subscriber",
    )
    ax.plot(
        x,
        [r["deliveries_per_s_total"] for r in fan],
        marker="s",
        label="deliveries/s, all subscribers",
    )
    ax.set_xscale("log")
    ax.set_xticks(x, [str(n) for n in x])
    ax.set_yscale("log")
    ax.set_xlabel("subscribers of the channel")
    ax.set_ylabel("messages/s")
    ax.set_title(f"Fan-out — {stamp}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    _legend_below(ax)
    return fig


def figures(res: dict[str, Any], plt: Any) -> dict[str, Any]:
    """file name -> the matplotlib figure, for the plots the results allow."""
    series = []
    if res.get("ceiling"):
        series.append(("ceiling (no work)", res["ceiling"]["levels"]))
    for key, label in (("r1", "publish, 1 replica"), ("r3", "publish, 3 replicas")):
        if res.get("publish", {}).get(key):
            series.append((label, res["publish"][key]["levels"]))
    stamp = f"{res['meta']['date']} · {res['meta']['machine']}"
    out = {}
    if series:
        out["throughput_latency.png"] = _request_path(plt, series, stamp)
    fan = res.get("fanout", {}).get("levels")
    if fan:
        out["fanout.png"] = _fanout(plt, fan, stamp)
    return out


def draw(res: dict[str, Any], out: Path) -> list[Path]:
    """Writes the plots the results allow; returns their paths ([] without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib not installed: pip install matplotlib, or the bench extra)")
        return []
    paths = []
    for name, fig in figures(res, plt).items():
        fig.tight_layout()
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
        plt.close(fig)
    return paths
