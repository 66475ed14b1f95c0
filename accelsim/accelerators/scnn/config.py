"""Configs of SCNN (Parashar et al., ISCA 2017) and its dense baselines DCNN / DCNN-opt.

All three share one planar-tiled PE array (``PlanarArrayConfig``); SCNN adds its sparsity switches,
DCNN its dense storage and the two DCNN-opt optimisations, and DCNN-opt is DCNN with those two
switched on (a subclass that only overrides defaults). Paper values (§V): 8 x 8 PEs, F x I
= 4 x 4 multipliers per PE, A = 32 accumulator banks of 32 entries, double-buffered, 10 KB IARAM and
10 KB OARAM per PE, a 50-entry weight FIFO, 16-bit multiplies, 24-bit accumulation, 4-bit zero runs,
~1 GHz. DCNN has the same PEs and multipliers and 2 MB of SRAM (§V), which we split as 16 KB IARAM
+ 16 KB OARAM of dense 16-bit values per PE. Choices where the paper is silent are documented on
the fields and in ``model.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from accelsim.config import DRAMChipConfig, param
from accelsim.errors import ConfigError


@dataclass(frozen=True)
class PlanarArrayConfig(DRAMChipConfig):
    """The PE array, accumulators, buffers and DRAM shared by SCNN, DCNN and DCNN-opt."""

    accelerator: ClassVar[str] = ""

    pe_rows: int = param(8, "PE rows of the array (planar tiles along the input height), SCNN §V", min=1, max=256)
    pe_cols: int = param(8, "PE columns of the array (planar tiles along the input width), SCNN §V", min=1, max=256)
    mult_f: int = param(4, "F: weights per multiplier-array vector (array rows), SCNN §IV", min=1, max=64)
    mult_i: int = param(4, "I: activations per multiplier-array vector (array columns), SCNN §IV", min=1, max=64)
    acc_banks: int = param(32, "A: accumulator banks per PE behind the F·I x A crossbar (A = 2·F·I), SCNN §IV",
                           min=1, max=1024, pow2=True)
    acc_bank_entries: int = param(32, "entries per accumulator bank (one buffer), SCNN §V", min=1, max=65536)
    acc_double_buffered: bool = param(True, "two accumulator buffers: a group drains while the next computes")
    value_bits: int = param(16, "bits of a weight or activation value (16-bit multiplies, SCNN §V)", min=1, max=64)
    acc_bits: int = param(24, "bits of an accumulator entry (24-bit accumulation, SCNN §V)", min=1, max=64)
    run_bits: int = param(4, "bits of a zero-run index (4-bit runs with placeholder zeros, SCNN §IV)", min=1,
                          max=8)  # runs are stored as uint8 (accelsim.formats.relative_index)
    iaram_bytes: int = param(10240, "input activation RAM per PE, bytes (values and indices)", min=1)
    oaram_bytes: int = param(10240, "output activation RAM per PE, bytes (values and indices)", min=1)
    weight_fifo_entries: int = param(50, "weight FIFO entries per PE (SCNN §V); weights of one channel of a group "
                                         "beyond this are streamed in chunks", min=1)
    weight_order: str = param("rsk", "linearisation of a Kc x R x S weight block (the paper is silent): rsk "
                                     "(output channel fastest: a dense vector never hits one entry twice) or krs "
                                     "(kernel column fastest, the loop order of §III-B: fewer bank conflicts when "
                                     "sparse, more when dense)", choices=("rsk", "krs"))
    stride_phases: bool = param(True, "split strided convs into stride² phase streams so every product lands on "
                                      "the output grid (our choice; off: off-grid products are wasted)")
    halo_words_per_cycle: int = param(4, "partial sums a PE sends to its neighbours per cycle (halo exchange)",
                                      min=1)
    ppu_words_per_cycle: int = param(4, "outputs the post-processing unit drains per cycle (ReLU, compress, OARAM)",
                                     min=1)
    dram_bytes_per_cycle: float = param(50.0, "DRAM bandwidth, bytes per core cycle (SCNN §VI temporal "
                                              "tiling: 50 GB/s nominal)", min=1e-3)

    @property
    def pes(self) -> int:
        return self.pe_rows * self.pe_cols

    @property
    def multipliers(self) -> int:
        return self.pes * self.mult_f * self.mult_i

    @property
    def acc_entries(self) -> int:
        """Entries of one accumulator buffer: the output-channel group, halo included, must fit."""
        return self.acc_banks * self.acc_bank_entries

    @property
    def fifo_chunk(self) -> int:
        """Weight entries streamed per FIFO refill: the FIFO rounded down to whole F-vectors."""
        return max(self.mult_f, (self.weight_fifo_entries // self.mult_f) * self.mult_f)

    def validate(self) -> None:
        if self.acc_bits < self.value_bits:
            raise ConfigError(f"acc_bits: {self.acc_bits} is narrower than value_bits {self.value_bits}")


@dataclass(frozen=True)
class ScnnConfig(PlanarArrayConfig):
    """SCNN: PT-IS-CP-sparse (§III-B). ``sparse_operands`` selects SCNN, SCNN-SparseA or SCNN-SparseW."""

    accelerator: ClassVar[str] = "scnn"

    sparse_operands: str = param("both", "operands kept compressed and skipped: both (SCNN), activations "
                                         "(SCNN-SparseA) or weights (SCNN-SparseW), SCNN §VI",
                                 choices=("both", "activations", "weights"))
    acc_queue: int = param(4, "products an accumulator bank can hold (incl. the one it adds this cycle); 1 = pure "
                              "serialisation; our provisioning choice, see kernels.py", min=1, max=1024)
    bank_conflicts: bool = param(True, "model accumulator bank conflicts (off: every vector pair takes one cycle)")

    @property
    def sparse_activations(self) -> bool:
        return self.sparse_operands in ("both", "activations")

    @property
    def sparse_weights(self) -> bool:
        return self.sparse_operands in ("both", "weights")


@dataclass(frozen=True)
class DcnnConfig(PlanarArrayConfig):
    """DCNN: the dense baseline with SCNN's 64 PEs and 1,024 multipliers (PT-IS-DP-dense, §V; see dcnn.py)."""

    accelerator: ClassVar[str] = "dcnn"

    iaram_bytes: int = param(16384, "input activation RAM per PE, bytes (dense; 2 MB SRAM chip-wide, §V)", min=1)
    oaram_bytes: int = param(16384, "output activation RAM per PE, bytes (dense; 2 MB SRAM chip-wide, §V)", min=1)
    zero_gating: bool = param(False, "gate the multiplier and accumulator of products with a zero activation "
                                     "(DCNN-opt, §V)")
    compressed_dram: bool = param(False, "move activations and weights to/from DRAM in the zero-run format "
                                         "(DCNN-opt, §V)")


@dataclass(frozen=True)
class DcnnOptConfig(DcnnConfig):
    """DCNN-opt: DCNN plus zero-activation gating and compressed DRAM transfers (§V)."""

    accelerator: ClassVar[str] = "dcnn_opt"

    zero_gating: bool = param(True, "gate the multiplier and accumulator of products with a zero activation "
                                    "(DCNN-opt, §V)")
    compressed_dram: bool = param(True, "move activations and weights to/from DRAM in the zero-run format "
                                        "(DCNN-opt, §V)")
