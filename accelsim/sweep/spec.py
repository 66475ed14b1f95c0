"""Sweep specs: parsing and validation, and expansion of the grids into points (:class:`Point`).

See :mod:`accelsim.sweep` for the spec format.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.errors import AccelsimError
from accelsim.safe_yaml import read_yaml_file

log = logging.getLogger(__name__)


SPEC_KEYS = ("name", "description", "traces", "density", "accelerators", "unsupported")
TRACE_KEYS = ("path", "synth", "layers", "density")
SYNTH_KEYS = ("network", "gemm", "seed", "structure", "batch", "layers")
ACCEL_KEYS = ("config", "set", "grid", "zip")
DENSITY_KEYS = ("weight", "act")


class SpecError(AccelsimError):
    """A sweep spec is malformed. The message names the key and what to write instead."""



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
            if not isinstance(k, str):
                raise SpecError(f"{where}.{key}: config field names must be strings, got {k!r:.40}")
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


def _plain(value: Any) -> Any:
    """A Python-API spec with numpy scalars (np.int64(64) in a grid) turned into the Python values they hold."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def load_spec(spec: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, Any], Path | None, str | None]:
    """Read a spec: (document, the directory relative paths may be relative to, raw text)."""
    if isinstance(spec, Mapping):
        return _plain(spec), None, None
    if not isinstance(spec, (str, os.PathLike)):
        raise SpecError(f"sweep spec: expected a YAML path or a mapping, got {type(spec).__name__}")
    path = Path(spec)
    if not path.is_file():
        raise SpecError(f"sweep spec {str(spec)!r} does not exist")
    doc = read_yaml_file(path, SpecError)
    text = path.read_text(encoding="utf-8")
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

