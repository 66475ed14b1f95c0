"""SIGMA (Qin et al., HPCA 2020): a GEMM on Flex-DPEs with Benes distribution and FAN reduction.

Operands (§IV-D). A layer lowers to ``out[Sr, Sc] = A[Sr, T] @ B[T, Sc]`` (im2col for conv); A is
the paper's MK (inputs), B its KN (weights). Both are bitmap-compressed
(:mod:`accelsim.formats.bitmap`). One operand is *stationary* (its non-zeros sit in the
multipliers), the other *streams*: ``stationary: mk`` holds A and streams B's columns (a streamed
column = one output column); ``kn`` holds B transposed and streams A's rows. ``auto`` times both
and keeps the faster, as the paper does (§VI). The controller ANDs the stationary bitmap with the
row-wise OR of the streaming bitmap, so only stationary non-zeros that meet a streamed non-zero are
mapped (``map_by_streaming_bitmap``).

Mapping (§IV-D; see :mod:`.mapping`). The mapped non-zeros fill the ``flex_dpes x dpe_size``
multipliers fold by fold, each output row's non-zeros of the fold adjacent (a virtual neuron, VN);
a VN may straddle Flex-DPEs, and then each Flex-DPE's FAN emits its piece's sum.

Timing (Table II): per fold, ``loading + streaming + add``, never overlapped across phases:

* loading: the fold's non-zeros, unicast at ``input_words_per_cycle`` (plus ``fold_setup_cycles``);
* streaming: each streamed column sends the words of the fold's distinct k, ``input_words_per_cycle``
  a time (a *block* per cycle), multicast through the Benes networks to every multiplier with that k.
  Each multiplier takes one operand per cycle, so a column takes at least one cycle, and columns do
  not share a cycle (the FAN's VN boundaries hold for one column). Streamed zeros are sent and
  multiplied (SIGMA skips zeros on the stationary side only; the paper's times fit this, see
  ``shared/reference/sigma.md``). With ``reduction_words_per_cycle`` > 0 a block also waits for its
  FAN sums to leave at that rate;
* add: after the last streamed word, the multiplier (``multiply_cycles``) and the FAN levels of the
  deepest VN piece of the last block (``1 + msb(lo xor hi)`` levels, :mod:`.kernels`), 1 cycle each
  (§V: "1-cycle distribution, 1-cycle multiplication, and 1-cycle for each level of reduction";
  distribution happens in the streaming cycle, the Benes being latch-free).

Partial sums (one per VN piece, block and column) accumulate in the accumulation SRAM; the first
write of an output needs no read.

Memory (ours; the paper reports compute only, SRAMs excluded). Each fold is a tile of the engine's
double-buffered pipeline: its stationary values and bitmap come from DRAM (HBM2); the streamed
operand (compressed: values + bitmap) comes once if it fits in half the data SRAM, else each fold
fetches its k-range's share; outputs are written once at the end. If the partial sums do not fit
the accumulation SRAM, every fold after the first reads and writes them back (a spill).

Functional model: :func:`.kernels.fold_pass` forms every scheduled product (float32) and reduces
each VN piece in FAN's adder order, adding the pieces into the output block by block, Flex-DPE by
Flex-DPE, fold by fold. The dense reference is the runner's float64 product.

Energy: actions are counted here and priced by :func:`energy_reference` (table ``sigma28``: the
paper's chip power split by its area breakdown, see that YAML).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

import numpy as np

from accelsim.accelerators.base import Accelerator
from accelsim.accelerators.sigma import mapping
from accelsim.accelerators.sigma.config import SigmaConfig
from accelsim.energy import ERT, EnergyTable
from accelsim.engine import Stats, Tile, run_tile_pipeline
from accelsim.formats.bitmap import encode_bitmap
from accelsim.results import LayerResult
from accelsim.trace.layer import Layer
from accelsim.trace.lowering import effectual_macs, gemm_dims, gemm_operands, gemm_to_output

KINDS = ("conv2d", "linear", "lstm", "matmul")


@dataclass(frozen=True)
class StationaryOperand:
    """The mapped stationary non-zeros of an R x K operand, compressed in the order the packing walks them.

    ``kmajor``: CSC (``ptr`` over K, ``idx`` = rows); else CSR (``ptr`` over R, ``idx`` = k).
    """

    rows: int
    k_dim: int
    ptr: np.ndarray
    idx: np.ndarray
    values: np.ndarray
    kmajor: bool

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    @property
    def active_rows(self) -> int:
        """Output rows holding at least one mapped non-zero (each becomes a VN)."""
        if self.kmajor:
            return int(np.unique(self.idx).size)
        return int(np.count_nonzero(np.diff(self.ptr)))


def compress_stationary(s: np.ndarray, keep_k: np.ndarray | None, kmajor: bool) -> StationaryOperand:
    """Compress the stationary operand ``s`` (R x K); ``keep_k`` (bool[K]) drops the k no streamed word meets."""
    mask = s != 0
    if keep_k is not None:
        mask &= keep_k[None, :]
    if kmajor:
        ks, rs = np.nonzero(mask.T)
        counts = np.bincount(ks, minlength=s.shape[1])
        idx = rs
    else:
        rs, ks = np.nonzero(mask)
        counts = np.bincount(rs, minlength=s.shape[0])
        idx = ks
    ptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return StationaryOperand(s.shape[0], s.shape[1], ptr, idx.astype(np.int64),
                             np.ascontiguousarray(s[rs, ks], dtype=np.float32), kmajor)


@dataclass
class GemmRun:
    """One orientation of a GEMM on SIGMA: per-fold phases, action counts and (if computed) the output."""

    loading: int
    streaming: int
    add: int
    folds: int
    mapped: int
    issued: int
    stats: Stats
    fold_cycles: np.ndarray
    output: np.ndarray | None
    extra: dict = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return self.loading + self.streaming + self.add


def fold_phases(per_fold: np.ndarray, n_stream: int, cfg: SigmaConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loading, streaming and add cycles of each fold (Table II) from :func:`.mapping.run_folds`' per-fold rows."""
    f = mapping
    wpc = cfg.input_words_per_cycle
    load = cfg.fold_setup_cycles + (per_fold[:, f.F_MAPPED] + wpc - 1) // wpc
    stream = n_stream * per_fold[:, f.F_STREAM_CYCLES]
    add = cfg.multiply_cycles + per_fold[:, f.F_LAST_LEVELS]
    return load, stream, add


