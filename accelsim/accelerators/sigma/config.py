"""Config of SIGMA (Qin et al., "SIGMA: A Sparse and Irregular GEMM Accelerator with Flexible
Interconnects for DNN Training", HPCA 2020). Defaults are the evaluated instance (§V, §VI, Fig. 8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from accelsim.config import DRAMChipConfig, param
from accelsim.errors import ConfigError


@dataclass(frozen=True)
class SigmaConfig(DRAMChipConfig):
    """Flex-DPEs of N multipliers, each with a Benes distribution network and a FAN reduction network."""

    accelerator: ClassVar[str] = "sigma"

    clock_hz: float = param(500e6, "core clock, Hz (Fig. 8 table: 500 MHz)", min=1.0)
    energy_table: str = param("sigma28", "energy table: a name under accelsim/energy/tables or a YAML path")
    flex_dpes: int = param(128, "Flex-DPEs (§V: 128)", min=1, max=65536)
    dpe_size: int = param(128, "multipliers per Flex-DPE, the FAN/Benes width (§V: 128)", min=2, max=65536,
                          pow2=True)
    input_words_per_cycle: int = param(128, "words per cycle from SRAM into the distribution networks, for "
                                            "loading and streaming (§V: 128)", min=1)
    reduction_words_per_cycle: int = param(0, "FAN sums leaving per cycle; 0 = no limit (the paper states none; "
                                              "STONNE's rn_bw)", min=0)
    stationary: str = param("auto", "operand held in the multipliers: mk (input), kn (weight) or auto (both "
                                     "simulated, the faster kept: §VI)", choices=("auto", "mk", "kn"))
    packing: str = param("kmajor", "how stationary non-zeros fill a fold: kmajor (folds cut along k, every row's "
                                   "VN piece of the k-range; ours) or rows (whole rows, a row larger than the "
                                   "array folded: STONNE's controller)", choices=("kmajor", "rows"))
    align_folds: bool = param(True, "kmajor: end a fold spanning more than input_words_per_cycle distinct k on a "
                                    "multiple of it, so no streaming cycle goes out part-empty (ours, adopted "
                                    "after comparing with the paper's rows; analysis/sigma_gemms.py prints both)")
    map_by_streaming_bitmap: bool = param(True, "map only stationary non-zeros whose k row of the streamed "
                                                "operand holds a non-zero (§IV-D); STONNE maps all")
    fold_setup_cycles: int = param(0, "controller cycles per fold before loading (STONNE: configure + "
                                      "distribute states = 2)", min=0)
    multiply_cycles: int = param(1, "multiplier pipeline depth (§V: 1)", min=1)
    word_bytes: int = param(2, "operand word, bytes (BF16)", min=1, max=8)
    acc_bytes: int = param(4, "partial-sum word, bytes (FP32 accumulation)", min=1, max=8)
    data_sram_bytes: int = param(32 * 1024 * 1024, "data SRAM, bytes (Fig. 8: 32 MB)", min=1)
    bitmap_sram_bytes: int = param(4 * 1024 * 1024, "bitmap SRAM, bytes (Fig. 8: 4 MB)", min=1)
    acc_sram_bytes: int = param(32 * 1024 * 1024, "accumulation SRAM, bytes (Fig. 8: 32 MB)", min=1)
    dram_bytes_per_cycle: float = param(2048.0, "HBM2 bandwidth per core cycle (Fig. 8: 1024 GB/s at 500 MHz)",
                                        min=1e-3)
    dram_type: str = param("HBM2", "DRAM type for energy (Fig. 8: HBM2)")

    def validate(self) -> None:
        if self.packing == "rows" and self.flex_dpes != 1:
            raise ConfigError("packing: rows (STONNE's controller) maps into one Flex-DPE; set flex_dpes: 1")

    @property
    def multipliers(self) -> int:
        return self.flex_dpes * self.dpe_size
