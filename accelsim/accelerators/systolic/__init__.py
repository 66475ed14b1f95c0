"""Dense TPU-like systolic array: the baseline of SIGMA and column combining, checked against SCALE-Sim v3."""

from accelsim.accelerators.systolic.config import SystolicConfig
from accelsim.accelerators.systolic.model import SYSTOLIC, simulate_layer

__all__ = ["SYSTOLIC", "SystolicConfig", "simulate_layer"]
