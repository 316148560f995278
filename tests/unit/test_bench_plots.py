"""The benchmark plots: logarithmic throughput, and legends that cover no line (below the
axes). Needs the bench extra (matplotlib)."""

from __future__ import annotations

import pytest

from bench import plots

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


def levels(*rows: tuple[int, float, float, float]) -> dict:
    keys = ("clients", "throughput", "p50_ms", "p99_ms")
    return {"levels": [dict(zip(keys, row, strict=True)) for row in rows]}


RESULTS = {
    "meta": {"date": "2026-11-26", "machine": "2 cores"},
    "ceiling": levels((1, 4007, 0.3, 0.3), (8, 13022, 0.6, 1.0), (32, 23244, 1.3, 2.4)),
    "publish": {"r3": levels((1, 384, 2.5, 4.2), (8, 633, 12.4, 21.7), (32, 1318, 23.5, 43.5))},
    "fanout": {
        "levels": [
            {"subscribers": n, "delivered_per_s_per_subscriber": r, "deliveries_per_s_total": r * n}
            for n, r in ((1, 1292), (10, 1280), (100, 925))
        ]
    },
}


def test_every_axis_is_logarithmic_and_every_legend_is_below_its_axes() -> None:
    figures = plots.figures(RESULTS, plt)
    assert set(figures) == {"throughput_latency.png", "fanout.png"}
    for fig in figures.values():
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
            legend = ax.get_legend().get_window_extent(renderer)
            assert legend.y1 < ax.get_window_extent(renderer).y0  # outside, under the axes
        plt.close(fig)


def test_draw_writes_the_pictures(tmp_path) -> None:
    paths = plots.draw(RESULTS, tmp_path)
    assert [p.name for p in paths] == ["throughput_latency.png", "fanout.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
