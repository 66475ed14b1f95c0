"""Dense systolic array (TPU-like) with OS / WS / IS dataflows, matching SCALE-Sim v3's compute cycles.

Compute timing is the closed form of :mod:`.timing` (fold count x per-fold fill/stream/drain).
Memory stalls come from the engine's double-buffered tile pipeline: each fold is a tile whose
DRAM traffic is the part of its operands not already on chip. The memory model (ours; SCALE-Sim
does its own demand-trace based one):

* fold order: the array's column folds outer, row folds inner;
* an operand that fits in half its SRAM (all of it, if not double-buffered) is fetched from DRAM
  once; otherwise every fold fetches its slice again;
* outputs are written to DRAM once when final; WS/IS partial sums that do not fit in the ofmap SRAM
  spill to DRAM (written and read back once per extra reduction fold).

SRAM access counts follow the dataflow: OS streams both operands every fold; WS loads weights once
and streams inputs every column fold; IS loads inputs once and streams weights every column fold.
"""

from __future__ import annotations

from math import ceil

import numpy as np

from accelsim.accelerators.base import Accelerator
from accelsim.accelerators.systolic import timing
from accelsim.accelerators.systolic.config import SystolicConfig
from accelsim.accelerators.systolic.kernels import folded_gemm
from accelsim.energy import ERT, EnergyTable
from accelsim.engine import Stats, Tile, run_tile_pipeline
from accelsim.errors import AccelsimError
from accelsim.results import LayerResult
from accelsim.trace.layer import Layer
from accelsim.trace.lowering import effectual_macs, gemm_dims, gemm_operands, gemm_to_output


class NotNMSparseError(AccelsimError):
    """The layer's weights break the configured N:M pattern."""


