"""``energy-breakdown``: stacked bars per energy component, per layer of one run or per config;
a lower panel shows each bar's shares."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accelsim.plot.style import (
    ENERGY_UNITS,
    PlotError,
    colors_for,
    describe,
    first_workload,
    new_figure,
    pick_unit,
    point_table,
    workload_columns,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


def energy_breakdown(df: pd.DataFrame, *, by: str = "auto", title: str | None = None) -> Figure:
    """Stacked energy per component: per layer of one run (``by="layer"``) or per config (``"config"``).

    ``by="auto"`` picks ``config`` when the table holds several points, else ``layer``. With
    ``by="layer"`` and several points, the first point is drawn (filter the table to choose).
    """
    comps = [c for c in df.columns if c.startswith("energy_pj.") and (df[c].fillna(0) != 0).any()]
    if not comps:
        raise PlotError("the table has no energy_pj.<component> columns")
    t = point_table(df)
    if by == "auto":
        by = "config" if len(t) > 1 else "layer"
    if by == "layer":
        if "layer" not in df:
            raise PlotError("by='layer' needs the per-layer table")
        first = t.iloc[0]
        if "point" in df:
            data = df[df["point"] == first["point"]]
        else:
            data = df[(df["trace"] == first["trace"]) & (df["config"] == first["config"])]
        labels = list(data["layer"].astype(str))
        what = f"per layer: {first['config']} on {describe(first, workload_columns(t, all_=True))}"
        if len(t) > 1:
            log.info("energy-breakdown by layer: drawing the first of %d points (%s)", len(t), what)
    elif by == "config":
        data, first = first_workload(t, "energy-breakdown")
        labels = list(data["config"].astype(str))
        what = f"per config on {describe(first, workload_columns(t, all_=True) + ['skipped_layers'])}"
        if len(data) > 60:
            raise PlotError(f"{len(data)} bars: too many for one figure; filter the table (e.g. --where trace=...)")
    else:
        raise PlotError(f"by={by!r}: expected auto, layer or config")
    values = data[comps].fillna(0.0).to_numpy(dtype=float)
    totals = values.sum(axis=1)
    scale, unit = pick_unit(totals, ENERGY_UNITS)
    fig, axes = new_figure(2, 1, width=max(6.4, 0.45 * len(labels) + 2.5), height=3.4,
                            gridspec_kw={"height_ratios": [2.2, 1]}, sharex=True)
    ax, ax_share = axes[:, 0]
    colors = colors_for(comps)
    xs = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    share_bottom = np.zeros(len(labels))
    shares = values / np.where(totals > 0, totals, 1.0)[:, None] * 100
    for j, c in enumerate(comps):
        name = c.removeprefix("energy_pj.")
        ax.bar(xs, values[:, j] / scale, bottom=bottom, color=colors[c], label=name, width=0.75)
        ax_share.bar(xs, shares[:, j], bottom=share_bottom, color=colors[c], width=0.75)
        bottom += values[:, j] / scale
        share_bottom += shares[:, j]
    ax.set_ylabel(f"energy ({unit})")
    ax.legend(title="component", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    ax.margins(y=0.12)
    ax_share.set_ylabel("share (%)")
    ax_share.set_ylim(0, 100)
    ax_share.set_xticks(xs, labels, rotation=35 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center",
                        fontsize="small")
    ax_share.set_xlabel("layer" if by == "layer" else "config")
    fig.suptitle(title or f"Energy breakdown {what}")
    return fig

