"""DCNN and DCNN-opt: SCNN's dense baselines (Parashar et al., ISCA 2017, §V).

DCNN has SCNN's 64 PEs of 4 x 4 multipliers, the same planar tiling, input-stationary loop order,
output-channel groups (Kc from the same accumulator rule), halo exchange, barriers and
post-processing, run dense. The paper says only that DCNN is a dense accelerator with the same
PEs, multipliers and 2 MB of SRAM; choices made here:

* **Inner dataflow: a dot product (PT-IS-DP-dense)**, the DaDianNao-style core a tuned dense design
  uses: each cycle a PE multiplies I = 4 input channels of one input position by the weights of
  those channels for F = 4 output channels at one kernel tap, reduces each output channel's I
  products in an adder tree and adds the sum to one accumulator entry. A PE's time for a group is
  ``positions x taps x ceil(C/I) x ceil(Kc/F)`` (with the stride-phase split, only the taps on a
  position's phase), so unlike a dense Cartesian product it does not depend on the tile's size
  (a 7 x 7 layer on 8 x 8 PEs leaves a dense Cartesian product at most 1/4 of its I lanes). Its
  timing is closed-form; its functional result comes from the numba datapath
  :func:`.kernels.dense_group` over the same tiles and groups.
* Per product: one weight read from the PE's weight buffer (F·I weights a cycle); the I
  activations of a position are read once per weight-buffer refill (``weight_fifo_entries``
  rounded to whole F·I blocks), since the group's weights stream through the buffer once;
  I - 1 adder-tree additions and one accumulator update per F lane and cycle. Static
  scheduling: no scatter crossbar and no bank conflicts.
* Kc follows SCNN's accumulator rule, but a layer whose windows would leave Kc < F (fewer output
  channels than dot-product lanes, e.g. VGG conv1_1's 28 x 28 tiles) is cut into more planar
  bands until Kc >= F, as a dense compiler would.
* The 2 MB of SRAM is 16 KB IARAM + 16 KB OARAM of dense 16-bit values per PE; weights stream from
  DRAM dense (DCNN) or zero-run compressed (DCNN-opt).
* DCNN-opt gates the multiplier and the weight read of every product with a zero activation, and
  the adder-tree and accumulator update of a lane whose I activations are all zero (counted as
  ``*:gated``, priced at zero); it takes the same cycles as DCNN; its DRAM transfers (weights,
  input bands, output and partial-sum spills) use SCNN's zero-run format while the on-chip buffers
  stay dense.

The shared parts (tiling, schedule, outputs, prices) are in :mod:`.common` and :mod:`.tiling`.
"""

from __future__ import annotations

import numpy as np

from accelsim.accelerators.base import Accelerator
from accelsim.accelerators.scnn import kernels as K
from accelsim.accelerators.scnn.common import BandWork, Conv, GroupWork, Tally, energy_reference, nbytes, ppu_cycles
from accelsim.accelerators.scnn.config import DcnnConfig, DcnnOptConfig
from accelsim.accelerators.scnn.model import account_drain, carry_spills, finish_layer, geometry_vector
from accelsim.accelerators.scnn.streams import activation_streams, phase_list, weight_streams
from accelsim.accelerators.scnn.tiling import BandPlan, plan_layer
from accelsim.energy import ERT, EnergyTable
from accelsim.results import LayerResult
from accelsim.trace.layer import Layer