def compact_nm(b: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Compact a T x Sc weight operand to T' x Sc values plus ifmap indices, N kept per M-group.

    Kept slots are the group's non-zeros in order, padded with zeros at the group's first unused
    positions; the compacted length matches SCALE-Sim's ``(T // M) * N + min(T % M, N)``.
    """
    t, sc = b.shape
    t_kept = timing.nm_sparse_reduction_length(t, n, m)
    vals = np.zeros((t_kept, sc), dtype=np.float32)
    idx = np.zeros((t_kept, sc), dtype=np.int64)
    out_row = 0
    for g0 in range(0, t, m):
        g1 = min(g0 + m, t)
        slots = min(n, g1 - g0)
        block = b[g0:g1]
        nz = block != 0
        if (nz.sum(axis=0) > slots).any():
            raise NotNMSparseError(f"weights have more than {n} non-zeros in a group of {m} "
                                   f"(rows {g0}..{g1 - 1}); prune with --structure nm:{n}:{m}")
        for j in range(sc):
            rows = np.flatnonzero(nz[:, j])
            fill = np.flatnonzero(~nz[:, j])[: slots - rows.size]
            chosen = np.sort(np.concatenate([rows, fill]))
            idx[out_row:out_row + slots, j] = g0 + chosen
            vals[out_row:out_row + slots, j] = block[chosen, j]
        out_row += slots
    return vals, idx


def _fold_tiles(cfg: SystolicConfig, sr: int, sc: int, t: int, stats: Stats) -> list[Tile]:
    """One Tile per fold, with its DRAM bytes; also counts SRAM and DRAM-fill actions."""
    w = cfg.word_bytes
    s_row, s_col, t_stream = timing.spatiotemporal_dims(sr, sc, t, cfg.dataflow)
    row_folds, col_folds = ceil(s_row / cfg.rows), ceil(s_col / cfg.cols)
    fold_len = timing.fold_cycles_for(cfg.fold_timing, sr, sc, t, cfg.rows, cfg.cols, cfg.dataflow)
    share = 2 if cfg.double_buffered else 1
    fits_if = sr * t * w <= cfg.ifmap_sram_bytes // share
    fits_f = t * sc * w <= cfg.filter_sram_bytes // share
    fits_of = sr * sc * 4 <= cfg.ofmap_sram_bytes // share  # partial sums are acc-width (fp32)
    tiles: list[Tile] = []
    seen_if: set[int] = set()
    seen_f: set[int] = set()
    for fc in range(col_folds):
        nc = min(cfg.cols, s_col - fc * cfg.cols)
        for fr in range(row_folds):
            nr = min(cfg.rows, s_row - fr * cfg.rows)
            if cfg.dataflow == "os":  # rows: Sr, cols: Sc, stream T
                if_elems, f_elems, if_key, f_key = nr * t, nc * t, fr, fc
                out_final, psum = nr * nc, 0
            elif cfg.dataflow == "ws":  # rows: T, cols: Sc, stream Sr
                if_elems, f_elems, if_key, f_key = sr * nr, nr * nc, fr, fr * col_folds + fc
                out_final = sr * nc if fr == row_folds - 1 else 0
                psum = sr * nc if fr > 0 else 0
            else:  # is: rows: T, cols: Sr, stream Sc
                if_elems, f_elems, if_key, f_key = nr * nc, nr * sc, fr * col_folds + fc, fr
                out_final = nc * sc if fr == row_folds - 1 else 0
                psum = nc * sc if fr > 0 else 0
            load = 0
            if not (fits_if and if_key in seen_if):
                load += if_elems * w
                stats.count("ifmap_sram", "write", if_elems)
                seen_if.add(if_key)
            if not (fits_f and f_key in seen_f):
                load += f_elems * w
                stats.count("filter_sram", "write", f_elems)
                seen_f.add(f_key)
            stats.count("ifmap_sram", "read", if_elems)
            stats.count("filter_sram", "read", f_elems)
            stats.count("ofmap_sram", "write", out_final + psum)  # psum is 0 for OS
            stats.count("ofmap_sram", "read", psum + out_final)
            store = out_final * w
            if psum and not fits_of:  # partial sums spill: read back before, written after
                load += psum * 4
                store += psum * 4
            tiles.append(Tile(load, fold_len, store))
    return tiles


def _pe_busy(cfg: SystolicConfig, sr: int, sc: int, t: int) -> np.ndarray:
    """Cycles each PE spends on a real MAC: folds in which it holds a valid element x stream length."""
    s_row, s_col, t_stream = timing.spatiotemporal_dims(sr, sc, t, cfg.dataflow)
    per_row = np.array([max(0, ceil((s_row - i) / cfg.rows)) for i in range(cfg.rows)], dtype=np.int64)
    per_col = np.array([max(0, ceil((s_col - j) / cfg.cols)) for j in range(cfg.cols)], dtype=np.int64)
    return (np.outer(per_row, per_col) * t_stream).ravel()


def simulate_layer(layer: Layer, cfg: SystolicConfig) -> LayerResult:
    """Run one layer on the array: closed-form compute timing, simpy memory pipeline, numba datapath."""
    dims = gemm_dims(layer.kind, layer.shape)
    stats = Stats(cfg.rows * cfg.cols)
    tiles: list[Tile] = []
    outputs = []
    compute = 0
    issued = 0
    for g in range(dims.groups):
        a, b = gemm_operands(layer, g)
        if cfg.nm_sparse:
            vals, idx = compact_nm(b, cfg.sparsity_n, cfg.sparsity_m)
        else:
            vals, idx = b.astype(np.float32, copy=False), np.zeros((0, 0), dtype=np.int64)  # dense: index = k
        t_eff = vals.shape[0]
        k_block = t_eff if cfg.dataflow == "os" else cfg.rows
        outputs.append(folded_gemm(np.ascontiguousarray(a, dtype=np.float32), np.ascontiguousarray(vals.T),
                                   np.ascontiguousarray(idx.T), k_block))
        compute += timing.compute_cycles_for(cfg.fold_timing, dims.sr, dims.sc, t_eff, cfg.rows, cfg.cols, cfg.dataflow)
        tiles += _fold_tiles(cfg, dims.sr, dims.sc, t_eff, stats)
        stats.busy(slice(None), _pe_busy(cfg, dims.sr, dims.sc, t_eff))
        issued += dims.sr * dims.sc * t_eff
    stats.count("pe", "mac", issued)
    # the closed form counts from cycle 0 (SCALE-Sim reports the last write's 0-based cycle)
    total = run_tile_pipeline(tiles, stats, dram_bytes_per_cycle=cfg.dram_bytes_per_cycle,
                              dram_latency_cycles=cfg.dram_latency_cycles, burst_bytes=cfg.dram_burst_bytes,
                              double_buffered=cfg.double_buffered) - dims.groups
    return LayerResult(
        layer=layer.name, kind=layer.kind, cycles=max(total, compute), compute_cycles=compute,
        pe_busy_cycles=stats.pe_busy, action_counts=dict(stats.actions), macs_dense=layer.macs_dense,
        macs_effectual=effectual_macs(layer), macs_issued=issued, multipliers=cfg.rows * cfg.cols,
        stall_cycles=dict(stats.stalls), bytes_moved=dict(stats.bytes_moved),
        output=gemm_to_output(layer, outputs),
    )


def energy_reference(cfg: SystolicConfig, table: EnergyTable) -> ERT:
    """Prices: a MAC at the configured widths, SRAM words by capacity, DRAM per bit."""
    bits = cfg.word_bytes * 8
    ert: ERT = {("pe", "mac"): table.mac_pj(cfg.mult_bits, cfg.acc_bits)}
    for name, size in (("ifmap_sram", cfg.ifmap_sram_bytes), ("filter_sram", cfg.filter_sram_bytes),
                       ("ofmap_sram", cfg.ofmap_sram_bytes)):
        ert[(name, "read")] = table.sram_pj(size, bits)
        ert[(name, "write")] = table.sram_pj(size, bits, write=True)
    ert[("dram", "read")] = table.dram_pj(1, cfg.dram_type)
    ert[("dram", "write")] = table.dram_pj(1, cfg.dram_type)
    return ert


SYSTOLIC = Accelerator(
    name="systolic", config_class=SystolicConfig, simulate_layer=simulate_layer,
    energy_reference=energy_reference, kinds=("conv2d", "linear", "lstm", "matmul"),
    description="dense TPU-like systolic array (OS/WS/IS), SCALE-Sim v3 compute-cycle parity",
)
