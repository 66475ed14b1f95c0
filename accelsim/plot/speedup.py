"""``speedup``: per-layer speedup of each config over a baseline config, for one workload."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accelsim.plot.style import (
    LOG_RATIO,
    PlotError,
    colors_for,
    describe,
    first_workload,
    log_axis,
    new_figure,
    note_partial,
    require_columns,
    spans_decades,
    workload_columns,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def speedup(df: pd.DataFrame, *, baseline: str | None = None, title: str | None = None) -> Figure:
    """Per-layer speedup (baseline time / time) of every config over ``baseline``, for one workload.

    ``baseline`` is a config label or a preset name with one config (default: the first config).
    The workload (trace, densities, seed) is the first in the table; filter it to choose another.
    A last group of bars, "total", is the whole trace.
    """
    require_columns(df, ["layer", "config", "time_s"], "the speedup plot")
    if df.empty:
        raise PlotError("the results table is empty")
    data, first = first_workload(df, "speedup", same_layers=False)
    configs = list(dict.fromkeys(data["config"]))
    if baseline is None:
        baseline = configs[0]
    elif baseline not in configs:
        matches = list(dict.fromkeys(data.loc[data.get("preset", data["config"]) == baseline, "config"]))
        if len(matches) != 1:
            raise PlotError(f"baseline {baseline!r} is not one config of this workload (configs: {', '.join(configs)})")
        baseline = matches[0]
    if len(configs) < 2:
        raise PlotError("the speedup plot needs at least two configs of the same workload")
    times = data.pivot_table(index="layer", columns="config", values="time_s", aggfunc="mean", sort=False)
    times = times.reindex(list(dict.fromkeys(data["layer"])))
    times.loc["total"] = times.sum(axis=0, skipna=False)
    others = [c for c in configs if c != baseline]
    ratio = times[[baseline]].to_numpy() / times[others].to_numpy()
    fig, axes = new_figure(1, 1, width=max(6.4, 0.5 * len(times) * max(1, len(others)) ** 0.5 + 3), height=4.6)
    ax = axes[0, 0]
    colors = colors_for(others)
    width = 0.8 / len(others)
    xs = np.arange(len(times))
    for j, c in enumerate(others):
        ax.bar(xs - 0.4 + width * (j + 0.5), ratio[:, j], width=width, color=colors[c], label=c)
    ax.axhline(1.0, color="k", linewidth=1, linestyle="--", label=f"baseline: {baseline}")
    ax.set_xticks(xs, list(times.index), rotation=35 if len(xs) > 4 else 0, ha="right" if len(xs) > 4 else "center",
                  fontsize="small")
    ax.set_xlabel("layer")
    ax.set_ylabel(f"speedup over {baseline} (x, higher is faster)")
    finite = ratio[np.isfinite(ratio)]
    if finite.size and (spans_decades(np.append(finite, 1.0)) or finite.min() < 1 / LOG_RATIO ** 0.5):
        log_axis(ax, "y")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title or f"Per-layer speedup on {describe(first, workload_columns(df, all_=True))}")
    note_partial(fig, data)
    return fig

