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
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from accelsim.errors import AccelsimError

log = logging.getLogger(__name__)


SPEC_KEYS = ("name", "description", "traces", "density", "accelerators", "unsupported")
TRACE_KEYS = ("path", "synth", "layers", "density")
SYNTH_KEYS = ("network", "gemm", "seed", "structure", "batch", "layers")
ACCEL_KEYS = ("config", "set", "grid", "zip")
DENSITY_KEYS = ("weight", "act")
#: per-point columns placed right after ``point`` in the results table
POINT_COLUMNS = ["point", "preset", "weight_density", "act_density", "structure", "skipped_layers"]


class SpecError(AccelsimError):
    """A sweep spec is malformed. The message names the key and what to write instead."""


class StoreError(AccelsimError):
    """A results directory is unusable (another sweep's results, unreadable files)."""


# ------------------------------------------------------------------------------------------ spec
@dataclass(frozen=True)
class Point:
    """One simulation of a sweep: small, JSON-able, shipped to a worker as is.

    ``trace`` is ``{"path": abs_path, "layers": [...] | None}`` or ``{"synth": {...}, "seed": s,
    "weight_density": d | None, "act_density": d | None, "layers": [...] | None}``.
    """

    trace: dict[str, Any]
    config: str
    preset: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def key(self) -> dict[str, Any]:
        return {"trace": self.trace, "config": self.config, "overrides": self.overrides}

    @property
    def id(self) -> str:
        text = json.dumps(self.key(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "trace": self.trace, "config": self.config, "preset": self.preset,
                "overrides": self.overrides}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Point:
        return cls(dict(d["trace"]), str(d["config"]), str(d["preset"]), dict(d.get("overrides") or {}))

    def label(self) -> str:
        """Short human description: trace, densities, config."""
        t = self.trace
        if "path" in t:
            what = Path(t["path"]).name
        else:
            s = t["synth"]
            what = s.get("network") or "gemm-" + "x".join(map(str, s["gemm"]))
            what += f" seed={t['seed']}"
            for k, short in (("weight_density", "wd"), ("act_density", "ad")):
                if t.get(k) is not None:
                    what += f" {short}={t[k]:g}"
        if t.get("skipped_layers"):
            what += f" ({len(t['layers'])} of {len(t['layers']) + len(t['skipped_layers'])} layers)"
        cfg = self.preset + (f"[{','.join(f'{k}={v}' for k, v in self.overrides.items())}]" if self.overrides else "")
        return f"{what} on {cfg}"


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_keys(where: str, doc: Any, allowed: Iterable[str]) -> dict:
    if not isinstance(doc, Mapping):
        raise SpecError(f"{where}: expected a mapping, got {type(doc).__name__} {doc!r}")
    allowed = tuple(allowed)
    unknown = [k for k in doc if k not in allowed]
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r} (valid: {', '.join(allowed)})")
    return dict(doc)


def _density_values(where: str, value: Any) -> list[float | None]:
    out: list[float | None] = []
    for v in _as_list(value):
        if v == "preset" or v is None:
            out.append(None)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 < float(v) <= 1.0:
            out.append(float(v))
        else:
            raise SpecError(f"{where}: density {v!r} must be a number in (0, 1] or \"preset\"")
    if not out:
        raise SpecError(f"{where}: empty density list")
    return out


def _density_grid(where: str, doc: Any) -> list[tuple[float | None, float | None]]:
    if doc is None:
        return [(None, None)]
    d = _check_keys(where, doc, DENSITY_KEYS)
    weights = _density_values(f"{where}.weight", d.get("weight", "preset"))
    acts = _density_values(f"{where}.act", d.get("act", "preset"))
    return list(itertools.product(weights, acts))


def _resolve_path(text: str, base: Path | None, what: str) -> Path:
    """A path as given, relative to the working directory, else to the spec file's directory."""
    p = Path(os.path.expanduser(str(text)))
    candidates = [p] if p.is_absolute() else [Path.cwd() / p] + ([base / p] if base else [])
    for c in candidates:
        if c.exists():
            return c.resolve()
    raise SpecError(f"{what} {text!r} does not exist (looked in {', '.join(str(c.parent) for c in candidates)})")


