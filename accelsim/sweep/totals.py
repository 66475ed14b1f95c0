"""`accelsim results`: the consolidated table of a sweep directory, and per-point totals.

:func:`point_totals` sums a layer-level table to one row per point (a whole-network run):
cycles, time, energy (and its components), MACs, stalls and DRAM bytes add up; ``utilization`` is
recomputed as issued MACs / (cycles x multipliers); ``load_balance`` is the cycle-weighted mean of
the layers'; ``layer_weight_density``/``layer_act_density`` become the dense-MAC-weighted mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accelsim.errors import AccelsimError

#: columns that describe a point (constant over its layers), kept by point_totals when present
DESCRIBE = ["point", "trace", "accelerator", "config", "preset", "seed", "weight_density", "act_density",
            "structure", "skipped_layers", "pes", "multipliers", "accelsim_version"]
SUMMED = ["cycles", "compute_cycles", "time_s", "energy_pj", "macs_dense", "macs_effectual", "macs_issued",
          "dram_bytes"]


def point_totals(df: pd.DataFrame) -> pd.DataFrame:
    """One row per point (per run, for tables without a ``point`` column) summed over its layers."""
    if df.empty:
        raise AccelsimError("the results table is empty: no points have finished")
    if "point" in df:
        keys = ["point"]
    else:
        keys = [c for c in ("trace", "accelerator", "config", "seed", "weight_density", "act_density") if c in df]
    describe = [c for c in DESCRIBE + [c for c in df.columns if c.startswith("param.")] if c in df and c not in keys]
    summed = [c for c in df.columns if c in SUMMED or c.startswith(("energy_pj.", "stall."))]
    g = df.groupby(keys, sort=False, dropna=False)
    out = g[describe].first() if describe else pd.DataFrame(index=g.size().index)
    out = out.join(g[summed].sum())
    out["layers"] = g.size()
    if "multipliers" in df:
        capacity = (df["cycles"] * df["multipliers"]).groupby([df[k] for k in keys], sort=False, dropna=False).sum()
        out["utilization"] = out["macs_issued"] / capacity.replace(0, np.nan)
    elif "utilization" in df:
        out["utilization"] = _weighted(df, keys, "utilization", "cycles")
    if "load_balance" in df:
        out["load_balance"] = _weighted(df, keys, "load_balance", "cycles")
    for c in ("layer_weight_density", "layer_act_density"):
        if c in df:
            out[c] = _weighted(df, keys, c, "macs_dense")
    if "functional_ok" in df:
        out["functional_ok"] = g["functional_ok"].agg(lambda s: bool(s.fillna(True).all()))
    return out.reset_index()


def _weighted(df: pd.DataFrame, keys: list[str], col: str, weight: str) -> pd.Series:
    w = df[weight].astype(float)
    num = (df[col].astype(float) * w).groupby([df[k] for k in keys], sort=False, dropna=False).sum()
    den = w.groupby([df[k] for k in keys], sort=False, dropna=False).sum()
    return num / den.replace(0, np.nan)
