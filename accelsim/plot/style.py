"""Shared styling and helpers of every figure kind: units, log axes, colours, facets, totals, saving."""

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


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 4.4,
                **kw: Any) -> tuple[Figure, np.ndarray]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def pick_unit(values: Sequence[float] | pd.Series, units: list[tuple[float, str]]) -> tuple[float, str]:
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


def spans_decades(values: Sequence[float] | pd.Series) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size and v.min() > 0 and v.max() / v.min() > LOG_RATIO)


def log_axis(ax: Axes, axis: str, base: float = 10) -> None:
    """A log axis with plain tick labels (0.05, 0.1, 0.2 ...; 16, 64, 256), not 10^-1.3."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    which = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)
    if base == 10:
        which.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    which.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    which.set_minor_formatter(NullFormatter())


def auto_log(ax: Axes, axis: str, values: Sequence[float] | pd.Series, base: float = 10) -> None:
    if spans_decades(values):
        log_axis(ax, axis, base)


def colors_for(keys: Sequence[Any]) -> dict[Any, Any]:
    from matplotlib import colormaps

    keys = list(dict.fromkeys(keys))
    cmap = colormaps["tab10" if len(keys) <= 10 else "tab20"]
    return {k: cmap(i % cmap.N) for i, k in enumerate(keys)}


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df]
    if missing:
        raise PlotError(f"{what} needs column(s) {', '.join(missing)} (tables from `accelsim sweep` have them)")


def point_table(df: pd.DataFrame) -> pd.DataFrame:
    from accelsim.sweep.totals import point_totals

    if df is None or len(df) == 0:
        raise PlotError("the results table is empty")
    t = point_totals(df)
    # a chip that ran only some layers of a trace ran another workload: totals compare within a workload
    skipped = t["skipped_layers"].fillna("").astype(str) if "skipped_layers" in t else ""
    t["workload"] = t["trace"].astype(str) + np.where(skipped != "", " without " + skipped, "")
    return t


def note_partial(fig: Figure, t: pd.DataFrame) -> None:
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


def split_facets(t: pd.DataFrame, by: str = "workload") -> list[tuple[Any, pd.DataFrame]]:
    return list(t.groupby(by, sort=False)) if by in t else [(None, t)]


def facet_axes(n: int, **kw: Any) -> tuple[Figure, list[Axes]]:
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(nrows, ncols, **kw)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def varying_columns(t: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` that take more than one value in ``t``."""
    return [c for c in columns if c in t and t[c].nunique(dropna=False) > 1]


def describe(row: Mapping[str, Any] | pd.Series, columns: Sequence[str]) -> str:
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


def density_column(t: pd.DataFrame, x: str) -> str:
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


def first_workload(df: pd.DataFrame, what: str, *, same_layers: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """The rows of the table's first workload (trace, densities, seed; and the layers run, if
    ``same_layers``) and that first row."""
    cols = workload_columns(df) + (["skipped_layers"] if same_layers and "skipped_layers" in df else [])
    first = df.iloc[0]
    mask = np.ones(len(df), dtype=bool)
    for c in cols:
        mask &= (df[c].isna() & pd.isna(first[c])) | (df[c] == first[c])
    if mask.sum() < len(df):
        log.info("%s: drawing the workload %s (the table holds others; filter to choose)", what,
                 describe(first, cols))
    return df[mask], first


def workload_columns(t: pd.DataFrame, all_: bool = False) -> list[str]:
    cols = [c for c in ("trace", "weight_density", "act_density", "seed") if c in t]
    if all_:
        return [c for c in cols if not (t[c].dtype.kind == "f" and t[c].isna().all())]
    return cols


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write a figure to PNG or SVG by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise PlotError(f"{path}: output must end in .png or .svg")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path