def _on_phase_count(lo: np.ndarray, hi: np.ndarray, offset: int, stride: int, q: int) -> np.ndarray:
    """How many indices in [lo, hi) have (i + offset) % stride == q (all of them when q < 0)."""
    if q < 0:
        return np.maximum(hi - lo, 0)

    def upto(n: np.ndarray) -> np.ndarray:  # count in [0, n)
        first = (q - offset) % stride
        return np.maximum(0, (n - first + stride - 1) // stride)

    return np.maximum(upto(hi) - upto(lo), 0)


def dense_vectors(conv: Conv, band: BandPlan, kc: int, cfg: DcnnConfig) -> dict[str, np.ndarray]:
    """Closed-form per-PE cycles, product slots and IARAM reads of one dense (dot-product) group."""
    phases = phase_list(conv.stride, cfg.stride_phases)
    t = band.tiles
    npe = t.shape[0]
    block = cfg.mult_f * cfg.mult_i
    refill = max(block, (cfg.weight_fifo_entries // block) * block)
    res = {k: np.zeros(npe, dtype=np.int64) for k in ("cycles", "slots", "iaram")}
    quads = -(-conv.cg // cfg.mult_i)
    lanes = -(-kc // cfg.mult_f)
    for qy, qx in phases:
        taps = int(_on_phase_count(np.array([0]), np.array([conv.r]), 0, conv.stride, qy)[0]
                   * _on_phase_count(np.array([0]), np.array([conv.s]), 0, conv.stride, qx)[0])
        if taps == 0:
            continue
        npix = (_on_phase_count(t[:, 0], t[:, 1], conv.pad, conv.stride, qy)
                * _on_phase_count(t[:, 2], t[:, 3], conv.pad, conv.stride, qx))
        res["cycles"] += npix * taps * quads * lanes
        res["slots"] += npix * taps * conv.cg * kc
        res["iaram"] += npix * conv.cg * (-(-taps * kc * cfg.mult_i // refill))
    return res


def simulate_layer(layer: Layer, cfg: DcnnConfig) -> LayerResult:
    """Run one conv layer on DCNN / DCNN-opt (see the module docstring)."""
    conv = Conv.of(layer)
    npe = cfg.pes
    x = np.ascontiguousarray(layer.input, dtype=np.float32)
    wt = np.ascontiguousarray(layer.weight, dtype=np.float32)
    bits = cfg.value_bits
    comp_bits = cfg.value_bits + cfg.run_bits
    entries = np.full((conv.h, conv.w), conv.c, dtype=np.int64)
    plan = plan_layer(conv.ay, conv.ax, conv.kg, entries, pe_rows=cfg.pe_rows, pe_cols=cfg.pe_cols,
                      acc_entries=cfg.acc_entries, iaram_entries=cfg.iaram_bytes * 8 // bits, min_kc=cfg.mult_f)
    out_pqk = np.zeros((conv.n, conv.p, conv.q, conv.k), dtype=np.float32)
    tally = Tally(npe)
    bands: list[BandWork] = []
    wcache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray, int]] = {}
    issued = effectual = wasted = 0
    for n in range(conv.n):
        for band in plan.bands:
            work = BandWork(0)
            geom = geometry_vector(cfg, conv, 0)
            own_area = (band.own[:, 1] - band.own[:, 0]) * (band.own[:, 3] - band.own[:, 2])
            win_w = band.win[:, 3] - band.win[:, 2]
            win_area = (band.win[:, 1] - band.win[:, 0]) * win_w
            b_lo, b_hi = band.out_rows
            spill_rows = (np.maximum(0, band.win[:, 1] - np.maximum(band.win[:, 0], b_hi))
                          + np.maximum(0, np.minimum(band.win[:, 1], b_lo) - band.win[:, 0]))
            spill_area = spill_rows * win_w
            in_entries = 0
            for gg in range(conv.groups):
                xs = np.ascontiguousarray(x[n, gg * conv.cg:(gg + 1) * conv.cg])
                if not plan.inputs_on_chip:
                    tile_area = (band.tiles[:, 1] - band.tiles[:, 0]) * (band.tiles[:, 3] - band.tiles[:, 2])
                    dense_in = int(tile_area.sum()) * conv.cg
                    tally.act("iaram", "write", dense_in)
                    in_entries += (activation_streams(xs, band.tiles, conv.stride, conv.pad, cfg.stride_phases,
                                                      True, cfg.run_bits).entries
                                   if cfg.compressed_dram else dense_in)
                for k0 in range(0, conv.kg, band.kc):
                    kc = min(band.kc, conv.kg - k0)
                    key = (gg, k0, kc)
                    if key not in wcache:
                        k_abs = gg * conv.kg + k0
                        block = wt[k_abs:k_abs + kc]
                        w_g = np.ascontiguousarray(block.transpose(1, 2, 3, 0))
                        dram_entries = (weight_streams(block, conv.stride, cfg.stride_phases, cfg.weight_order, True,
                                                       cfg.run_bits).entries if cfg.compressed_dram else block.size)
                        wcache[key] = (w_g, (w_g != 0).sum(axis=3).astype(np.int64), dram_entries)
                    w_g, nzw, dram_entries = wcache[key]
                    cnt = K.dense_group(xs, w_g, nzw, band.tiles, geom, out_pqk[n], gg * conv.kg + k0)
                    vec = dense_vectors(conv, band, kc, cfg)
                    owned = kc * own_area
                    spill = kc * spill_area
                    halo = kc * (win_area - own_area) - spill
                    slots = int(cnt[:, K.D_SLOTS].sum())
                    valid = int(cnt[:, K.D_VALID].sum())
                    gate = cfg.zero_gating
                    zero_slots = int(cnt[:, K.D_ZERO_SLOTS].sum()) if gate else 0
                    # one accumulator update per F lane and dot product: valid products / channels x quads
                    lane_updates = valid * (-(-conv.cg // cfg.mult_i)) // conv.cg
                    zero_lanes = int(cnt[:, K.D_ZERO_QUAD_VALID].sum()) if gate else 0
                    issued += slots
                    wasted += slots - valid
                    effectual += int(cnt[:, K.D_EFFECTUAL].sum())
                    tally.busy += vec["cycles"]
                    tally.c["vec_pairs"] += int(vec["cycles"].sum())
                    tally.act("multiplier", "mul", slots - zero_slots)
                    tally.act("multiplier", "gated", zero_slots)
                    tally.act("weight_fifo", "write", w_g.size * npe)
                    tally.act("weight_fifo", "read", slots - zero_slots)
                    tally.act("weight_fifo", "gated", zero_slots)
                    tally.act("iaram", "read", int(vec["iaram"].sum()))
                    tally.act("adder", "add", valid - lane_updates)
                    tally.act("accumulator", "gated", zero_lanes)
                    w_bits = comp_bits if cfg.compressed_dram else bits
                    group = GroupWork(vec["cycles"], nbytes(dram_entries, w_bits), ppu_cycles(halo, owned, cfg))
                    account_drain(tally, group, lane_updates - zero_lanes, halo, owned, spill, cfg)
                    work.groups.append(group)
            if not plan.inputs_on_chip:
                work.input_bytes += nbytes(in_entries, comp_bits if cfg.compressed_dram else bits)
            bands.append(work)
    carry_spills(bands)
    out = np.ascontiguousarray(out_pqk.transpose(0, 3, 1, 2))
    extra = {"wasted_products": int(wasted), "padding_products": 0,
             "virtual_channels": conv.cg * len(phase_list(conv.stride, cfg.stride_phases))}
    dram_bits = comp_bits if cfg.compressed_dram else bits
    return finish_layer(layer, cfg, conv, tally, bands, plan, out, False, bits, dram_bits, issued, effectual, extra)


def dcnn_energy_reference(cfg: DcnnConfig, table: EnergyTable) -> ERT:
    """DCNN's prices: dense 16-bit entries on chip, no crossbar, adder trees (see :mod:`.common`)."""
    b = cfg.value_bits
    ert = energy_reference(cfg, table, act_bits=b, weight_bits=b, out_bits=b, crossbar=False)
    ert[("adder", "add")] = table.arith_pj("int_add", cfg.acc_bits)
    ert[("weight_fifo", "gated")] = 0.0
    return ert


DCNN = Accelerator(
    name="dcnn", config_class=DcnnConfig, simulate_layer=simulate_layer, energy_reference=dcnn_energy_reference,
    kinds=("conv2d",),
    description="DCNN: SCNN's dense baseline (64 PEs x 16 multipliers, PT-IS-DP-dense, 2 MB SRAM)",
)

DCNN_OPT = Accelerator(
    name="dcnn_opt", config_class=DcnnOptConfig, simulate_layer=simulate_layer,
    energy_reference=dcnn_energy_reference, kinds=("conv2d",),
    description="DCNN-opt: DCNN + zero-activation gating + compressed DRAM transfers",
)