def _trace_variants(i: int, entry: Any, top_density: Any, base: Path | None) -> list[tuple[dict[str, Any], set[str]]]:
    """(the point's trace description, its (layer name, kind) list) for each seed and density."""
    where = f"traces[{i}]"
    e = _check_keys(where, entry, TRACE_KEYS)
    if ("path" in e) == ("synth" in e):
        raise SpecError(f"{where}: give exactly one of 'path' (a trace file) or 'synth' (a synthetic network)")
    layers = e.get("layers")
    if layers is not None:
        layers = [str(x) for x in _as_list(layers)]
    if "path" in e:
        from accelsim.trace import load_trace

        if "density" in e:
            raise SpecError(f"{where}: 'density' applies to synthetic traces, not to the file {e['path']!r}")
        path = _resolve_path(e["path"], base, f"{where}: trace file")
        trace = load_trace(path)  # lazy: validates the header only
        missing = [n for n in layers or [] if n not in trace.layer_names]
        if missing:
            raise SpecError(f"{where}: {path.name} has no layers {', '.join(missing)} "
                            f"(layers: {', '.join(trace.layer_names)})")
        kinds = [(info.name, info.kind) for info in trace.infos if not layers or info.name in layers]
        return [({"path": str(path), "layers": layers}, kinds)]
    s = _check_keys(f"{where}.synth", e["synth"], SYNTH_KEYS)
    if ("network" in s) == ("gemm" in s):
        raise SpecError(f"{where}.synth: give exactly one of 'network' (a zoo name) or 'gemm' ([M, N, K])")
    if "layers" in s:
        if layers is not None:
            raise SpecError(f"{where}: give 'layers' once (beside 'synth' or inside it)")
        layers = [str(x) for x in _as_list(s.pop("layers"))]
    synth: dict[str, Any] = {"structure": str(s.get("structure", "unstructured")), "batch": s.get("batch", 1)}
    if not isinstance(synth["batch"], int) or isinstance(synth["batch"], bool) or synth["batch"] < 1:
        raise SpecError(f"{where}.synth.batch: expected a positive integer, got {synth['batch']!r}")
    from accelsim.trace.synthetic import Structure

    Structure.parse(synth["structure"])
    if "gemm" in s:
        g = s["gemm"]
        try:
            dims = [int(v) for v in (g.split(",") if isinstance(g, str) else g)]
        except (TypeError, ValueError):
            dims = []
        if len(dims) != 3 or min(dims) < 1:
            raise SpecError(f"{where}.synth.gemm: expected [M, N, K] positive integers, got {g!r}")
        synth["gemm"] = dims
        kinds_by_name = {"gemm": "matmul"}
    else:
        from accelsim.trace.zoo import network_layers

        synth["network"] = str(s["network"])
        kinds_by_name = {spec.name: spec.kind for spec in network_layers(synth["network"], batch=synth["batch"])}
    names = list(kinds_by_name)
    missing = [n for n in layers or [] if n not in names]
    if missing:
        raise SpecError(f"{where}: {synth.get('network', 'gemm')} has no layers {', '.join(missing)} "
                        f"(layers: {', '.join(names)})")
    seeds = _as_list(s.get("seed", 0))
    if not seeds or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in seeds):
        raise SpecError(f"{where}.synth.seed: expected a non-negative integer or a list of them, got {s.get('seed')!r}")
    densities = _density_grid(f"{where}.density" if "density" in e else "density", e.get("density", top_density))
    kinds = [(n, k) for n, k in kinds_by_name.items() if not layers or n in layers]
    return [({"synth": synth, "seed": seed, "weight_density": wd, "act_density": ad, "layers": layers}, kinds)
            for seed in seeds for wd, ad in densities]


