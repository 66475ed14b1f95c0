"""``pareto``: energy against latency over all points, the Pareto front (no point both faster
and cheaper) highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accelsim.plot.style import (
    ENERGY_UNITS,
    TIME_UNITS,
    auto_log,
    colors_for,
    facet_axes,
    pick_unit,
    point_table,
    split_facets,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pareto_front(latency: Sequence[float], energy: Sequence[float]) -> np.ndarray:
    """Boolean mask of the points no other point beats in both latency and energy (both minimised)."""
    lat = np.asarray(latency, dtype=float)
    en = np.asarray(energy, dtype=float)
    order = np.lexsort((en, lat))
    mask = np.zeros(lat.size, dtype=bool)
    best = np.inf
    for i in order:
        if en[i] < best:
            mask[i] = True
            best = en[i]
    return mask


def pareto(df: pd.DataFrame, *, title: str | None = None, annotate: int = 8) -> Figure:
    """Energy against latency of every point (one panel per trace), the Pareto front highlighted."""
    t = point_table(df)
    tscale, tunit = pick_unit(t["time_s"], TIME_UNITS)
    escale, eunit = pick_unit(t["energy_pj"], ENERGY_UNITS)
    color_key = "preset" if "preset" in t else "accelerator"
    colors = colors_for(t[color_key])
    facets = split_facets(t)
    fig, axes = facet_axes(len(facets), width=7.0, height=5.0)
    key_handles = []
    from matplotlib.lines import Line2D

    for ax, (trace, sub) in zip(axes, facets, strict=True):
        x = sub["time_s"].to_numpy() / tscale
        y = sub["energy_pj"].to_numpy() / escale
        front = pareto_front(x, y)
        for key, idx in sub.groupby(color_key, sort=False).indices.items():
            ax.scatter(x[idx], y[idx], s=22, color=colors[key], alpha=0.55, label=str(key), edgecolors="none")
        order = np.argsort(x[front])
        fx, fy = x[front][order], y[front][order]
        ax.step(fx, fy, where="post", color="k", linewidth=1.2, label="Pareto front")
        ax.scatter(fx, fy, s=46, facecolors="none", edgecolors="k", linewidths=1.2)
        if front.sum() <= annotate:  # number the front's points; the key names their configs
            cfgs = sub["config"].to_numpy()[front][order]
            for i, (xi, yi, c) in enumerate(zip(fx, fy, cfgs, strict=True), start=1):
                ax.annotate(str(i), (xi, yi), textcoords="offset points", xytext=(4, 5), fontsize="small",
                            fontweight="bold")
                where = f"{trace}: " if len(facets) > 1 else ""
                key_handles.append(Line2D([], [], linestyle="none", marker=f"${i}$", color="k",
                                          label=f"{where}{c}"))
        ax.set_xlabel(f"latency per inference ({tunit})")
        ax.set_ylabel(f"energy per inference ({eunit})")
        auto_log(ax, "x", x)
        auto_log(ax, "y", y)
        ax.grid(True, which="both", alpha=0.3)
        if trace is not None:
            ax.set_title(f"{trace} ({len(sub)} points, {int(front.sum())} on the front)", fontsize="medium")
        for handle in ax.legend(fontsize="small").legend_handles:
            handle.set_alpha(1.0)
    if key_handles:
        fig.legend(handles=key_handles, loc="outside lower center", fontsize="small", title="Pareto-optimal configs",
                   ncols=1 if len(key_handles) < 5 else 2)
    fig.suptitle(title or "Energy vs latency over the design space")
    return fig

