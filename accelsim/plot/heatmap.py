"""``load-heatmap``: per-PE busy fraction (busy cycles / cycles) of one run, as a grid for 2-D
arrays and as bars for 1-D ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accelsim.plot.style import (
    PlotError,
    describe,
    new_figure,
    require_columns,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pe_frame(run, cfg=None) -> pd.DataFrame:
    """The per-PE table of a :class:`~accelsim.results.RunResult` (for :func:`load_heatmap`)."""
    from accelsim.sweep import pe_grid

    rows = []
    for priced in run.layers:
        r = priced.result
        busy = np.asarray(r.pe_busy_cycles, dtype=np.int64).ravel()
        grid = pe_grid(r, cfg) if cfg is not None else tuple(r.extra.get("pe_grid", (1, busy.size)))
        rows.append({"point": f"{priced.trace}@{priced.config}", "trace": priced.trace, "config": priced.config,
                     "layer": r.layer, "cycles": int(r.cycles), "grid_rows": int(grid[0]),
                     "grid_cols": int(grid[1]), "busy_cycles": busy.tolist()})
    return pd.DataFrame(rows)


def load_heatmap(pe: pd.DataFrame, *, point: str | None = None, layer: str | None = None,
                 results: pd.DataFrame | None = None, title: str | None = None) -> Figure:
    """Per-PE busy fraction of one run: a grid for 2-D PE arrays, bars for 1-D ones.

    ``pe`` is the per-PE table (``Store.load_pe()`` of a sweep directory, or :func:`pe_frame` of a
    RunResult). ``point`` picks the run (default: the first); ``layer`` one layer, else all layers
    together (busy cycles summed / cycles summed). ``results`` (the results table) names the run.
    """
    require_columns(pe, ["point", "layer", "cycles", "busy_cycles"], "the load heatmap")
    if pe.empty:
        raise PlotError("the per-PE table is empty")
    point = point if point is not None else pe["point"].iloc[0]
    run = pe[pe["point"] == point]
    if run.empty:
        raise PlotError(f"no run {point!r} in the per-PE table (runs: {', '.join(map(str, pe['point'].unique()[:8]))})")
    if layer is not None:
        run = run[run["layer"] == layer]
        if run.empty:
            raise PlotError(f"run {point} has no layer {layer!r}")
    busy = np.sum([np.asarray(b, dtype=float) for b in run["busy_cycles"]], axis=0)
    cycles = float(run["cycles"].sum())
    frac = busy / cycles if cycles > 0 else np.zeros_like(busy)
    rows = int(run["grid_rows"].iloc[0]) if "grid_rows" in run else 1
    cols = int(run["grid_cols"].iloc[0]) if "grid_cols" in run else busy.size
    balance = float(busy.mean() / busy.max()) if busy.max() > 0 else 1.0
    name = _run_name(point, run, results)
    where = f"layer {layer}" if layer is not None else (f"all {len(run)} layers" if len(run) > 1 else
                                                        f"layer {run['layer'].iloc[0]}")
    if rows > 1 and cols > 1:
        fig, axes = new_figure(1, 1, width=7.2 if cols >= rows else 6.0, height=5.6)
        ax = axes[0, 0]
        im = ax.imshow(frac.reshape(rows, cols), vmin=0.0, vmax=1.0, cmap="viridis", origin="upper",
                       interpolation="nearest", aspect="equal")
        fig.colorbar(im, ax=ax, label="busy fraction (busy cycles / total cycles)", shrink=0.85)
        ax.set_xlabel(f"PE column (0..{cols - 1})")
        ax.set_ylabel(f"PE row (0..{rows - 1})")
    else:
        fig, axes = new_figure(1, 1, width=max(6.4, min(14.0, 0.08 * busy.size + 4)), height=4.0)
        ax = axes[0, 0]
        ax.bar(np.arange(busy.size), frac, width=1.0 if busy.size > 64 else 0.8, color="tab:blue",
               label="PE busy fraction")
        ax.axhline(frac.mean(), color="tab:red", linestyle="--", linewidth=1, label=f"mean {frac.mean():.3f}")
        ax.set_xlabel(f"PE index (0..{busy.size - 1})")
        ax.set_ylabel("busy fraction (busy cycles / total cycles)")
        ax.set_ylim(0, 1.05)
        ax.set_xlim(-0.5, busy.size - 0.5)
        ax.legend(fontsize="small")
    fig.suptitle(title or f"PE load: {name}\n{where}: load balance (mean/max busy) {balance:.3f}, "
                          f"mean busy fraction {frac.mean():.3f}", fontsize="medium", wrap=True)
    return fig


def _run_name(point: str, run: pd.DataFrame, results: pd.DataFrame | None) -> str:
    if results is not None and "point" in results and (results["point"] == point).any():
        r = results[results["point"] == point].iloc[0]
        cols = ["trace"] + [c for c in ("weight_density", "act_density") if c in r and pd.notna(r[c])]
        return f"{r['config']} on {describe(r, cols)}"
    if {"config", "trace"} <= set(run.columns):
        return f"{run['config'].iloc[0]} on {run['trace'].iloc[0]}"
    return str(point)