def _config_variants(i: int, entry: Any, base: Path | None) -> list[tuple[str, str, dict[str, Any]]]:
    """(config reference, preset label, overrides) for every grid point of one accelerator entry."""
    from accelsim.config import configs_dir

    where = f"accelerators[{i}]"
    e = _check_keys(where, entry, ACCEL_KEYS)
    if "config" not in e:
        raise SpecError(f"{where}: missing 'config' (a preset name such as systolic, or a config YAML path)")
    name = str(e["config"])
    ref = name
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        ref = str(_resolve_path(name, base, f"{where}.config: file"))
    elif not (configs_dir() / f"{name}.yaml").is_file():
        from accelsim.config import preset_names

        raise SpecError(f"{where}.config: unknown config {name!r} (presets: {', '.join(preset_names()) or 'none'})")
    fixed = e.get("set") or {}
    grid = e.get("grid") or {}
    zipped = e.get("zip") or {}
    for key, part in (("set", fixed), ("grid", grid), ("zip", zipped)):
        if not isinstance(part, Mapping):
            raise SpecError(f"{where}.{key}: expected a mapping of config field -> list of values")
    seen: dict[str, str] = {}
    for key, part in (("set", fixed), ("grid", grid), ("zip", zipped)):
        for k in part:
            if k in seen:
                raise SpecError(f"{where}: field {k!r} appears in both {seen[k]!r} and {key!r}")
            seen[k] = key
    zip_lists = {k: _as_list(v) for k, v in zipped.items()}
    if len({len(v) for v in zip_lists.values()}) > 1:
        raise SpecError(f"{where}.zip: all lists must have the same length "
                        f"({', '.join(f'{k}: {len(v)}' for k, v in zip_lists.items())})")
    grid_lists = {k: _as_list(v) for k, v in grid.items()}
    for k, v in list(grid_lists.items()) + list(zip_lists.items()):
        if not v:
            raise SpecError(f"{where}: field {k!r} has an empty list of values")
    zip_rows = [dict(zip(zip_lists, vals, strict=True)) for vals in zip(*zip_lists.values(), strict=True)] or [{}]
    out = []
    for combo in itertools.product(*grid_lists.values()):
        for zrow in zip_rows:
            overrides = {**fixed, **dict(zip(grid_lists, combo, strict=True)), **zrow}
            out.append((ref, name, overrides))
    return out


def load_spec(spec: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, Any], Path | None, str | None]:
    """Read a spec: (document, the directory relative paths may be relative to, raw text)."""
    if isinstance(spec, Mapping):
        return dict(spec), None, None
    path = Path(spec)
    if not path.is_file():
        raise SpecError(f"sweep spec {str(spec)!r} does not exist")
    text = path.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(doc, Mapping):
        raise SpecError(f"{path}: expected a mapping with keys traces and accelerators")
    return dict(doc), path.parent.resolve(), text


@dataclass
class Expansion:
    """A spec's points, and the (trace, config) pairs left out because the chip cannot run a layer kind."""

    points: list[Point]
    skipped: list[tuple[Point, str]]


def expand_spec(spec: str | os.PathLike | Mapping[str, Any]) -> Expansion:
    """Expand a spec into its points (deduplicated, in spec order), validating every config.

    A trace holding layer kinds the chip does not run (conv2d on EIE, linear on SCNN) becomes, by
    the spec's ``unsupported``: ``layers`` (default) a point over the layers the chip runs (the
    others named in its ``skipped_layers``), or left out when it runs none; ``pair`` left out;
    ``fail`` a point that fails. Left-out pairs are listed in ``skipped``. Raises SpecError (bad keys or values),
    ConfigError (unknown config, bad field or value) or TraceError (unreadable trace file)
    before anything runs.
    """
    from accelsim.accelerators.registry import ACCELERATORS
    from accelsim.simulate import load_config

    doc, base, _ = load_spec(spec)
    doc = _check_keys("spec", doc, SPEC_KEYS)
    for key in ("traces", "accelerators"):
        if not doc.get(key) or not isinstance(doc[key], list):
            raise SpecError(f"spec: '{key}' must be a non-empty list")
    unsupported = doc.get("unsupported", "layers")
    if unsupported not in ("layers", "pair", "fail"):
        raise SpecError(f"spec.unsupported: {unsupported!r} must be layers, pair or fail")
    traces = [v for i, e in enumerate(doc["traces"]) for v in _trace_variants(i, e, doc.get("density"), base)]
    if "density" in doc and not any("synth" in t for t, _ in traces):
        log.warning("spec: 'density' applies to synthetic traces only; this spec has none")
    configs = []
    for i, e in enumerate(doc["accelerators"]):
        for ref, name, overrides in _config_variants(i, e, base):
            cfg = load_config(ref, **overrides)  # every grid value is checked before the sweep starts
            configs.append((ref, name, overrides, set(ACCELERATORS[cfg.accelerator].kinds), cfg.accelerator))
    points: dict[str, Point] = {}
    skipped: dict[str, tuple[Point, str]] = {}
    for t, kinds in traces:
        for ref, name, overrides, chip_kinds, chip in configs:
            p = Point(t, ref, name, overrides)
            missing = [n for n, k in kinds if k not in chip_kinds]
            why = f"{chip} does not run {', '.join(sorted({k for _, k in kinds if k not in chip_kinds}))} layers"
            if not missing or unsupported == "fail":
                points.setdefault(p.id, p)
            elif unsupported == "pair" or len(missing) == len(kinds):
                skipped.setdefault(p.id, (p, why))
            else:  # the layers the chip runs; the point says which it left out
                runs = [n for n, k in kinds if k in chip_kinds]
                p = Point({**t, "layers": runs, "skipped_layers": missing}, ref, name, overrides)
                points.setdefault(p.id, p)
    return Expansion(list(points.values()), list(skipped.values()))


