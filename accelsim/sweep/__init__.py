"""Design-space sweeps: grid expansion, executors (local processes or Dask) and a resumable store.

A sweep spec (YAML, or the same structure as a dict) names traces, densities and accelerator
configs with grids over their fields; the sweep runs the cartesian product::

    name: alexnet-fc-vs-density           # optional, free text
    traces:                               # trace files, or synthetic networks / GEMMs
      - path: traces/lenet5-digits.safetensors
        layers: [conv1, fc1]              # optional: only these layers
      - synth: {network: alexnet, seed: 0, layers: [fc6, fc7]}
      - synth: {gemm: [256, 256, 256], seed: [0, 1], structure: "nm:2:4"}
        density: {weight: [0.5]}          # optional: this trace's own density grid
    density:                              # optional; applies to synthetic traces
      weight: [0.1, 0.3, 1.0]             # numbers in (0, 1], or "preset" (the zoo's per-layer value)
      act: [0.5, 1.0]
    accelerators:
      - config: systolic                  # preset name or config YAML path
        set: {dataflow: ws}               # optional: fixed overrides
        grid: {rows: [32, 128], cols: [32, 128]}      # optional: cartesian product
        zip: {rows: [16, 32, 64], cols: [16, 32, 64]}  # optional: lists varied together
    unsupported: layers                   # layer kinds a chip cannot run (EIE: conv2d; SCNN: linear):
                                          # layers (default) runs the layers it can, like `accelsim run`;
                                          # pair leaves the (trace, chip) pair out, so totals compare like
                                          # with like; fail runs it all and records the failures

Points are (trace, seed, weight density, activation density, config, overrides). Each point has a
stable id (a hash of that description), so a point is the same point in every run of the spec.

Executors: a local process pool (every core by default), or Dask (``dask="local"`` starts a
``LocalCluster``, ``dask="tcp://host:port"`` connects to a scheduler). Workers receive only the
point description: they regenerate synthetic traces from the seed and load trace files from their
path (which must be readable on the Dask workers), and send back the result rows (plus per-PE
busy cycles), never trace tensors. Both executors give identical tables. On Linux the local pool
forks its workers (no re-import, no ``__main__`` guard needed); a point whose worker dies (segfault,
out-of-memory kill) is re-run alone and recorded as failed, without taking its neighbours down.
Workers exit when the sweep process dies, and on Ctrl-C the sweep stops at once (finished points
stay committed).

Store layout of a results directory (every file written to a temporary name, then renamed)::

    sweep.json            accelsim version, the normalised spec and the ordered point list
    spec.yaml             the spec as given (when it came from a file)
    points/<id>.parquet   one committed point: its result rows (one per layer)
    pe/<id>.parquet       per layer: per-PE busy cycles and the PE grid shape (for load heatmaps)
    failures/<id>.json    a point that raised: its error and traceback

A point is done when ``points/<id>.parquet`` exists. Only the parent process writes, one file
per point, by ``os.replace``; so a sweep killed at any instant and restarted runs exactly the
missing points (previously failed points are retried) and no point is ever stored twice. One
sweep at a time may write to a directory (an ``flock`` on ``.lock``, released when its holder
dies); resuming with a spec whose points differ is refused.

Result columns added to :meth:`accelsim.results.RunResult.to_frame`'s: ``point`` (id),
``preset`` (the config as named in the spec), ``weight_density``/``act_density`` (the nominal
density of synthetic points; NaN for trace files and "preset"), ``structure``,
``layer_weight_density``/``layer_act_density`` (measured on the layer), ``pes`` (number of PEs,
the length of the chip's per-PE busy array), ``multipliers``, ``param.<field>`` for every
swept or set config field, and ``accelsim_version``.

PE grid shape (for the load heatmap): a chip may put ``extra["pe_grid"] = (rows, cols)`` in its
LayerResult (not a scalar, so it never becomes a result column). Otherwise the grid is taken from
a pair of config fields ``<prefix>rows``/``<prefix>cols`` whose product is the PE count, else the
PEs are treated as a 1-D array.

Modules: :mod:`~accelsim.sweep.spec` (spec parsing and validation, grid expansion, :class:`Point`),
:mod:`~accelsim.sweep.worker` (one point in a worker: :func:`run_point`),
:mod:`~accelsim.sweep.executors` (this process, local process pool, Dask),
:mod:`~accelsim.sweep.store` (the resumable results directory, :func:`open_results`) and
:mod:`~accelsim.sweep.runner` (:func:`run_sweep`: resume, run, progress). Their public names are
re-exported here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from accelsim.sweep.executors import dask_client, default_workers, run_points
from accelsim.sweep.runner import SweepOutcome, run_sweep
from accelsim.sweep.spec import (
    ACCEL_KEYS,
    DENSITY_KEYS,
    SPEC_KEYS,
    SYNTH_KEYS,
    TRACE_KEYS,
    Expansion,
    Point,
    SpecError,
    expand,
    expand_spec,
    load_spec,
)
from accelsim.sweep.store import POINT_COLUMNS, Store, StoreError, combine, open_results
from accelsim.sweep.worker import build_trace, one_thread_per_worker, pe_grid, run_point

__all__ = ["ACCEL_KEYS", "DENSITY_KEYS", "POINT_COLUMNS", "SPEC_KEYS", "SYNTH_KEYS", "TRACE_KEYS", "Expansion",
           "Point", "SpecError", "Store", "StoreError", "SweepOutcome", "build_trace", "combine", "dask_client",
           "default_workers", "expand", "expand_spec", "load_spec", "one_thread_per_worker", "open_results",
           "pe_grid", "run_point", "run_points", "run_sweep", "sweep"]

log = logging.getLogger(__name__)


def sweep(spec: str | os.PathLike | Mapping[str, Any], out: str | os.PathLike | None = None, *,
          workers: int | None = None, dask: str | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Run a sweep spec (a YAML path or a dict) and return its results table.

    With ``out`` the results go to a resumable results directory (an interrupted sweep resumes
    where it stopped). Failed points are logged and listed in ``df.attrs["failures"]``.
    See :func:`run_sweep` for ``workers``, ``dask`` and ``progress``.

    Examples
    --------
    >>> df = accelsim.sweep({"traces": [{"synth": {"gemm": [64, 64, 64]}}],
    ...                      "density": {"weight": [0.1, 0.5, 1.0]},
    ...                      "accelerators": [{"config": "systolic", "zip": {"rows": [8, 16], "cols": [8, 16]}}]})
    """
    res = run_sweep(spec, out, workers=workers, dask=dask, progress=progress)
    if res.failures:
        log.warning("%d of %d points failed (listed in df.attrs['failures']); first: %s: %s", len(res.failures),
                    res.total, res.failures[0]["label"], res.failures[0]["error"])
    return res.frame
