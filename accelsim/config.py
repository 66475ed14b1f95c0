"""Typed, frozen accelerator configs loaded from YAML presets, validated at load.

Every chip declares a frozen dataclass deriving from :class:`ChipConfig`; each field is declared
with :func:`param`, which carries its one-line description, unit (in the field name) and range.
Variants of a chip are subclasses that only override defaults (gem5 Params style).

A preset YAML file names its chip and sets fields::

    accelerator: systolic        # key into accelsim.accelerators.ACCELERATORS
    description: TPU-like ...    # free text (optional)
    sources: {rows: "Jouppi et al. ISCA 2017 §2"}   # where values come from (optional)
    rows: 128
    cols: 128

Unknown keys, wrong types and out-of-range values raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.errors import ConfigError, brief
from accelsim.safe_yaml import load_yaml, read_yaml_file

#: Keys a preset may carry besides the chip's fields.
META_KEYS = ("accelerator", "description", "sources")
#: Integer fields reach numba kernels and int64 results columns: they must fit in 64 bits.
INT64_RANGE = (-(2**63), 2**63 - 1)


def param(default: Any, doc: str, *, min: float | None = None, max: float | None = None,
          pow2: bool = False, choices: tuple | None = None) -> Any:
    """Declare a config field with its description and valid range."""
    meta = {"doc": doc, "min": min, "max": max, "pow2": pow2, "choices": choices}
    return dataclasses.field(default=default, metadata=meta)


def configs_dir() -> Path:
    """Where presets live: $ACCELSIM_CONFIGS, else the repository's configs/ folder."""
    env = os.environ.get("ACCELSIM_CONFIGS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "configs"


def preset_names() -> list[str]:
    d = configs_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


@dataclass(frozen=True)
class ChipConfig:
    """Fields every chip has. Subclasses add their own and set ``accelerator``."""

    accelerator: typing.ClassVar[str] = ""

    label: str = param("custom", "name shown in the results' `config` column")
    clock_hz: float = param(1e9, "core clock frequency, Hz", min=1.0)
    energy_table: str = param("horowitz45", "energy table: a name under accelsim/energy/tables or a YAML path")

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _check_field(f, hints[f.name], getattr(self, f.name)))
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; subclasses override and raise ConfigError."""

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(name, type, default, description) for every field, for docs and `accelsim info`."""
        hints = typing.get_type_hints(cls)
        return [(f.name, getattr(hints[f.name], "__name__", str(hints[f.name])), f.default,
                 f.metadata.get("doc", "")) for f in dataclasses.fields(cls)]


@dataclass(frozen=True)
class DRAMChipConfig(ChipConfig):
    """A chip with an off-chip DRAM channel (``accelsim.engine.DRAM``): the same fields on every such chip.

    Subclasses may redeclare a field only to change its default (and cite the source).
    """

    dram_bytes_per_cycle: float = param(32.0, "DRAM bandwidth, bytes per core cycle", min=1e-3)
    dram_latency_cycles: int = param(0, "fixed DRAM latency per transfer, cycles", min=0)
    dram_burst_bytes: int = param(64, "DRAM burst size, bytes", min=1, pow2=True)
    dram_type: str = param("LPDDR4", "DRAM type for energy (a key of the table's dram_pj_per_bit)")


def _check_field(f: dataclasses.Field, typ: Any, value: Any) -> Any:
    """Check one field's type and range; return the value (ints widened to float fields)."""
    name = f.name
    if isinstance(value, np.generic):  # numpy scalars count as the Python values they hold
        value = value.item()
    if typ in (int, float) and isinstance(value, int) and not isinstance(value, bool) \
            and not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
        raise ConfigError(f"{name}: {brief(value)} does not fit in 64 bits")
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if typ is float and isinstance(value, str):  # PyYAML reads 1.0e9 (no sign) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if (typ in (int, float) and isinstance(value, bool)) or not isinstance(value, typ):
        raise ConfigError(f"{name}: expected {typ.__name__}, got {type(value).__name__} {brief(value)}")
    if typ is float and not math.isfinite(value):  # NaN would pass every range check below
        raise ConfigError(f"{name}: {value!r} is not a finite number")
    m = f.metadata
    if m.get("choices") is not None and value not in m["choices"]:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(str, m['choices']))}")
    if m.get("min") is not None and value < m["min"]:
        raise ConfigError(f"{name}: {value!r} is below the minimum {m['min']}")
    if m.get("max") is not None and value > m["max"]:
        raise ConfigError(f"{name}: {value!r} is above the maximum {m['max']}")
    if m.get("pow2") and (value <= 0 or value & (value - 1)):
        raise ConfigError(f"{name}: {value!r} must be a power of two (the hardware indexes it with bits)")
    return value


def parse_key_values(items: list[str] | None, option: str = "--set") -> dict[str, Any]:
    """Parse CLI ``key=value`` items; values are read as YAML scalars (64, 1e9, true, ws)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected key=value")
        out[key.strip()] = load_yaml(raw, f"{option} {item!r}", ConfigError)
    return out


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``--set key=value`` config overrides."""
    return parse_key_values(items, "--set")


def _resolve(source: str | os.PathLike) -> tuple[Path, str]:
    p = Path(source)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        return p, p.stem
    preset = configs_dir() / f"{source}.yaml"
    if preset.is_file():
        return preset, str(source)
    raise ConfigError(f"unknown config {str(source)!r}: not a file and not a preset "
                      f"(presets: {', '.join(preset_names()) or 'none'})")


def load(source: str | os.PathLike | Mapping, classes: Mapping[str, type[ChipConfig]],
         **overrides: Any) -> ChipConfig:
    """Load a preset name, YAML path or mapping into the chip's config class, then apply overrides."""
    if isinstance(source, Mapping):
        doc, label, where = dict(source), str(source.get("label", "custom")), "config"
    elif isinstance(source, (str, os.PathLike)) and not isinstance(source, ChipConfig):
        path, label = _resolve(source)
        where = str(path)
        doc = read_yaml_file(path, ConfigError)
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}: expected a mapping of config keys")
    else:
        raise ConfigError(f"config: expected a preset name, a YAML path or a mapping, got {type(source).__name__} "
                          f"{brief(source)}")
    bad_keys = [k for k in (*doc, *overrides) if not isinstance(k, str)]
    if bad_keys:
        raise ConfigError(f"{where}: config keys must be strings, got {brief(bad_keys[0])}")
    chip = doc.get("accelerator")
    if not isinstance(chip, str) or chip not in classes:
        raise ConfigError(f"{where}: accelerator: {brief(chip)} is not a known chip "
                          f"(known: {', '.join(sorted(classes))})")
    cls = classes[chip]
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in doc.items() if k not in META_KEYS}
    values.setdefault("label", label)
    if overrides:
        tag = ",".join(f"{k}={v}" for k, v in overrides.items() if k != "label")
        values.update(overrides)
        if "label" not in overrides and tag:
            values["label"] = f"{values['label']}[{tag}]"
    for k in values:
        if k not in fields:
            raise ConfigError(f"{where}: unknown key {k!r} for {chip} (valid: {', '.join(sorted(fields))})")
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
