"""Figures of sweep results (matplotlib): each function takes a results table and returns a Figure.

The table is the layer-level one of :func:`accelsim.sweep` / ``accelsim results`` (or
``RunResult.to_frame()``); points are summed over their layers with
:func:`accelsim.sweep_results.point_totals`. Figures are built with ``matplotlib.figure.Figure``
(no pyplot state), so they are safe in scripts and notebooks alike::

    df = accelsim.sweep("configs/sweeps/density.yaml")
    fig = accelsim.plot.latency_vs_density(df)
    fig.savefig("latency.png")

Kinds (``accelsim plot RESULTS -k KIND -o FILE.png|svg``):

* ``latency-vs-density`` / ``energy-vs-density``: whole-trace latency / energy against weight (or
  activation) density, one line per config; seeds are averaged.
* ``scaling``: speedup (over the smallest PE count of the same series) and utilisation against
  PE count. Where several shapes have the same PE count, the fastest is kept.
* ``energy-breakdown``: stacked bars per energy component, per layer of one run or per config;
  a lower panel shows each bar's shares.
* ``pareto``: energy against latency over all points, the Pareto front (no point both faster
  and cheaper) highlighted.
* ``load-heatmap``: per-PE busy fraction (busy cycles / cycles) of one run, as a grid for 2-D
  arrays and as bars for 1-D ones.
* ``speedup``: per-layer speedup of each config over a baseline config, for one workload.

Axes with a range of more than ``LOG_RATIO`` (max / min) use a log scale.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from accelsim.errors import AccelsimError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


#: a positive axis whose max / min exceeds this is drawn on a log scale
LOG_RATIO = 10.0
TIME_UNITS = [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]
ENERGY_UNITS = [(1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ"), (1.0, "pJ")]  # in pJ
DENSITY_LABELS = {"weight_density": "weight density", "act_density": "activation density",
                  "layer_weight_density": "weight density (measured)",
                  "layer_act_density": "activation density (measured)"}
LINESTYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


class PlotError(AccelsimError):
    """The table cannot make the requested figure (missing columns, nothing selected)."""


# ---------------------------------------------------------------------------------------- helpers
def _new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 4.4,
                **kw: Any) -> tuple[Figure, np.ndarray]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _unit(values: Sequence[float] | pd.Series, units: list[tuple[float, str]]) -> tuple[float, str]:
    """The largest unit in which the median magnitude is at least 1."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return units[-1]
    med = float(np.median(v))
    for scale, name in units:
        if med >= scale:
            return scale, name
    return units[-1]


def _spans_decades(values: Sequence[float] | pd.Series) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size and v.min() > 0 and v.max() / v.min() > LOG_RATIO)


def _log_axis(ax: Axes, axis: str, base: float = 10) -> None:
    """A log axis with plain tick labels (0.05, 0.1, 0.2 ...; 16, 64, 256), not 10^-1.3."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    which = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)
    if base == 10:
        which.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    which.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    which.set_minor_formatter(NullFormatter())


def _auto_log(ax: Axes, axis: str, values: Sequence[float] | pd.Series, base: float = 10) -> None:
    if _spans_decades(values):
        _log_axis(ax, axis, base)


def _colors(keys: Sequence[Any]) -> dict[Any, Any]:
    from matplotlib import colormaps

    keys = list(dict.fromkeys(keys))
    cmap = colormaps["tab10" if len(keys) <= 10 else "tab20"]
    return {k: cmap(i % cmap.N) for i, k in enumerate(keys)}


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df]
    if missing:
        raise PlotError(f"{what} needs column(s) {', '.join(missing)} (tables from `accelsim sweep` have them)")


def _totals(df: pd.DataFrame) -> pd.DataFrame:
    from accelsim.sweep_results import point_totals

    if df is None or len(df) == 0:
        raise PlotError("the results table is empty")
    t = point_totals(df)
    # a chip that ran only some layers of a trace ran another workload: totals compare within a workload
    skipped = t["skipped_layers"].fillna("").astype(str) if "skipped_layers" in t else ""
    t["workload"] = t["trace"].astype(str) + np.where(skipped != "", " without " + skipped, "")
    return t


def _note_partial(fig: Figure, t: pd.DataFrame) -> None:
    """Say under the figure which points ran only some layers (chips that cannot run a layer kind)."""
    if "skipped_layers" not in t:
        return
    part = t[t["skipped_layers"].fillna("").astype(str) != ""]
    if part.empty:
        return
    who = "preset" if "preset" in part else "accelerator"
    items = list(dict.fromkeys(f"{r[who]} on {r['trace']} without {r['skipped_layers']}" for _, r in part.iterrows()))
    more = f"; and {len(items) - 3} more" if len(items) > 3 else ""
    fig.supxlabel("Partial runs (layers of kinds the chip cannot run are left out): " + "; ".join(items[:3]) + more,
                  fontsize="x-small", color="0.3")


def _facets(t: pd.DataFrame, by: str = "workload") -> list[tuple[Any, pd.DataFrame]]:
    return list(t.groupby(by, sort=False)) if by in t else [(None, t)]


def _facet_axes(n: int, **kw: Any) -> tuple[Figure, list[Axes]]:
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = _new_figure(nrows, ncols, **kw)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _varying(t: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` that take more than one value in ``t``."""
    return [c for c in columns if c in t and t[c].nunique(dropna=False) > 1]


