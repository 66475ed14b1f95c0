"""The one registry of chips: name -> Accelerator. Add a chip by adding its record here."""

from __future__ import annotations

from accelsim.accelerators.base import Accelerator
from accelsim.accelerators.eie import EIE
from accelsim.accelerators.scnn import DCNN, DCNN_OPT, SCNN
from accelsim.accelerators.sigma import SIGMA
from accelsim.accelerators.systolic import SYSTOLIC

ACCELERATORS: dict[str, Accelerator] = {acc.name: acc for acc in (SYSTOLIC, SCNN, DCNN, DCNN_OPT, EIE, SIGMA)}

#: accelerator name -> config class, for accelsim.config.load
CONFIG_CLASSES = {name: acc.config_class for name, acc in ACCELERATORS.items()}
