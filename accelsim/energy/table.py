"""Energy reference tables: per-operation energies with their sources, and the interpolations
that turn them into prices for a chip's components (Accelergy-style ERT).

Interpolation rules (documented in shared/reference/energy.md): arithmetic is interpolated
log-log in operand width (multipliers grow ~bits^2, adders ~bits); SRAM access energy log-log in
capacity (~sqrt(size)) and linearly in access width; DRAM is pJ per bit by DRAM type.

Tables are validated when loaded (EnergyError naming the table file, the key and the reason): only
known top-level keys and arithmetic ops; every energy, size, node and voltage finite and positive
(an ``ert_overrides`` price may be 0: a free action); each curve has at least one point (one point
extrapolates with the default exponent) listed in increasing size. Whether each ``ert_overrides``
key names an action the chip counts is checked where the chip is known
(:func:`accelsim.simulate.energy_reference`).
"""

from __future__ import annotations

import copy
import functools
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accelsim.errors import EnergyError
from accelsim.safe_yaml import read_yaml_file

TABLES_DIR = Path(__file__).resolve().parent / "tables"

#: Nominal supply voltage per node, for classical C*V^2 scaling (E ~ L * V^2).
NOMINAL_VDD = {180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 0.9, 40: 0.9, 32: 0.9, 28: 0.9,
               22: 0.8, 20: 0.8, 16: 0.8, 14: 0.8, 10: 0.75, 7: 0.7}


#: Top-level keys of a table file.
TABLE_KEYS = ("name", "extends", "node_nm", "vdd", "arith", "sram_read_64b", "sram_write_factor",
              "dram_pj_per_bit", "ert_overrides", "sources")
#: Arithmetic ops a table may price (what :meth:`EnergyTable.mac_pj` and the chips ask for).
ARITH_OPS = ("int_add", "int_mult", "fp_add", "fp_mult")


def _loglog(points: dict[float, float], x: float, default_exponent: float) -> float:
    """Piecewise log-log interpolation through (x, y) points; extrapolates with the end slopes."""
    if x in points:  # exact at table points (the power law below is off by rounding there)
        return points[x]
    xs = sorted(points)
    if len(xs) == 1:
        return points[xs[0]] * (x / xs[0]) ** default_exponent
    if x <= xs[0]:
        lo, hi = xs[0], xs[1]
    elif x >= xs[-1]:
        lo, hi = xs[-2], xs[-1]
    else:
        hi_i = next(i for i, v in enumerate(xs) if v >= x)
        lo, hi = xs[max(hi_i - 1, 0)], xs[hi_i]
        if lo == hi:
            return points[lo]
    slope = math.log(points[hi] / points[lo]) / math.log(hi / lo)
    return points[lo] * (x / lo) ** slope