def _describe(row: Mapping[str, Any] | pd.Series, columns: Sequence[str]) -> str:
    short = {"weight_density": "wd", "act_density": "ad", "trace": "", "workload": "", "config": "", "accelerator": "",
             "seed": "seed", "preset": ""}
    parts = []
    for c in columns:
        if c not in row:
            continue
        v = row[c]
        if c == "skipped_layers":
            if isinstance(v, str) and v:
                parts.append(f"without {v}")
            continue
        if isinstance(v, float):
            v = "preset" if math.isnan(v) else f"{v:g}"
        name = short.get(c, c.removeprefix("param."))
        parts.append(f"{name}={v}" if name else str(v))
    return " ".join(parts)


def _x_density(t: pd.DataFrame, x: str) -> str:
    """The density column to plot: the nominal one when the sweep set it, else the measured one."""
    if x not in DENSITY_LABELS:
        raise PlotError(f"x={x!r}: expected weight_density or act_density")
    if x in t and t[x].notna().any():
        return x
    measured = "layer_" + x.removeprefix("layer_")
    if measured in t and t[measured].notna().any():
        return measured
    raise PlotError(f"the table has no {DENSITY_LABELS[x]} values (column {x})")


def select(df: pd.DataFrame, where: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Rows where every ``column == value`` (floats compared with a relative tolerance)."""
    for col, value in (where or {}).items():
        if col not in df:
            raise PlotError(f"--where {col}: no such column (columns: {', '.join(map(str, df.columns))})")
        s = df[col]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and pd.api.types.is_numeric_dtype(s):
            mask = np.isclose(s.astype(float), float(value), rtol=1e-9, atol=0)
        else:
            mask = s.astype(str) == str(value)
        df = df[mask]
        if df.empty:
            raise PlotError(f"no rows with {col} = {value!r}")
    return df


# ------------------------------------------------------------------------------ density sweeps
def _vs_density(df: pd.DataFrame, metric: str, x: str, title: str | None) -> Figure:
    t = _totals(df)
    xcol = _x_density(t, x)
    other = "act_density" if "weight" in xcol else "weight_density"
    if other in t and t[other].isna().all():
        other = None
    series_key = "config"
    t = t.copy()
    t["_other"] = t[other].fillna(-1.0) if other else 0.0
    # seeds are averaged: one value per (config, other density, x)
    agg = t.groupby(["workload", series_key, "_other", xcol], sort=False, dropna=False)[metric].mean().reset_index()
    scale, unit = (_unit(agg[metric], TIME_UNITS) if metric == "time_s" else _unit(agg[metric], ENERGY_UNITS))
    colors = _colors(agg[series_key])
    markers = {c: MARKERS[i % len(MARKERS)] for i, c in enumerate(colors)}  # tells overlapping lines apart
    others = list(dict.fromkeys(sorted(agg["_other"].unique(), reverse=True)))
    styles = {o: LINESTYLES[i % len(LINESTYLES)] for i, o in enumerate(others)}
    facets = _facets(agg)
    fig, axes = _facet_axes(len(facets))
    what = "Latency" if metric == "time_s" else "Energy"
    for ax, (trace, sub) in zip(axes, facets, strict=True):
        for (cfg, o), line in sub.groupby([series_key, "_other"], sort=False):
            line = line.sort_values(xcol)
            ax.plot(line[xcol], line[metric] / scale, color=colors[cfg], linestyle=styles[o], marker=markers[cfg],
                    markersize=5, markerfacecolor="none" if o != others[0] else colors[cfg])
        ax.set_xlabel(f"{DENSITY_LABELS[xcol]} (fraction non-zero)")
        ax.set_ylabel(f"{'latency' if metric == 'time_s' else 'energy'} per inference ({unit})")
        _auto_log(ax, "x", sub[xcol])
        _auto_log(ax, "y", sub[metric])
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


# ------------------------------------------------------------------------------------- scaling
def scaling(df: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Speedup over the smallest PE count, and utilisation, against PE count; one line per series.

    A series is everything that identifies a point except its config grid: (trace, chip preset,
    densities); seeds are averaged.
    """
    t = _totals(df)
    _require(t, ["pes", "utilization"], "the scaling plot")
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
    label_cols = _varying(best, series_cols) or series_cols[1:2]
    fig, axes = _new_figure(1, 2)
    ax_s, ax_u = axes[0]
    groups = list(best.groupby(series_cols, sort=False, dropna=False))
    colors = _colors([k for k, _ in groups])
    pes_all = best["pes"].astype(float)
    for i, (key, g) in enumerate(groups):
        g = g.sort_values("pes")
        speed = g["time_s"].iloc[0] / g["time_s"]
        label = _describe(g.iloc[0].replace(-1.0, np.nan), label_cols)
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
            _log_axis(ax, "x", base=2)
        ax.grid(True, which="both", alpha=0.3)
    ax_s.set_ylabel("speedup over the smallest PE count (x)")
    _auto_log(ax_s, "y", [1, hi / lo])
    ax_u.set_ylabel("MAC utilisation (% of multiplier-cycles)")
    ax_u.set_ylim(0, 105)
    ax_s.legend(fontsize="small")
    ax_s.set_title("speedup", fontsize="medium")
    ax_u.set_title("utilisation", fontsize="medium")
    fixed = [c for c in ("weight_density", "act_density") if c in best and c not in label_cols
             and best[c].nunique() == 1 and best[c].iloc[0] >= 0]
    fig.suptitle(title or "Scaling with PE count" + (f" ({_describe(best.iloc[0], fixed)})" if fixed else ""))
    return fig


# ----------------------------------------------------------------------------- energy breakdown
def energy_breakdown(df: pd.DataFrame, *, by: str = "auto", title: str | None = None) -> Figure:
    """Stacked energy per component: per layer of one run (``by="layer"``) or per config (``"config"``).

    ``by="auto"`` picks ``config`` when the table holds several points, else ``layer``. With
    ``by="layer"`` and several points, the first point is drawn (filter the table to choose).
    """
    comps = [c for c in df.columns if c.startswith("energy_pj.") and (df[c].fillna(0) != 0).any()]
    if not comps:
        raise PlotError("the table has no energy_pj.<component> columns")
    t = _totals(df)
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
        what = f"per layer: {first['config']} on {_describe(first, _workload_cols(t, all_=True))}"
        if len(t) > 1:
            log.info("energy-breakdown by layer: drawing the first of %d points (%s)", len(t), what)
    elif by == "config":
        data, first = _first_workload(t, "energy-breakdown")
        labels = list(data["config"].astype(str))
        what = f"per config on {_describe(first, _workload_cols(t, all_=True) + ['skipped_layers'])}"
        if len(data) > 60:
            raise PlotError(f"{len(data)} bars: too many for one figure; filter the table (e.g. --where trace=...)")
    else:
        raise PlotError(f"by={by!r}: expected auto, layer or config")
    values = data[comps].fillna(0.0).to_numpy(dtype=float)
    totals = values.sum(axis=1)
    scale, unit = _unit(totals, ENERGY_UNITS)
    fig, axes = _new_figure(2, 1, width=max(6.4, 0.45 * len(labels) + 2.5), height=3.4,
                            gridspec_kw={"height_ratios": [2.2, 1]}, sharex=True)
    ax, ax_share = axes[:, 0]
    colors = _colors(comps)
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


def _first_workload(df: pd.DataFrame, what: str, *, same_layers: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """The rows of the table's first workload (trace, densities, seed; and the layers run, if
    ``same_layers``) and that first row."""
    cols = _workload_cols(df) + (["skipped_layers"] if same_layers and "skipped_layers" in df else [])
    first = df.iloc[0]
    mask = np.ones(len(df), dtype=bool)
    for c in cols:
        mask &= (df[c].isna() & pd.isna(first[c])) | (df[c] == first[c])
    if mask.sum() < len(df):
        log.info("%s: drawing the workload %s (the table holds others; filter to choose)", what,
                 _describe(first, cols))
    return df[mask], first


def _workload_cols(t: pd.DataFrame, all_: bool = False) -> list[str]:
    cols = [c for c in ("trace", "weight_density", "act_density", "seed") if c in t]
    if all_:
        return [c for c in cols if not (t[c].dtype.kind == "f" and t[c].isna().all())]
    return cols


# -------------------------------------------------------------------------------------- pareto
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
    t = _totals(df)
    tscale, tunit = _unit(t["time_s"], TIME_UNITS)
    escale, eunit = _unit(t["energy_pj"], ENERGY_UNITS)
    color_key = "preset" if "preset" in t else "accelerator"
    colors = _colors(t[color_key])
    facets = _facets(t)
    fig, axes = _facet_axes(len(facets), width=7.0, height=5.0)
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
        _auto_log(ax, "x", x)
        _auto_log(ax, "y", y)
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


# -------------------------------------------------------------------------------- load heatmap
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
    _require(pe, ["point", "layer", "cycles", "busy_cycles"], "the load heatmap")
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
        fig, axes = _new_figure(1, 1, width=7.2 if cols >= rows else 6.0, height=5.6)
        ax = axes[0, 0]
        im = ax.imshow(frac.reshape(rows, cols), vmin=0.0, vmax=1.0, cmap="viridis", origin="upper",
                       interpolation="nearest", aspect="equal")
        fig.colorbar(im, ax=ax, label="busy fraction (busy cycles / total cycles)", shrink=0.85)
        ax.set_xlabel(f"PE column (0..{cols - 1})")
        ax.set_ylabel(f"PE row (0..{rows - 1})")
    else:
        fig, axes = _new_figure(1, 1, width=max(6.4, min(14.0, 0.08 * busy.size + 4)), height=4.0)
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
        return f"{r['config']} on {_describe(r, cols)}"
    if {"config", "trace"} <= set(run.columns):
        return f"{run['config'].iloc[0]} on {run['trace'].iloc[0]}"
    return str(point)


# ------------------------------------------------------------------------------------- speedup
def speedup(df: pd.DataFrame, *, baseline: str | None = None, title: str | None = None) -> Figure:
    """Per-layer speedup (baseline time / time) of every config over ``baseline``, for one workload.

    ``baseline`` is a config label or a preset name with one config (default: the first config).
    The workload (trace, densities, seed) is the first in the table; filter it to choose another.
    A last group of bars, "total", is the whole trace.
    """
    _require(df, ["layer", "config", "time_s"], "the speedup plot")
    if df.empty:
        raise PlotError("the results table is empty")
    data, first = _first_workload(df, "speedup", same_layers=False)
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
    fig, axes = _new_figure(1, 1, width=max(6.4, 0.5 * len(times) * max(1, len(others)) ** 0.5 + 3), height=4.6)
    ax = axes[0, 0]
    colors = _colors(others)
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
    if finite.size and (_spans_decades(np.append(finite, 1.0)) or finite.min() < 1 / LOG_RATIO ** 0.5):
        _log_axis(ax, "y")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title or f"Per-layer speedup on {_describe(first, _workload_cols(df, all_=True))}")
    _note_partial(fig, data)
    return fig


# ---------------------------------------------------------------------------------------- CLI
KINDS = {
    "latency-vs-density": latency_vs_density,
    "energy-vs-density": energy_vs_density,
    "scaling": scaling,
    "energy-breakdown": energy_breakdown,
    "pareto": pareto,
    "load-heatmap": load_heatmap,
    "speedup": speedup,
}


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write a figure to PNG or SVG by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise PlotError(f"{path}: output must end in .png or .svg")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
