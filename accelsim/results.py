"""LayerResult / RunResult: what a chip returns, flattened to tidy pandas rows.

Column meanings:

* ``cycles``: total cycles of the layer, memory stalls included; ``compute_cycles``: without them.
* ``utilization``: multiplier work issued / (cycles x multipliers). Dense chips issue every
  product (zeros included); sparse chips issue what they schedule, padding included.
* ``load_balance``: mean / max PE busy cycles (1.0 = perfectly balanced).
* ``energy_pj`` and ``energy_pj.<component>``: priced action counts.
* ``stall.<cause>``: cycles by cause, summed over whatever stalled (see each chip's docs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accelsim.errors import AccelsimError

ID_COLUMNS = ["trace", "layer", "kind", "accelerator", "config", "seed"]


@dataclass
class LayerResult:
    """A chip's result for one layer (no energy inside: the runner prices ``action_counts``)."""

    layer: str
    kind: str
    cycles: int
    compute_cycles: int
    pe_busy_cycles: np.ndarray
    action_counts: dict[tuple[str, str], float]
    macs_dense: int
    macs_effectual: int
    macs_issued: int
    multipliers: int
    stall_cycles: dict[str, float] = field(default_factory=dict)
    bytes_moved: dict[str, float] = field(default_factory=dict)
    output: np.ndarray | None = None
    #: the chip's own reference when it differs from the dense one (e.g. EIE's quantised weights)
    reference: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def load_balance(self) -> float:
        busy = np.asarray(self.pe_busy_cycles, dtype=np.float64)
        return float(busy.mean() / busy.max()) if busy.size and busy.max() > 0 else 1.0

    @property
    def utilization(self) -> float:
        return self.macs_issued / (self.cycles * self.multipliers) if self.cycles else 0.0


@dataclass
class PricedLayer:
    """A LayerResult with its identifiers, energy breakdown and functional verdict."""

    result: LayerResult
    trace: str
    accelerator: str
    config: str
    clock_hz: float
    energy_pj: dict[str, float]
    functional_ok: bool | None
    seed: int | None = None

    def row(self) -> dict[str, Any]:
        r = self.result
        row: dict[str, Any] = {
            "trace": self.trace, "layer": r.layer, "kind": r.kind, "accelerator": self.accelerator,
            "config": self.config, "seed": self.seed, "cycles": int(r.cycles),
            "compute_cycles": int(r.compute_cycles), "time_s": r.cycles / self.clock_hz,
            "energy_pj": float(sum(self.energy_pj.values())),
        }
        row.update({f"energy_pj.{c}": float(e) for c, e in sorted(self.energy_pj.items())})
        row.update({
            "macs_dense": int(r.macs_dense), "macs_effectual": int(r.macs_effectual),
            "macs_issued": int(r.macs_issued), "utilization": r.utilization, "load_balance": r.load_balance,
        })
        row.update({f"stall.{c}": float(v) for c, v in sorted(r.stall_cycles.items())})
        row["dram_bytes"] = float(r.bytes_moved.get("dram", 0.0))
        row["functional_ok"] = self.functional_ok
        for k, v in r.extra.items():
            if not np.isscalar(v):
                continue
            if k in row:  # a chip's extra must not silently replace a standard column
                raise ValueError(f"{self.accelerator}: LayerResult.extra key {k!r} collides with a result column")
            row[k] = v
        return row


@dataclass
class RunResult:
    """All layers of one (trace, config) run."""

    layers: list[PricedLayer]

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame([p.row() for p in self.layers])
        energy_cols = [c for c in df.columns if c.startswith("energy_pj.") or c.startswith("stall.")]
        df[energy_cols] = df[energy_cols].fillna(0.0)
        return df

    def totals(self) -> dict[str, float]:
        df = self.to_frame()
        return {"cycles": int(df["cycles"].sum()), "time_s": float(df["time_s"].sum()),
                "energy_pj": float(df["energy_pj"].sum()),
                "macs_effectual": int(df["macs_effectual"].sum())}


def write_frame(df: pd.DataFrame, path: str | Path) -> Path:
    """Write results to Parquet or CSV by the file's suffix."""
    path = Path(path)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        raise AccelsimError(f"{path}: output must end in .parquet or .csv")
    return path


def read_frame(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise AccelsimError(f"{path}: no such results file")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise AccelsimError(f"{path}: results must be .parquet or .csv")
