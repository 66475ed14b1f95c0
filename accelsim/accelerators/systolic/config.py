"""Config of the dense TPU-like systolic array (Jouppi et al., ISCA 2017; SCALE-Sim's model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from accelsim.config import DRAMChipConfig, param
from accelsim.errors import ConfigError


@dataclass(frozen=True)
class SystolicConfig(DRAMChipConfig):
    """An R x C array of MAC PEs with OS, WS or IS dataflow and three SRAMs (SCALE-Sim's layout)."""

    accelerator: ClassVar[str] = "systolic"

    rows: int = param(32, "PE rows of the array", min=1, max=4096)
    cols: int = param(32, "PE columns of the array", min=1, max=4096)
    dataflow: str = param("os", "os (output stationary), ws (weight stationary) or is (input stationary)",
                          choices=("os", "ws", "is"))
    word_bytes: int = param(2, "bytes per operand word in SRAM and DRAM", min=1, max=8)
    mult_bits: int = param(16, "multiplier operand width, bits (energy)", min=1, max=64)
    acc_bits: int = param(32, "accumulator width, bits (energy)", min=1, max=64)
    ifmap_sram_bytes: int = param(1024 * 1024, "input-operand SRAM capacity, bytes", min=1)
    filter_sram_bytes: int = param(1024 * 1024, "weight-operand SRAM capacity, bytes", min=1)
    ofmap_sram_bytes: int = param(512 * 1024, "output SRAM capacity, bytes", min=1)
    double_buffered: bool = param(True, "SRAMs hold two tiles so DRAM loads overlap compute")
    sparsity_n: int = param(0, "N of SCALE-Sim's N:M weight sparsity (0 = dense)", min=0)
    sparsity_m: int = param(0, "M of SCALE-Sim's N:M weight sparsity (0 = dense)", min=0)
    fold_timing: str = param("scalesim_v3", "per-fold fill/drain: scalesim_v3 (SCALE-Sim v3 parity) or sigma_paper "
                                            "(the SIGMA paper's TPU baseline, ws/is only; see timing.py)",
                             choices=("scalesim_v3", "sigma_paper"))

    def validate(self) -> None:
        if self.fold_timing == "sigma_paper" and self.dataflow == "os":
            raise ConfigError("fold_timing: sigma_paper is defined for the ws and is dataflows, not os")
        if (self.sparsity_n == 0) != (self.sparsity_m == 0):
            raise ConfigError("sparsity_n/sparsity_m: set both (N:M) or neither")
        if self.sparsity_n > self.sparsity_m:
            raise ConfigError(f"sparsity_n: {self.sparsity_n} exceeds sparsity_m {self.sparsity_m}")

    @property
    def nm_sparse(self) -> bool:
        return self.sparsity_m > 0