@dataclass(frozen=True)
class EnergyTable:
    """Per-operation energies at one technology node."""

    name: str
    node_nm: float
    vdd: float
    arith: dict[str, dict[float, float]]
    sram_read_64b: dict[float, float]
    sram_write_factor: float
    dram_pj_per_bit: dict[str, float]
    ert_overrides: dict[str, float] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)

    # -- primitive prices ---------------------------------------------------------
    def arith_pj(self, op: str, bits: int) -> float:
        """Energy of one arithmetic op (``int_add``, ``int_mult``, ``fp_add``, ``fp_mult``)."""
        if op not in self.arith:
            raise EnergyError(f"energy table {self.name}: no arithmetic op {op!r} (has {', '.join(self.arith)})")
        return _loglog(self.arith[op], bits, 2.0 if op.endswith("mult") else 1.0)

    def mac_pj(self, mult_bits: int, acc_bits: int, kind: str = "int") -> float:
        """A multiply-accumulate: one multiply of ``mult_bits`` plus one add of ``acc_bits``."""
        return self.arith_pj(f"{kind}_mult", mult_bits) + self.arith_pj(f"{kind}_add", acc_bits)

    def sram_pj(self, size_bytes: float, width_bits: int, write: bool = False) -> float:
        """One access of ``width_bits`` to an SRAM array of ``size_bytes``."""
        per64 = _loglog(self.sram_read_64b, max(size_bytes, 1.0), 0.5)
        return per64 * width_bits / 64.0 * (self.sram_write_factor if write else 1.0)

    def dram_pj(self, bits: float, kind: str = "horowitz") -> float:
        if kind not in self.dram_pj_per_bit:
            raise EnergyError(f"energy table {self.name}: unknown DRAM type {kind!r} "
                              f"(has {', '.join(self.dram_pj_per_bit)})")
        return self.dram_pj_per_bit[kind] * bits

    # -- scaling --------------------------------------------------------------------
    def scaled(self, node_nm: float, vdd: float | None = None) -> EnergyTable:
        """This table at another node by classical scaling, E ~ L * Vdd^2 (DRAM is off-chip: unscaled)."""
        vdd = vdd if vdd is not None else NOMINAL_VDD.get(int(node_nm), self.vdd)
        f = (node_nm / self.node_nm) * (vdd / self.vdd) ** 2
        return replace(
            self, name=f"{self.name}@{node_nm:g}nm", node_nm=node_nm, vdd=vdd,
            arith={op: {b: e * f for b, e in pts.items()} for op, pts in self.arith.items()},
            sram_read_64b={s: e * f for s, e in self.sram_read_64b.items()},
            ert_overrides={k: v * f for k, v in self.ert_overrides.items()},
        )


def _read_yaml(path: Path) -> dict:
    """The table file's document (parsed once per file version: every load_config prices its chip)."""
    try:
        st = path.stat()
        version = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError as exc:
        raise EnergyError(f"energy table {path}: cannot read ({exc.strerror or exc})") from None
    return copy.deepcopy(_parse_table_file(path, version))


@functools.lru_cache(maxsize=64)
def _parse_table_file(path: Path, version: tuple) -> dict:
    doc = read_yaml_file(path, EnergyError, "energy table")
    if not isinstance(doc, dict):
        raise EnergyError(f"energy table {path}: expected a mapping")
    unknown = [k for k in doc if k not in TABLE_KEYS]
    if unknown:
        raise EnergyError(f"energy table {path}: unknown key {str(unknown[0])!r} (valid: {', '.join(TABLE_KEYS)})")
    return doc


def load_table(name_or_path: str | os.PathLike) -> EnergyTable:
    """Load a table by name (``horowitz45``, ``eie45``…) or path; ``extends:`` inherits a parent table.

    A relative YAML path in ``extends:`` is resolved against the extending table's folder.
    """
    return _load_table(name_or_path, ())


def _load_table(name_or_path: str | os.PathLike, chain: tuple[Path, ...], relative_to: Path | None = None
                ) -> EnergyTable:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        path = relative_to / p if relative_to is not None and not p.is_absolute() else p
    else:
        path = TABLES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(q.stem for q in TABLES_DIR.glob("*.yaml")))
        raise EnergyError(f"unknown energy table {str(name_or_path)!r} (known: {known})")
    if path.resolve() in chain:
        raise EnergyError(f"energy table {path}: 'extends' forms a cycle "
                          f"({' -> '.join(q.name for q in (*chain, path.resolve()))})")
    doc = _read_yaml(path)
    if "extends" in doc:
        base = _load_table(str(doc.pop("extends")), (*chain, path.resolve()), path.parent)
        merged: dict[str, Any] = {
            "name": base.name, "node_nm": base.node_nm, "vdd": base.vdd, "arith": dict(base.arith),
            "sram_read_64b": dict(base.sram_read_64b), "sram_write_factor": base.sram_write_factor,
            "dram_pj_per_bit": dict(base.dram_pj_per_bit), "ert_overrides": dict(base.ert_overrides),
            "sources": dict(base.sources),
        }
        for k, v in doc.items():
            if k == "sram_read_64b":  # the child's points join the parent's curve, in size order
                merged[k] = dict(sorted({**merged[k], **_curve(path, k, v)}.items()))
                continue
            merged[k] = {**merged[k], **v} if isinstance(merged.get(k), dict) and isinstance(v, dict) else v
        doc = merged
    return _build(path, doc)


