"""Config of EIE (Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network",
ISCA 2016, arXiv 1602.01528). Defaults are the paper's design point (§IV, §VI, Table II)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from accelsim.config import ChipConfig, param
from accelsim.errors import ConfigError


@dataclass(frozen=True)
class EIEConfig(ChipConfig):
    """N PEs fed by one leading-non-zero-detection (LNZD) broadcast through per-PE activation queues."""

    accelerator: ClassVar[str] = "eie"

    clock_hz: float = param(800e6, "core clock frequency, Hz (§VI: 800 MHz)", min=1.0)
    energy_table: str = param("eie45", "energy table: a name under accelsim/energy/tables or a YAML path")
    pe_count: int = param(64, "processing elements; output row i is owned by PE i mod pe_count (§III-A)",
                          min=1, max=4096)
    queue_depth: int = param(8, "activation queue entries per PE, the activation in process included; the "
                                "broadcast stalls while any queue is full (§IV, Fig. 8: 8)", min=1, max=65536)
    registered_full: bool = param(True, "the broadcast decides on the queues' occupancy at the start of a cycle "
                                        "(a registered chip-wide full flag): a slot freed in cycle t takes a push "
                                        "from t+1; false: from t")
    act_regfile_entries: int = param(64, "destination (and source) activation register entries per PE; "
                                         "vectors longer than this x pe_count run in batches (§IV)",
                                     min=1, max=65536)
    batch_barrier: bool = param(True, "all PEs drain before the next batch's broadcast starts (the paper "
                                      "completes each batch's MxV before the next); false streams batches")
    pipeline_stages: int = param(4, "PE pipeline depth; the last entry of a batch retires stages-1 cycles "
                                    "after it issues (§IV: 4 stages)", min=1, max=64)
    run_bits: int = param(4, "relative row index (zero run) width, bits (§III-A: 4)", min=1, max=8)
    codebook_bits: int = param(4, "shared-weight index width, bits; 2**bits shared weights (§III-A: 4)",
                               min=1, max=8)
    quantization: str = param("kmeans", "how the shared weights are fitted: kmeans (linear init) or linear",
                              choices=("kmeans", "linear"))
    weight_bits: int = param(16, "shared-weight (codebook entry) width, bits (§IV: 16-bit fixed point)",
                             min=1, max=64)
    act_bits: int = param(16, "activation and accumulator width, bits (§IV: 16-bit fixed point)", min=1, max=64)
    pointer_bits: int = param(16, "column pointer width, bits (§III-A: 16)", min=1, max=64)
    spmat_word_bits: int = param(64, "sparse-matrix SRAM word, bits; one read returns word / entry bits "
                                     "entries (§IV: 64 bits = 8 entries)", min=8, max=4096)
    spmat_sram_bytes: int = param(128 * 1024, "sparse-matrix SRAM per PE, bytes (Table II: 128 KB)", min=1)
    ptr_sram_bytes: int = param(32 * 1024, "pointer SRAM per PE (two banks), bytes (Table II: 32 KB)", min=2)
    act_sram_bytes: int = param(2 * 1024, "activation SRAM per PE for long vectors, bytes (§IV: 2 KB)", min=1)

    def validate(self) -> None:
        entry_bits = self.run_bits + self.codebook_bits
        if self.spmat_word_bits % entry_bits:
            raise ConfigError(f"spmat_word_bits: {self.spmat_word_bits} is not a whole number of "
                              f"{entry_bits}-bit entries (run_bits + codebook_bits)")

    @property
    def entries_per_word(self) -> int:
        """Sparse-matrix entries returned by one SRAM read (§IV: 8)."""
        return self.spmat_word_bits // (self.run_bits + self.codebook_bits)
