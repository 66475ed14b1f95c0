"""The surface every chip exposes: one :class:`Accelerator` record per chip, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from accelsim.config import ChipConfig
from accelsim.energy import ERT, EnergyTable
from accelsim.errors import AccelsimError
from accelsim.results import LayerResult
from accelsim.trace.layer import Layer


class UnsupportedLayerError(AccelsimError):
    """The chip cannot run this kind of layer."""


@dataclass(frozen=True)
class Accelerator:
    """A chip: its config class, its layer simulator and its energy reference.

    ``simulate_layer(layer, cfg) -> LayerResult`` is the chip's only entry point; it counts actions
    and never prices them. ``energy_reference(cfg, table) -> ERT`` prices each counted
    ``(component, action)`` from an energy table, so re-pricing never re-simulates.
    """

    name: str
    config_class: type[ChipConfig]
    simulate_layer: Callable[[Layer, ChipConfig], LayerResult]
    energy_reference: Callable[[ChipConfig, EnergyTable], ERT]
    kinds: tuple[str, ...]
    description: str = ""

    def check_layer(self, layer: Layer) -> None:
        if layer.kind not in self.kinds:
            raise UnsupportedLayerError(f"{self.name} cannot run {layer.kind} layer {layer.name!r} "
                                        f"(supports {', '.join(self.kinds)})")
