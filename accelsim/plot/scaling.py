"""``scaling``: speedup (over the smallest PE count of the same series) and utilisation against
PE count. Where several shapes have the same PE count, the fastest is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accelsim.plot.style import (
    MARKERS,
    PlotError,
    auto_log,
    colors_for,
    describe,
    log_axis,
    new_figure,
    point_table,
    require_columns,
    varying_columns,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def scaling(df: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Speedup over the smallest PE count, and utilisation, against PE count; one line per series.

    A series is everything that identifies a point except its config grid: (trace, chip preset,
    densities); seeds are averaged.
    """
    t = point_table(df)
    require_columns(t, ["pes", "utilization"], "the scaling plot")
    series_cols = [c for c in ("workload", "preset" if "preset" in t else "accelerator", "weight_density",
                               "act_density") if c in t]
    t = t.copy()
    for c in series_cols:
        if t[c].dtype.kind == "f":
            t[c] = t[c].fillna(-1.0)
    per = t.groupby(series_cols + ["config", "pes"], sort=False, dropna=False)[["time_s", "utilization"]].mean()
    per = per.reset_index()
    # where several shapes share a PE count, keep the fastest
    best = per.loc[per.groupby(series_cols + ["pes"], sort=False, dropna=False)["time_s"].idxmin()]
    shared = len(best) < len(per)
    if best.groupby(series_cols, sort=False, dropna=False)["pes"].nunique().max() < 2:
        raise PlotError("the scaling plot needs a series with at least two PE counts (sweep a PE-count field, "
                        "e.g. pe_count or rows/cols)")
    label_cols = varying_columns(best, series_cols) or series_cols[1:2]
    fig, axes = new_figure(1, 2)
    ax_s, ax_u = axes[0]
    groups = list(best.groupby(series_cols, sort=False, dropna=False))
    colors = colors_for([k for k, _ in groups])
    pes_all = best["pes"].astype(float)
    for i, (key, g) in enumerate(groups):
        g = g.sort_values("pes")
        speed = g["time_s"].iloc[0] / g["time_s"]
        label = describe(g.iloc[0].replace(-1.0, np.nan), label_cols)
        marker = MARKERS[i % len(MARKERS)]
        ax_s.plot(g["pes"], speed, marker=marker, color=colors[key], label=label)
        lo, hi = float(g["pes"].iloc[0]), float(g["pes"].iloc[-1])
        ax_s.plot([lo, hi], [1, hi / lo], color=colors[key], linestyle=":", linewidth=1, alpha=0.8)
        ax_u.plot(g["pes"], g["utilization"] * 100, marker=marker, color=colors[key], label=label)
    ax_s.plot([], [], color="0.4", linestyle=":", linewidth=1, label="ideal (linear), per series")
    lo, hi = pes_all.min(), pes_all.max()
    for ax in (ax_s, ax_u):
        ax.set_xlabel("PE count" + (" (fastest shape per count)" if shared else ""))
        if pes_all.nunique() > 1:
            log_axis(ax, "x", base=2)
        ax.grid(True, which="both", alpha=0.3)
    ax_s.set_ylabel("speedup over the smallest PE count (x)")
    auto_log(ax_s, "y", [1, hi / lo])
    ax_u.set_ylabel("MAC utilisation (% of multiplier-cycles)")
    ax_u.set_ylim(0, 105)
    ax_s.legend(fontsize="small")
    ax_s.set_title("speedup", fontsize="medium")
    ax_u.set_title("utilisation", fontsize="medium")
    fixed = [c for c in ("weight_density", "act_density") if c in best and c not in label_cols
             and best[c].nunique() == 1 and best[c].iloc[0] >= 0]
    fig.suptitle(title or "Scaling with PE count" + (f" ({describe(best.iloc[0], fixed)})" if fixed else ""))
    return fig