def simulate_gemm(stationary: StationaryOperand, stream_t: np.ndarray | None, n_stream: int, stream_nnz: int,
                  cfg: SigmaConfig) -> GemmRun:
    """Run ``out[R, C] = S[R, K] @ T[K, C]`` with S stationary and T streamed, column by column.

    ``stream_t`` is T transposed (C x K, float32) or None for timing and counts only; ``n_stream`` = C;
    ``stream_nnz`` = T's non-zeros (for its compressed size).
    """
    wpc = cfg.input_words_per_cycle
    if stationary.kmajor:
        bounds = mapping.plan_kmajor_folds(stationary.ptr, cfg.multipliers, wpc, cfg.align_folds)
    else:
        bounds = mapping.plan_row_folds(stationary.ptr, cfg.multipliers)
    functional = stream_t is not None
    st = stream_t if functional else np.zeros((0, stationary.k_dim), dtype=np.float32)
    out = np.zeros((stationary.rows, n_stream if functional else 0), dtype=np.float32)
    per_fold = mapping.run_folds(stationary.ptr, stationary.idx, stationary.values, bounds, stationary.kmajor,
                                 wpc, cfg.reduction_words_per_cycle, cfg.dpe_size, np.ascontiguousarray(st), out)
    f = mapping
    mapped = per_fold[:, f.F_MAPPED]
    load, stream, add = fold_phases(per_fold, n_stream, cfg)
    fold_cycles = load + stream + add
    stats = Stats(cfg.flex_dpes)
    _count_actions(stats, cfg, stationary, per_fold, n_stream)
    for used, cyc in zip(-(-mapped // cfg.dpe_size), stream, strict=True):
        stats.busy(slice(0, int(used)), int(cyc))
    return GemmRun(
        loading=int(load.sum()), streaming=int(stream.sum()), add=int(add.sum()), folds=int(per_fold.shape[0]),
        mapped=int(mapped.sum()), issued=int(mapped.sum()) * n_stream, stats=stats,
        fold_cycles=fold_cycles.astype(np.int64), output=out if functional else None,
        extra={"forwarded_inputs": int(per_fold[:, f.F_FORWARDS].sum()) * n_stream,
               "words_streamed": int(per_fold[:, f.F_WORDS].sum()) * n_stream,
               "per_fold": per_fold},
    )


def _count_actions(stats: Stats, cfg: SigmaConfig, s: StationaryOperand, per_fold: np.ndarray, c: int) -> None:
    """Action counts of one GEMM orientation (all but DRAM, which the tile pipeline counts)."""
    f = mapping
    mapped = int(per_fold[:, f.F_MAPPED].sum())
    words = int(per_fold[:, f.F_WORDS].sum())
    pieces = int(per_fold[:, f.F_PIECES].sum()) * c
    first_writes = s.active_rows * c
    levels = 2 * int(np.log2(cfg.dpe_size)) + 1
    stats.count("multiplier", "mult", mapped * c)
    stats.count("benes", "switch", int(per_fold[:, f.F_BENES].sum()) * c + mapped * levels)  # stream + unicast load
    stats.count("fan", "add", int(per_fold[:, f.F_ADDERS].sum()) * c)
    stats.count("fan", "link", 2 * int(per_fold[:, f.F_ADDERS].sum()) * c)
    stats.count("accumulator", "add", pieces - first_writes)
    stats.count("acc_sram", "write", pieces)
    stats.count("acc_sram", "read", pieces - first_writes)
    stats.count("data_sram", "read", mapped + words * c)
    # bitmaps: the stationary one read once to map, the streaming one's rows for each fold's k-range
    stats.count("bitmap_sram", "read", ceil(s.rows * s.k_dim / 64) + ceil(words * c / 64))


def _tiles(cfg: SigmaConfig, run: GemmRun, s: StationaryOperand, n_stream: int, stream_nnz: int) -> list[Tile]:
    """One tile per fold: DRAM bytes in (stationary share, streamed share, spilled partial sums) and out."""
    f = mapping
    per_fold = run.extra["per_fold"]
    w = cfg.word_bytes
    stat_bytes = s.nnz * w + ceil(s.rows * s.k_dim / 8)
    stream_bytes = stream_nnz * w + ceil(s.k_dim * n_stream / 8)
    stream_fits = stream_bytes <= cfg.data_sram_bytes // 2
    psum_bytes = s.rows * n_stream * cfg.acc_bytes
    spill = psum_bytes > cfg.acc_sram_bytes
    tiles = []
    n = len(run.fold_cycles)
    for i in range(n):
        share = per_fold[i, f.F_MAPPED] / max(s.nnz, 1)
        load = ceil(stat_bytes * share)
        if stream_fits:
            load += stream_bytes if i == 0 else 0
        else:
            load += ceil(stream_bytes * per_fold[i, f.F_WORDS] / max(s.k_dim, 1))
        store = s.rows * n_stream * w if i == n - 1 else 0
        if spill and i > 0:
            load += psum_bytes
            store += psum_bytes
        tiles.append(Tile(int(load), int(run.fold_cycles[i]), int(store)))
    run.stats.count("data_sram", "write", sum(t.load_bytes for t in tiles) // w)
    return tiles


def orientations(cfg: SigmaConfig) -> tuple[str, ...]:
    return ("mk", "kn") if cfg.stationary == "auto" else (cfg.stationary,)


def gemm_views(a: np.ndarray, b: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    """(stationary R x K, streamed T transposed C x K) of ``A @ B`` for an orientation."""
    if which == "mk":
        return a, np.ascontiguousarray(b.T, dtype=np.float32)
    return b.T, np.ascontiguousarray(a, dtype=np.float32)


def run_orientation(a: np.ndarray, b: np.ndarray, which: str, cfg: SigmaConfig, functional: bool) -> GemmRun:
    """Simulate ``A @ B`` with the ``which`` operand stationary; the output is returned as Sr x Sc."""
    s_dense, t_t = gemm_views(a, b, which)
    keep = (t_t != 0).any(axis=0) if cfg.map_by_streaming_bitmap else None
    stationary = compress_stationary(s_dense, keep, kmajor=cfg.packing == "kmajor")
    run = simulate_gemm(stationary, t_t if functional else None, t_t.shape[0], int(np.count_nonzero(t_t)), cfg)
    run.extra["tiles"] = _tiles(cfg, run, stationary, t_t.shape[0], int(np.count_nonzero(t_t)))
    if run.output is not None and which == "kn":
        run.output = np.ascontiguousarray(run.output.T)
    return run


def simulate_layer(layer: Layer, cfg: SigmaConfig) -> LayerResult:
    """Run one layer: per group, time the allowed orientations, keep the faster, compute it functionally."""
    dims = gemm_dims(layer.kind, layer.shape)
    outputs, runs, chosen, other = [], [], [], []
    for g in range(dims.groups):
        a, b = gemm_operands(layer, g)
        a = np.asarray(a, dtype=np.float32)
        b = np.asarray(b, dtype=np.float32)
        which = orientations(cfg)
        if len(which) > 1:
            timed = {o: run_orientation(a, b, o, cfg, functional=False).cycles for o in which}
            best = min(which, key=lambda o: timed[o])
            other.append(timed)
        else:
            best = which[0]
        run = run_orientation(a, b, best, cfg, functional=True)
        runs.append(run)
        chosen.append(best)
        outputs.append(run.output)
    stats = Stats(cfg.flex_dpes)
    tiles: list[Tile] = []
    for run in runs:
        stats.actions.update(run.stats.actions)
        stats.pe_busy += run.stats.pe_busy
        tiles += run.extra["tiles"]
    compute = sum(r.cycles for r in runs)
    total = run_tile_pipeline(tiles, stats, dram_bytes_per_cycle=cfg.dram_bytes_per_cycle,
                              dram_latency_cycles=cfg.dram_latency_cycles, burst_bytes=cfg.dram_burst_bytes)
    stats.count("controller", "cycle", total)
    a0, b0 = gemm_operands(layer, 0)
    storage_a = encode_bitmap(np.asarray(a0)).storage_bits(cfg.word_bytes * 8)
    storage_b = encode_bitmap(np.asarray(b0)).storage_bits(cfg.word_bytes * 8)
    effectual = effectual_macs(layer)
    issued = sum(r.issued for r in runs)
    return LayerResult(
        layer=layer.name, kind=layer.kind, cycles=max(total, compute), compute_cycles=compute,
        pe_busy_cycles=stats.pe_busy, action_counts=dict(stats.actions), macs_dense=layer.macs_dense,
        macs_effectual=effectual, macs_issued=issued, multipliers=cfg.multipliers,
        stall_cycles=dict(stats.stalls), bytes_moved=dict(stats.bytes_moved),
        output=gemm_to_output(layer, outputs),
        extra={
            "stationary": ",".join(chosen),
            "loading_cycles": sum(r.loading for r in runs),
            "streaming_cycles": sum(r.streaming for r in runs),
            "add_cycles": sum(r.add for r in runs),
            "folds": sum(r.folds for r in runs),
            "mapped_nonzeros": sum(r.mapped for r in runs),
            "overall_efficiency": effectual / (cfg.multipliers * compute) if compute else 0.0,
            "fan_forwarded_inputs": sum(r.extra["forwarded_inputs"] for r in runs),
            **{f"cycles_{o}": sum(t[o] for t in other) for o in (other[0] if other else {})},
            "bitmap_bits_mk": storage_a["bitmap"], "value_bits_mk": storage_a["values"],
            "bitmap_bits_kn": storage_b["bitmap"], "value_bits_kn": storage_b["values"],
        },
    )


def energy_reference(cfg: SigmaConfig, table: EnergyTable) -> ERT:
    """Prices from a generic table; ``sigma28`` overrides the logic with the paper's power split.

    Generic: a BF16-width multiply (``fp_mult``), an FP32 add per FAN adder and accumulation, a
    Benes switch traversal and a FAN link as a word-wide 2:1 mux (priced as an ``int_add`` of the word
    width, a rough stand-in), SRAMs per access of one bank (the paper's SRAMs serve 128 words per cycle;
    we price each as ``input_words_per_cycle`` banks), DRAM per bit.
    """
    bits = cfg.word_bytes * 8
    acc_bits = cfg.acc_bytes * 8
    banks = cfg.input_words_per_cycle
    return {
        ("multiplier", "mult"): table.arith_pj("fp_mult", bits),
        ("fan", "add"): table.arith_pj("fp_add", acc_bits),
        ("fan", "link"): table.arith_pj("int_add", acc_bits),
        ("benes", "switch"): table.arith_pj("int_add", bits),
        ("accumulator", "add"): table.arith_pj("fp_add", acc_bits),
        ("controller", "cycle"): 0.0,
        ("data_sram", "read"): table.sram_pj(cfg.data_sram_bytes / banks, bits),
        ("data_sram", "write"): table.sram_pj(cfg.data_sram_bytes / banks, bits, write=True),
        ("bitmap_sram", "read"): table.sram_pj(cfg.bitmap_sram_bytes / banks, 64),
        ("acc_sram", "read"): table.sram_pj(cfg.acc_sram_bytes / banks, acc_bits),
        ("acc_sram", "write"): table.sram_pj(cfg.acc_sram_bytes / banks, acc_bits, write=True),
        ("dram", "read"): table.dram_pj(1, cfg.dram_type),
        ("dram", "write"): table.dram_pj(1, cfg.dram_type),
    }


SIGMA = Accelerator(
    name="sigma", config_class=SigmaConfig, simulate_layer=simulate_layer, energy_reference=energy_reference,
    kinds=KINDS,
    description="SIGMA (HPCA 2020): Flex-DPEs, Benes multicast distribution, FAN reduction, bitmap operands",
)