def expand(spec: str | os.PathLike | Mapping[str, Any]) -> list[Point]:
    """The points of a spec (see :func:`expand_spec`)."""
    return expand_spec(spec).points


# ---------------------------------------------------------------------------------------- worker
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
    from accelsim import __version__
    from accelsim.simulate import load_config, simulate

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


# ----------------------------------------------------------------------------------------- store
def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through ``write(tmp)`` to a hidden temporary name, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(text))


class Store:
    """A results directory: one committed file per point (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.points_dir = self.root / "points"
        self.pe_dir = self.root / "pe"
        self.failures_dir = self.root / "failures"

    # -- setup ------------------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.root / "sweep.json"

    def exists(self) -> bool:
        return self.meta_path.is_file()

    def meta(self) -> dict[str, Any]:
        if not self.exists():
            raise StoreError(f"{self.root}: not a sweep results directory (no sweep.json); "
                             "make one with `accelsim sweep SPEC.yaml -o DIR`")
        try:
            return json.loads(self.meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.meta_path}: unreadable ({exc})") from None

    def _check_usable(self) -> None:
        if not self.exists() and self.root.exists() and any(p.name != ".lock" for p in self.root.iterdir()):
            raise StoreError(f"{self.root} exists and is not a sweep results directory; use a new or empty one")

    @contextlib.contextmanager
    def locked(self) -> Iterator[int | None]:
        """Hold the directory's lock while a sweep writes to it (one writer at a time).

        Yields the lock's file descriptor (forked workers close their copy), or None without flock.
        The lock dies with the process, so a killed sweep never leaves the directory locked.
        """
        self._check_usable()
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield None
            return
        fh = open(self.root / ".lock", "a+")  # noqa: SIM115 (held for the whole sweep)
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"{self.root}: another sweep is writing to this directory; "
                                 "wait for it to finish or use another directory") from None
            yield fh.fileno()
        finally:
            fh.close()

    def init(self, doc: Mapping[str, Any], points: list[Point], spec_text: str | None) -> None:
        """Create the directory, or check that it holds this same sweep (then it is resumed).

        Call it holding :meth:`locked` (it removes temporaries a killed run left behind).
        """
        from accelsim import __version__

        ids = [p.id for p in points]
        if self.exists():
            meta = self.meta()
            old = [p["id"] for p in meta.get("points", [])]
            if set(old) != set(ids):
                raise StoreError(f"{self.root} holds results of a different sweep spec "
                                 f"({len(old)} points, {len(set(old) & set(ids))} shared with this spec); "
                                 "use a new results directory")
            if meta.get("accelsim_version") != __version__:
                log.warning("%s was started with accelsim %s, resuming with %s (rows carry accelsim_version)",
                            self.root, meta.get("accelsim_version"), __version__)
        else:
            self._check_usable()
        for d in (self.points_dir, self.pe_dir, self.failures_dir):
            d.mkdir(parents=True, exist_ok=True)
        for tmp in itertools.chain(*(d.glob(".*.tmp") for d in (self.root, self.points_dir, self.pe_dir,
                                                                 self.failures_dir))):
            tmp.unlink(missing_ok=True)  # left by a killed run
        if not self.exists():
            if spec_text is not None:
                _write_text(self.root / "spec.yaml", spec_text)
            meta = {"format": "accelsim-sweep", "version": 1, "accelsim_version": __version__,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "spec": doc,
                    "points": [p.to_dict() for p in points]}
            _write_text(self.meta_path, json.dumps(meta, indent=1, default=str))

    # -- points -----------------------------------------------------------------------
    def done_ids(self) -> set[str]:
        return {p.stem for p in self.points_dir.glob("*.parquet") if not p.name.startswith(".")}

    def points(self) -> list[Point]:
        return [Point.from_dict(p) for p in self.meta().get("points", [])]

    def commit(self, outcome: Mapping[str, Any]) -> None:
        """Store one finished point: PE data first, then its rows (the commit), then clear any failure."""
        pid = outcome["id"]
        _atomic_write(self.pe_dir / f"{pid}.parquet", lambda tmp: pd.DataFrame(outcome["pe"]).to_parquet(tmp))
        _atomic_write(self.points_dir / f"{pid}.parquet",
                      lambda tmp: pd.DataFrame(outcome["rows"]).to_parquet(tmp, index=False))
        (self.failures_dir / f"{pid}.json").unlink(missing_ok=True)

    def record_failure(self, point: Point, error: str, tb: str) -> None:
        doc = {"point": point.to_dict(), "label": point.label(), "error": error, "traceback": tb,
               "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        _write_text(self.failures_dir / f"{point.id}.json", json.dumps(doc, indent=1, default=str))

    def failures(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted(self.failures_dir.glob("*.json")):
            if f.name.startswith("."):
                continue
            try:
                out.append(json.loads(f.read_text()))
            except (OSError, json.JSONDecodeError) as exc:
                raise StoreError(f"{f}: unreadable failure record ({exc})") from None
        order = {p["id"]: i for i, p in enumerate(self.meta().get("points", []))}
        return sorted(out, key=lambda d: order.get(d["point"]["id"], len(order)))

    def load(self) -> pd.DataFrame:
        """The consolidated table: every committed point's rows, in spec order."""
        order = [p["id"] for p in self.meta().get("points", [])]
        done = self.done_ids()
        frames = [pd.read_parquet(self.points_dir / f"{pid}.parquet") for pid in order if pid in done]
        return combine(frames)

    def load_pe(self) -> pd.DataFrame:
        """Per (point, layer): cycles, PE grid shape and the per-PE busy-cycle list."""
        order = [p["id"] for p in self.meta().get("points", [])]
        frames = [pd.read_parquet(self.pe_dir / f"{pid}.parquet") for pid in order
                  if (self.pe_dir / f"{pid}.parquet").is_file()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["point", "layer", "cycles", "grid_rows", "grid_cols", "busy_cycles"])


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-point frames (columns may differ between chips); missing energy/stall = 0."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=POINT_COLUMNS)
    df = pd.concat(frames, ignore_index=True, sort=False)
    zero_cols = [c for c in df.columns if c.startswith(("energy_pj.", "stall."))]
    df[zero_cols] = df[zero_cols].fillna(0.0)
    for c in ("weight_density", "act_density"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    trailing = [c for c in df.columns if c.startswith("param.")] + ["accelsim_version"]
    middle = [c for c in df.columns if c not in POINT_COLUMNS and c not in trailing]
    return df[[c for c in POINT_COLUMNS if c in df] + middle + [c for c in trailing if c in df]]


def open_results(path: str | os.PathLike) -> pd.DataFrame:
    """A results table from a sweep directory, or a Parquet/CSV file written by ``accelsim results -o``."""
    from accelsim.results import read_frame

    p = Path(path)
    if p.is_dir():
        return Store(p).load()
    return read_frame(p)


# ------------------------------------------------------------------------------------- executors
def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _orphan_watchdog(parent_pid: int, inherited_fds: tuple[int, ...] = ()) -> None:
    """Pool worker initializer: exit when the parent is gone (a SIGKILLed sweep leaves no orphans).

    Also closes the forked copies of ``inherited_fds`` (the store's lock), so only the parent holds them,
    and exits quietly on Ctrl-C (the parent reports the interruption; finished points are committed).
    """
    import signal

    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    for fd in inherited_fds:
        try:
            os.close(fd)
        except OSError:
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="accelsim-orphan-watchdog").start()


