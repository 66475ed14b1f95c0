"""What runs in a sweep worker: one point from its description to result rows and per-PE data."""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np

from accelsim.sweep.spec import Point

log = logging.getLogger(__name__)


def build_trace(point: Point):
    """The point's trace: regenerated from its seed, or loaded (lazily) from its file."""
    from accelsim.trace import load_trace, synth

    t = point.trace
    if "path" in t:
        trace = load_trace(t["path"])
        return trace.select(t["layers"]) if t.get("layers") else trace
    s = t["synth"]
    return synth(s.get("network"), tuple(s["gemm"]) if "gemm" in s else None,
                 weight_density=t.get("weight_density"), act_density=t.get("act_density"),
                 structure=s.get("structure", "unstructured"), seed=t["seed"], batch=s.get("batch", 1),
                 layers=t.get("layers"))


def pe_grid(result, cfg) -> tuple[int, int]:
    """(rows, cols) of the chip's PE array: the chip's own ``extra["pe_grid"]``, else config fields."""
    n = int(np.asarray(result.pe_busy_cycles).size)
    grid = result.extra.get("pe_grid")
    if grid is not None and len(grid) == 2 and int(grid[0]) * int(grid[1]) == n:
        return int(grid[0]), int(grid[1])
    names = {f.name for f in dataclasses.fields(cfg)}
    for name in sorted(names):
        if name.endswith("rows"):
            other = name[: -len("rows")] + "cols"
            if other in names:
                r, c = getattr(cfg, name), getattr(cfg, other)
                if isinstance(r, int) and isinstance(c, int) and r * c == n:
                    return r, c
    return 1, n


def _limit_blas_threads() -> None:
    # Every point (~2 ms): a point may load another BLAS (scipy's) that the previous call did not see.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then BLAS may run as many threads as cores in every worker
        log.debug("threadpoolctl is not installed: BLAS threads are not limited in sweep workers")
        return
    threadpool_limits(1)


def one_thread_per_worker() -> None:
    """One BLAS and one numba thread in this worker: the pool already keeps every core busy, and
    N workers x N threads would oversubscribe the machine."""
    import numba

    _limit_blas_threads()
    numba.set_num_threads(1)  # thread-local: call it in the thread that runs the point


def run_point(payload: Mapping[str, Any], single_threaded: bool = False) -> dict[str, Any]:
    """Simulate one point (in a worker). Returns its rows and per-PE data, or its error; never raises.

    ``single_threaded``: run with one BLAS / numba thread (set by the parallel executors).
    """
    from accelsim.simulate import load_config, simulate
    from accelsim.version import __version__

    if single_threaded:
        one_thread_per_worker()
    point = Point.from_dict(payload)
    try:
        trace = build_trace(point)
        cfg = load_config(point.config, **point.overrides)
        densities = {ly.name: (ly.weight_density, ly.act_density) for ly in trace}
        run = simulate(trace, cfg)
        t = point.trace
        nominal = {"point": point.id, "preset": point.preset,
                   "weight_density": t.get("weight_density"), "act_density": t.get("act_density"),
                   "structure": t["synth"].get("structure") if "synth" in t else None,
                   "skipped_layers": ",".join(t.get("skipped_layers") or [])}
        rows, pe = [], []
        for priced, row in zip(run.layers, run.to_frame().to_dict("records"), strict=True):
            r = priced.result
            busy = np.asarray(r.pe_busy_cycles, dtype=np.int64).ravel()
            row = {**nominal, **row, "pes": int(busy.size), "multipliers": int(r.multipliers),
                   "layer_weight_density": densities[r.layer][0], "layer_act_density": densities[r.layer][1]}
            row.update({f"param.{k}": v for k, v in point.overrides.items()})
            row["accelsim_version"] = __version__
            rows.append(row)
            grid = pe_grid(r, cfg)
            pe.append({"point": point.id, "layer": r.layer, "cycles": int(r.cycles), "grid_rows": grid[0],
                       "grid_cols": grid[1], "busy_cycles": busy.tolist()})
        return {"id": point.id, "ok": True, "rows": rows, "pe": pe}
    except Exception as exc:  # a failing point is recorded, the sweep goes on
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"id": point.id, "ok": False, "error": f"{type(exc).__name__}: {msg}".rstrip(": "),
                "traceback": traceback.format_exc()}

