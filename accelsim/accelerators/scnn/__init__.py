"""SCNN (Parashar et al., ISCA 2017) and its dense baselines DCNN and DCNN-opt.

One package, three chips sharing the planar-tiled PE array, the mapping, the schedule and the
energy prices: ``scnn`` (PT-IS-CP-sparse; ``sparse_operands`` gives SCNN-SparseA / SCNN-SparseW),
``dcnn`` (PT-IS-DP-dense) and ``dcnn_opt`` (DCNN + zero-activation gating + compressed DRAM).
"""

from accelsim.accelerators.scnn.config import DcnnConfig, DcnnOptConfig, ScnnConfig
from accelsim.accelerators.scnn.dcnn import DCNN, DCNN_OPT
from accelsim.accelerators.scnn.model import SCNN, simulate_layer

__all__ = ["DCNN", "DCNN_OPT", "SCNN", "DcnnConfig", "DcnnOptConfig", "ScnnConfig", "simulate_layer"]
