"""The runner: for each layer, the chip's simulate_layer, then pricing, then a results row."""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Sequence

import numpy as np

from accelsim import config as config_mod
from accelsim.accelerators.base import UnsupportedLayerError
from accelsim.accelerators.registry import ACCELERATORS, CONFIG_CLASSES
from accelsim.config import ChipConfig
from accelsim.energy import ERT, apply_overrides, load_table, price
from accelsim.errors import AccelsimError, ConfigError, EnergyError, TraceError
from accelsim.results import LayerResult, PricedLayer, RunResult
from accelsim.trace.format import Trace, check_layer_names
from accelsim.trace.lowering import reference_output

log = logging.getLogger(__name__)

#: max |out - ref| / max |ref| accepted by the functional check (float32 datapaths, float64 reference)
FUNCTIONAL_RTOL = 1e-4


def load_config(name_or_path: str | os.PathLike, **overrides) -> ChipConfig:
    """Load a preset name or YAML path into its chip's config class (see accelsim.config.load).

    The config's energy table is loaded and checked too (its DRAM type, its overrides), so a config
    that ``run`` would refuse is refused here, by ``accelsim info`` as well.
    """
    cfg = config_mod.load(name_or_path, CONFIG_CLASSES, **overrides)
    energy_reference(cfg)
    return cfg


def energy_reference(cfg: ChipConfig, table=None) -> ERT:
    """The chip's ERT for ``cfg`` from its energy table (or ``table``), with the table's overrides.

    Every override must name an action the chip counts: an override that prices nothing is a typo.
    """
    table = table if table is not None else load_table(cfg.energy_table)
    chip_ert = ACCELERATORS[cfg.accelerator].energy_reference(cfg, table)
    for key in table.ert_overrides:
        if tuple(key.split(":", 1)) not in chip_ert:
            raise EnergyError(f"energy table {table.name}: ert_overrides key {key!r} is not an action "
                              f"{cfg.accelerator} counts (it counts: "
                              f"{', '.join(sorted(f'{c}:{a}' for c, a in chip_ert))})")
    return apply_overrides(chip_ert, table.ert_overrides)


def functional_ok(result: LayerResult, layer) -> bool | None:
    """Does the chip's output equal the reference (its own, or the dense numpy one)?"""
    if result.output is None:
        return None
    ref = result.reference if result.reference is not None else reference_output(layer)
    if ref.shape != result.output.shape:
        return False
    scale = float(np.max(np.abs(ref))) or 1.0
    return bool(np.max(np.abs(result.output.astype(np.float64) - ref)) <= FUNCTIONAL_RTOL * scale)


def check_float32_range(result: LayerResult, layer, trace_name: str) -> None:
    """Raise TraceError when a failed output check comes from values float32 cannot hold.

    Finite but absurd inputs (a corrupted weight of 3.4e38) make the chip's float32 output overflow;
    that is bad input, not a chip bug, and is reported as such.
    """
    ref = result.reference if result.reference is not None else reference_output(layer)
    peak = float(np.max(np.abs(ref))) if ref.size else 0.0
    chip_finite = result.output is None or bool(np.isfinite(result.output).all())
    if not chip_finite or not math.isfinite(peak) or peak > float(np.finfo(np.float32).max):
        largest = max(float(np.max(np.abs(t), initial=0.0)) for t in (layer.weight, layer.input))
        raise TraceError(f"{trace_name}: layer {layer.name!r}: the inputs overflow float32 (largest input "
                         f"magnitude {largest:.3g}, reference output up to {peak:.3g}; float32 holds up to "
                         f"{float(np.finfo(np.float32).max):.3g}): is the trace corrupt?")


def _check_arguments(trace: Trace, cfg: ChipConfig, layers: Sequence[str] | None, unsupported: str,
                     seed: int | None) -> None:
    if not isinstance(trace, Trace):
        hint = " (open a file with accelsim.load_trace)" if isinstance(trace, (str, os.PathLike)) else ""
        raise TraceError(f"simulate: expected a Trace, got {type(trace).__name__}{hint}")
    if not isinstance(cfg, ChipConfig):
        hint = " (load a preset with accelsim.load_config)" if isinstance(cfg, (str, os.PathLike)) else ""
        raise ConfigError(f"simulate: expected a config object, got {type(cfg).__name__}{hint}")
    if layers is not None:
        check_layer_names(layers, "simulate")
    if unsupported not in ("error", "skip"):
        raise AccelsimError(f"simulate: unsupported={unsupported!r}: expected 'error' or 'skip'")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise AccelsimError(f"simulate: seed must be an integer or None, got {type(seed).__name__}")


def supported_layers(trace: Trace, cfg: ChipConfig) -> tuple[list[str], list[str]]:
    """Split the trace's layer names into those the chip can run and those it cannot (by kind)."""
    kinds = ACCELERATORS[cfg.accelerator].kinds
    ok = [i.name for i in trace.infos if i.kind in kinds]
    return ok, [i.name for i in trace.infos if i.kind not in kinds]


def simulate(trace: Trace, cfg: ChipConfig, *, layers: Sequence[str] | None = None,
             seed: int | None = None, unsupported: str = "error") -> RunResult:
    """Simulate every layer (or the named ones) of ``trace`` on ``cfg``.

    ``unsupported="skip"`` leaves out layers of a kind the chip cannot run (EIE runs FC layers
    only, SCNN conv layers only); the default raises UnsupportedLayerError naming the layer.
    """
    _check_arguments(trace, cfg, layers, unsupported, seed)
    acc = ACCELERATORS[cfg.accelerator]
    ert = energy_reference(cfg)
    if layers:
        trace = trace.select(layers)
    runnable, skipped = supported_layers(trace, cfg)
    if skipped and unsupported == "skip":
        if not runnable:
            raise UnsupportedLayerError(f"{acc.name} supports none of the layers of {trace.name} "
                                        f"(it runs {', '.join(acc.kinds)})")
        log.info("%s: skipping layers it cannot run: %s", acc.name, ", ".join(skipped))
        for name in skipped:  # a trace is valid or not whatever the chip: read (and check) skipped layers too
            trace[name]
        trace = trace.select(runnable)
    elif skipped:
        acc.check_layer(trace[skipped[0]])
    if seed is None:
        seed = trace.provenance.get("seed")
    priced = []
    for layer in trace:
        result = acc.simulate_layer(layer, cfg)
        ok = functional_ok(result, layer)
        if ok is False:
            check_float32_range(result, layer, trace.name)
            log.warning("%s: layer %r: output check failed: the chip's output differs from the dense reference "
                        "(output_ok=False)", acc.name, layer.name)
        priced.append(PricedLayer(result, trace.name, acc.name, cfg.label, cfg.clock_hz,
                                  price(result.action_counts, ert), ok, seed))
    return RunResult(priced)
