"""The runner: for each layer, the chip's simulate_layer, then pricing, then a results row."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from accelsim import config as config_mod
from accelsim.accelerators.base import UnsupportedLayerError
from accelsim.accelerators.registry import ACCELERATORS, CONFIG_CLASSES
from accelsim.config import ChipConfig
from accelsim.energy import ERT, apply_overrides, load_table, price
from accelsim.results import LayerResult, PricedLayer, RunResult
from accelsim.trace.format import Trace
from accelsim.trace.lowering import reference_output

log = logging.getLogger(__name__)

#: max |out - ref| / max |ref| accepted by the functional check (float32 datapaths, float64 reference)
FUNCTIONAL_RTOL = 1e-4


def load_config(name_or_path: str | os.PathLike, **overrides) -> ChipConfig:
    """Load a preset name or YAML path into its chip's config class (see accelsim.config.load)."""
    return config_mod.load(name_or_path, CONFIG_CLASSES, **overrides)


def energy_reference(cfg: ChipConfig, table=None) -> ERT:
    """The chip's ERT for ``cfg`` from its energy table (or ``table``), with the table's overrides."""
    table = table if table is not None else load_table(cfg.energy_table)
    return apply_overrides(ACCELERATORS[cfg.accelerator].energy_reference(cfg, table), table.ert_overrides)


def functional_ok(result: LayerResult, layer) -> bool | None:
    """Does the chip's output equal the reference (its own, or the dense numpy one)?"""
    if result.output is None:
        return None
    ref = result.reference if result.reference is not None else reference_output(layer)
    if ref.shape != result.output.shape:
        return False
    scale = float(np.max(np.abs(ref))) or 1.0
    return bool(np.max(np.abs(result.output.astype(np.float64) - ref)) <= FUNCTIONAL_RTOL * scale)


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
    if unsupported not in ("error", "skip"):
        raise ValueError(f"unsupported={unsupported!r}: expected 'error' or 'skip'")
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
            log.warning("%s: layer %s output differs from the reference", acc.name, layer.name)
        priced.append(PricedLayer(result, trace.name, acc.name, cfg.label, cfg.clock_hz,
                                  price(result.action_counts, ert), ok, seed))
    return RunResult(priced)
