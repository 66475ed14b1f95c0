"""``latency-vs-density`` / ``energy-vs-density``: whole-trace latency / energy against weight (or
activation) density, one line per config; seeds are averaged."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from accelsim.plot.style import (
    DENSITY_LABELS,
    ENERGY_UNITS,
    LINESTYLES,
    MARKERS,
    TIME_UNITS,
    auto_log,
    colors_for,
    density_column,
    facet_axes,
    pick_unit,
    point_table,
    split_facets,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _vs_density(df: pd.DataFrame, metric: str, x: str, title: str | None) -> Figure:
    t = point_table(df)
    xcol = density_column(t, x)
    other = "act_density" if "weight" in xcol else "weight_density"
    if other in t and t[other].isna().all():
        other = None
    series_key = "config"
    t = t.copy()
    t["_other"] = t[other].fillna(-1.0) if other else 0.0
    # seeds are averaged: one value per (config, other density, x)
    agg = t.groupby(["workload", series_key, "_other", xcol], sort=False, dropna=False)[metric].mean().reset_index()
    scale, unit = (pick_unit(agg[metric], TIME_UNITS) if metric == "time_s" else pick_unit(agg[metric], ENERGY_UNITS))
    colors = colors_for(agg[series_key])
    markers = {c: MARKERS[i % len(MARKERS)] for i, c in enumerate(colors)}  # tells overlapping lines apart
    others = list(dict.fromkeys(sorted(agg["_other"].unique(), reverse=True)))
    styles = {o: LINESTYLES[i % len(LINESTYLES)] for i, o in enumerate(others)}
    facets = split_facets(agg)
    fig, axes = facet_axes(len(facets))
    what = "Latency" if metric == "time_s" else "Energy"
    for ax, (trace, sub) in zip(axes, facets, strict=True):
        for (cfg, o), line in sub.groupby([series_key, "_other"], sort=False):
            line = line.sort_values(xcol)
            ax.plot(line[xcol], line[metric] / scale, color=colors[cfg], linestyle=styles[o], marker=markers[cfg],
                    markersize=5, markerfacecolor="none" if o != others[0] else colors[cfg])
        ax.set_xlabel(f"{DENSITY_LABELS[xcol]} (fraction non-zero)")
        ax.set_ylabel(f"{'latency' if metric == 'time_s' else 'energy'} per inference ({unit})")
        auto_log(ax, "x", sub[xcol])
        auto_log(ax, "y", sub[metric])
        ax.grid(True, which="both", alpha=0.3)
        if trace is not None:
            ax.set_title(str(trace), fontsize="medium")
    # one legend for all panels: colour = config, line style = the other density (when it varies)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[c], marker=markers[c], markersize=5, label=c) for c in colors]
    if len(others) > 1:
        handles += [Line2D([], [], color="0.3", linestyle=styles[o],
                           label=f"{DENSITY_LABELS[other]} {'preset' if o < 0 else f'{o:g}'}") for o in others]
    fig.legend(handles=handles, loc="outside right upper", fontsize="small")
    fig.suptitle(title or f"{what} vs {DENSITY_LABELS[xcol]}")
    return fig


def latency_vs_density(df: pd.DataFrame, *, x: str = "weight_density", title: str | None = None) -> Figure:
    """Whole-trace latency against density, one line per config (one panel per trace)."""
    return _vs_density(df, "time_s", x, title)


def energy_vs_density(df: pd.DataFrame, *, x: str = "weight_density", title: str | None = None) -> Figure:
    """Whole-trace energy against density, one line per config (one panel per trace)."""
    return _vs_density(df, "energy_pj", x, title)