def _run_serial(payloads: list[dict]) -> Iterator[dict]:
    for p in payloads:
        yield run_point(p)


def _pool_pass(queue: collections.deque, width: int, ctx,
               inherited_fds: tuple[int, ...] = ()) -> Generator[dict, None, list[dict]]:
    """Run points off the front of ``queue`` on a fresh pool until it is empty or the pool breaks.

    Yields outcomes; returns the points that were in flight when a worker died.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=width, mp_context=ctx, initializer=_orphan_watchdog,
                               initargs=(os.getpid(), inherited_fds))
    pending: dict[Any, dict] = {}
    try:
        while queue or pending:
            # a bounded number in flight: a broken pool loses little and memory stays flat
            while queue and len(pending) < 2 * width:
                p = queue.popleft()
                try:
                    pending[pool.submit(run_point, p, True)] = p
                except BrokenProcessPool:
                    return [*pending.values(), p]
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for fut in finished:
                try:
                    out = fut.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                del pending[fut]
                yield out
            if broken:
                return list(pending.values())
        return []
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_local(payloads: list[dict], workers: int, inherited_fds: tuple[int, ...] = ()) -> Iterator[dict]:
    """A process pool over the points, robust to workers that die (segfault, out-of-memory kill).

    When a worker dies, the points that were in flight are re-run one at a time, each alone in its
    own pool, so the one that kills its worker is recorded as failed and the others complete.
    Linux forks the workers (they inherit the imported, JIT-loaded accelsim, and scripts need no
    ``__main__`` guard); other platforms spawn them.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    queue = collections.deque(payloads)
    while queue:
        lost = yield from _pool_pass(queue, min(workers, len(queue)), ctx, inherited_fds)
        if lost:
            log.warning("a sweep worker process died; re-running its %d in-flight points one by one", len(lost))
        for p in lost:
            if (yield from _pool_pass(collections.deque([p]), 1, ctx, inherited_fds)):
                yield {"id": p["id"], "ok": False, "traceback": "",
                       "error": "the worker process died while running this point (crash or out of memory)"}


