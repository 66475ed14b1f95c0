"""SIGMA (Qin et al., HPCA 2020): sparse, irregular GEMM on Flex-DPEs with Benes and FAN networks."""

from accelsim.accelerators.sigma.config import SigmaConfig
from accelsim.accelerators.sigma.model import (
    SIGMA,
    GemmRun,
    StationaryOperand,
    compress_stationary,
    fold_phases,
    run_orientation,
    simulate_gemm,
    simulate_layer,
)

__all__ = ["SIGMA", "GemmRun", "SigmaConfig", "StationaryOperand", "compress_stationary", "fold_phases",
           "run_orientation", "simulate_gemm", "simulate_layer"]