def _number(path: Path, key: str, value: Any, *, zero_ok: bool = False) -> float:
    """A finite positive (or, with ``zero_ok``, non-negative) number, else EnergyError naming the key."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EnergyError(f"energy table {path}: {key}: expected a number, got {type(value).__name__} {value!r:.40}")
    try:
        x = float(value)
    except OverflowError:
        raise EnergyError(f"energy table {path}: {key}: the value is too large for a float") from None
    if not math.isfinite(x):
        raise EnergyError(f"energy table {path}: {key}: {x!r} is not a finite number")
    if x < 0 or (x == 0 and not zero_ok):
        raise EnergyError(f"energy table {path}: {key}: {x!r} must be {'>= 0' if zero_ok else 'positive'}")
    return x


def _mapping(path: Path, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise EnergyError(f"energy table {path}: {key}: expected a mapping, got {type(value).__name__}")
    return value


def _curve(path: Path, key: str, value: Any) -> dict[float, float]:
    """Interpolation points (size: pJ): at least one, sizes and energies finite and positive, sizes increasing."""
    pts = _mapping(path, key, value)
    if not pts:
        raise EnergyError(f"energy table {path}: {key}: needs at least one (size: pJ) point to interpolate from")
    out = {_number(path, f"{key}[{x!r}] size", x): _number(path, f"{key}[{x!r}]", e) for x, e in pts.items()}
    xs = list(out)
    if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
        raise EnergyError(f"energy table {path}: {key}: sizes must be listed in increasing order, got {xs}")
    return out


def _build(path: Path, doc: dict) -> EnergyTable:
    """Validate a (merged) table document: every price finite and positive, every name known."""
    missing = [k for k in ("name", "node_nm", "vdd", "arith", "sram_read_64b", "dram_pj_per_bit") if k not in doc]
    if missing:
        raise EnergyError(f"energy table {path}: missing entry {missing[0]!r}")
    arith = _mapping(path, "arith", doc["arith"])
    for op in arith:
        if op not in ARITH_OPS:
            raise EnergyError(f"energy table {path}: arith: unknown op {op!r} (known: {', '.join(ARITH_OPS)})")
    dram = _mapping(path, "dram_pj_per_bit", doc["dram_pj_per_bit"])
    if not dram:
        raise EnergyError(f"energy table {path}: dram_pj_per_bit: needs at least one DRAM type")
    overrides = _mapping(path, "ert_overrides", doc.get("ert_overrides") or {})
    for key in overrides:
        if not isinstance(key, str) or key.count(":") != 1 or "" in key.split(":"):
            raise EnergyError(f"energy table {path}: ert_overrides: key {key!r} is not 'component:action'")
    return EnergyTable(
        name=str(doc["name"]), node_nm=_number(path, "node_nm", doc["node_nm"]),
        vdd=_number(path, "vdd", doc["vdd"]),
        arith={op: _curve(path, f"arith.{op}", pts) for op, pts in arith.items()},
        sram_read_64b=_curve(path, "sram_read_64b", doc["sram_read_64b"]),
        sram_write_factor=_number(path, "sram_write_factor", doc.get("sram_write_factor", 1.0)),
        dram_pj_per_bit={str(k): _number(path, f"dram_pj_per_bit.{k}", v) for k, v in dram.items()},
        ert_overrides={k: _number(path, f"ert_overrides[{k!r}]", v, zero_ok=True) for k, v in overrides.items()},
        sources=dict(_mapping(path, "sources", doc.get("sources") or {})),
    )