def dask_client(address: str, workers: int | None = None):
    """A dask.distributed Client: ``"local"`` starts a LocalCluster (one single-threaded worker per core)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise AccelsimError("--dask needs dask.distributed: pip install 'accelsim[dask]'") from None
    if not log.isEnabledFor(logging.INFO):  # distributed logs its start-up and shut-down at INFO
        for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if address == "local":
        try:
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        except RuntimeError as exc:
            raise AccelsimError(f"--dask local: the LocalCluster did not start ({exc}); from a script, call the "
                                "sweep under `if __name__ == '__main__':`") from None
        return Client(cluster)
    if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://", "ws://", "wss://")):
        raise AccelsimError(f"--dask {address!r}: expected 'local' or a scheduler address like tcp://HOST:PORT")
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise AccelsimError(f"--dask {address}: cannot reach the Dask scheduler ({exc})") from None


def _run_dask(payloads: list[dict], address: str, workers: int | None) -> Iterator[dict]:
    from dask.distributed import as_completed

    client = dask_client(address, workers)
    try:
        futures = client.map(run_point, payloads, single_threaded=True, pure=False,
                             key=[f"accelsim-point-{p['id']}" for p in payloads])
        by_key = {f.key: p for f, p in zip(futures, payloads, strict=True)}
        for fut in as_completed(futures):
            p = by_key[fut.key]
            try:
                yield fut.result()
            except Exception as exc:  # KilledWorker and the like: the point failed, the sweep goes on
                yield {"id": p["id"], "ok": False, "traceback": "", "error": f"{type(exc).__name__}: {exc}"}
            fut.release()
    finally:
        cluster = client.cluster if address == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


# ----------------------------------------------------------------------------------------- sweep
@dataclass
class SweepOutcome:
    """What a sweep did: its table, point counts and failures (each a dict with point, label, error)."""

    frame: pd.DataFrame
    total: int
    already_done: int
    ran: int
    failures: list[dict[str, Any]]
    elapsed_s: float
    skipped: list[tuple[Point, str]] = field(default_factory=list)
    #: points that ran only the layers their chip supports (``unsupported: layers``)
    partial: int = 0


def _execute(todo: list[Point], total: int, already: int, store: Store | None, *, workers: int, dask: str | None,
             progress: bool | None, on_result: Callable[[dict], None] | None,
             inherited_fds: tuple[int, ...]) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame], float]:
    """Run ``todo`` on the chosen executor, committing each outcome as it arrives.

    Returns the failures, the frames of successful points (when there is no store) and the start time.
    """
    from tqdm.auto import tqdm

    by_id = {p.id: p for p in todo}
    payloads = [p.to_dict() for p in todo]
    if not payloads:
        results: Iterator[dict] = iter(())
    elif dask:
        results = _run_dask(payloads, dask, workers)
    elif workers == 1 or len(payloads) == 1:
        results = _run_serial(payloads)
    else:
        results = _run_local(payloads, workers, inherited_fds)
    show = sys.stdout.isatty() if progress is None else progress
    bar = tqdm(total=total, initial=already, unit="pt", desc="sweep", disable=not show, file=sys.stderr,
               dynamic_ncols=True)
    failures: list[dict[str, Any]] = []
    frames: dict[str, pd.DataFrame] = {}
    start = time.perf_counter()
    try:
        for outcome in results:
            point = by_id[outcome["id"]]
            if outcome["ok"]:
                if store is not None:
                    store.commit(outcome)
                else:
                    frames[point.id] = pd.DataFrame(outcome["rows"])
            else:
                log.info("point %s (%s) failed: %s", point.id, point.label(), outcome["error"])
                failures.append({"point": point.to_dict(), "label": point.label(), "error": outcome["error"],
                                 "traceback": outcome.get("traceback", "")})
                if store is not None:
                    store.record_failure(point, outcome["error"], outcome.get("traceback", ""))
            if on_result is not None:
                on_result(outcome)
            bar.update(1)
            bar.set_postfix(left=bar.total - bar.n, failed=len(failures), refresh=False)
    finally:
        bar.close()
        if hasattr(results, "close"):
            results.close()  # shuts the pool / Dask client down if we stop early
    return failures, frames, start


def run_sweep(spec: str | os.PathLike | Mapping[str, Any], out: str | os.PathLike | None = None, *,
              workers: int | None = None, dask: str | None = None, progress: bool | None = None,
              on_result: Callable[[dict], None] | None = None) -> SweepOutcome:
    """Run a sweep; with ``out`` the results directory is created or resumed (see module docstring).

    ``workers``: local processes (default: every core; 1 runs in this process) or LocalCluster
    workers. ``dask``: None (local pool), ``"local"`` or a scheduler address. ``progress``: a
    tqdm bar on stderr; None shows it only when stdout is a terminal.
    """
    doc, _base, text = load_spec(spec)
    expansion = expand_spec(spec)
    points = expansion.points
    if not points:
        why = f" ({len(expansion.skipped)} skipped: {expansion.skipped[0][1]})" if expansion.skipped else ""
        raise SpecError(f"the spec has no runnable points{why}")
    store = Store(out) if out is not None else None
    with contextlib.ExitStack() as stack:
        lock_fd = stack.enter_context(store.locked()) if store is not None else None
        done: set[str] = set()
        if store is not None:
            store.init(doc, points, text)
            done = store.done_ids() & {p.id for p in points}
        todo = [p for p in points if p.id not in done]
        log.info("sweep: %d points, %d already done, %d to run", len(points), len(done), len(todo))
        failures, frames, start = _execute(todo, len(points), len(done), store, workers=workers or default_workers(),
                                           dask=dask, progress=progress, on_result=on_result,
                                           inherited_fds=(lock_fd,) if lock_fd is not None else ())
    elapsed = time.perf_counter() - start
    if store is not None:
        frame = store.load()
    else:
        frame = combine([frames[p.id] for p in points if p.id in frames])
    order = {p.id: i for i, p in enumerate(points)}
    failures.sort(key=lambda f: order[f["point"]["id"]])
    frame.attrs["failures"] = [{k: f[k] for k in ("label", "error")} | {"point": f["point"]["id"]}
                               for f in failures]
    partial = sum(1 for p in points if p.trace.get("skipped_layers"))
    return SweepOutcome(frame, len(points), len(done), len(todo), failures, elapsed, expansion.skipped, partial)


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


# ------------------------------------------------------------------------------------------- CLI
