"""EIE (Han et al., ISCA 2016): sparse, weight-shared matrix x vector with an LNZD broadcast and per-PE queues."""

from accelsim.accelerators.eie.config import EIEConfig
from accelsim.accelerators.eie.model import EIE, EIEMapping, map_layer, simulate_layer, simulate_mapped

__all__ = ["EIE", "EIEConfig", "EIEMapping", "map_layer", "simulate_layer", "simulate_mapped"]
