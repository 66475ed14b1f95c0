"""SCNN (Parashar et al., ISCA 2017): the PT-IS-CP-sparse dataflow on an 8 x 8 array of PEs.

Per layer (§III-B loop nest ``K/Kc -> C -> W -> H -> Kc -> R -> S``):

1. **Mapping** (:mod:`.tiling`): temporal bands for layers whose compressed input does not fit the
   IARAMs, a planar tile of the input per PE (all channels), the PE's accumulator window (its
   outputs plus output halo), and Kc so the group's window fits one accumulator buffer.
2. **Operands** (:mod:`.streams`): every PE's tile compressed per input channel, every group's
   Kc x R x S weights compressed per input channel (zero-run entries from ``accelsim.formats``,
   placeholders included), broadcast to all PEs.
3. **Datapath** (:func:`.kernels.cartesian_group`, numba, cycle by cycle): F x I Cartesian
   products, output coordinates, wasted products, the F·I x A crossbar and bank-conflict stalls;
   the products are accumulated, and :func:`.kernels.scatter_group` adds the windows into the layer
   output (halo exchange). This output is the chip's functional result (pre-ReLU, compared with the
   dense reference by the runner).
4. **Timing** (:func:`.common.run_schedule`, simpy): weight broadcast from DRAM, PE compute,
   a barrier per group, double-buffered accumulator drain (halo exchange, ReLU, compression, OARAM
   write), DRAM bands and output spills.
5. **Actions** for the energy model: multiplies, crossbar routes, accumulator updates and reads,
   halo transfers, weight FIFO writes and reads, IARAM/OARAM reads and writes, post-processing
   ops, DRAM bits.

``sparse_operands`` selects SCNN-SparseA (dense weights, every weight delivered) or SCNN-SparseW
(dense activations) for the §VI comparison. Choices where the paper is silent are documented in
:mod:`.config`, :mod:`.tiling`, :mod:`.streams`, :mod:`.kernels` and :mod:`.common`; in addition:

* products of zero-valued entries (placeholders, or zeros of a dense operand) are formed, routed
  and accumulated like any other (the datapath does not look at values);
* a layer whose input fits in the IARAMs costs no DRAM input traffic (the previous layer left it
  there); a layer whose compressed output overflows an OARAM (the largest PE share of the
  ReLU'd output) streams every group's outputs to DRAM;
* weights are streamed from DRAM once per band (inputs stationary, §III-B);
* energy: the paper's per-component energies come from 16 nm synthesis and are not published per
  action; all three chips are priced from one table (the preset's ``horowitz45``, 45 nm), with
  the per-action rules of :func:`.common.energy_reference`.

Extra result columns: ``oracle_cycles`` (non-zero products / multipliers, the paper's oracle),
``mult_util`` (effectual products / (cycles x multipliers)), ``slot_util`` (products formed /
(cycles x multipliers)), ``fragmentation_frac``, ``conflict_frac``, ``barrier_frac`` (of PE-cycles),
``wasted_products``, ``padding_products``, ``halo_entries``, ``kc_min``/``kc_max``, ``groups``,
``bands``, ``inputs_on_chip``, ``outputs_on_chip``.
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.accelerators.base import Accelerator
from accelsim.accelerators.scnn import kernels as K
from accelsim.accelerators.scnn.common import (
    BandWork,
    Conv,
    GroupWork,
    Tally,
    energy_reference,
    nbytes,
    output_entries,
    ppu_cycles,
    run_schedule,
)
from accelsim.accelerators.scnn.config import ScnnConfig
from accelsim.accelerators.scnn.streams import activation_streams, phase_list, weight_streams
from accelsim.accelerators.scnn.tiling import plan_layer
from accelsim.energy import ERT, EnergyTable
from accelsim.engine import Stats
from accelsim.results import LayerResult
from accelsim.trace.layer import Layer


def entry_bits(cfg: ScnnConfig, compressed: bool) -> int:
    return cfg.value_bits + (cfg.run_bits if compressed else 0)


def geometry_vector(cfg, conv: Conv, queue: int, window: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The kernels' geometry vector (every output of the layer is a valid product target)."""
    g = np.zeros(K.N_GEOM, dtype=np.int64)
    g[K.G_F], g[K.G_I], g[K.G_A] = cfg.mult_f, cfg.mult_i, cfg.acc_banks
    g[K.G_STRIDE], g[K.G_PAD] = conv.stride, conv.pad
    g[K.G_P_LO], g[K.G_P_HI], g[K.G_Q_LO], g[K.G_Q_HI] = 0, conv.p, 0, conv.q
    g[K.G_CHUNK], g[K.G_QUEUE] = cfg.fifo_chunk, queue
    g[K.G_PHASES] = int(cfg.stride_phases and conv.stride > 1)
    g[K.G_WH], g[K.G_WW] = window
    return g


def account_drain(tally: Tally, group: GroupWork, routed: int, halo: np.ndarray, owned: np.ndarray,
                  spill: np.ndarray, cfg) -> None:
    """Actions of a group's products and drain: accumulate, halo exchange, spills, post-processing.

    A product reaching the accumulators is one update; a halo entry is read, sent to the
    neighbour and accumulated there; a spilled entry (partial sum for the next band) is read,
    written to DRAM and accumulated when the next band reloads it; an owned entry is read and
    post-processed (ReLU, compression).
    """
    h, o, sp = int(halo.sum()), int(owned.sum()), int(spill.sum())
    tally.c["halo"] += h
    tally.c["spill"] += sp
    tally.act("accumulator", "rmw", routed + h + sp)
    tally.act("accumulator", "read", h + o + sp)
    tally.act("halo", "transfer", h)
    tally.act("ppu", "op", o)
    group.spill_bytes = nbytes(sp, cfg.acc_bits)
    group.store_bytes += group.spill_bytes


def carry_spills(bands: list[BandWork]) -> None:
    """A band reloads the partial sums the previous band spilled for its rows."""
    for prev, band in zip(bands, bands[1:], strict=False):
        band.input_bytes += sum(g.spill_bytes for g in prev.groups)


def finish_layer(layer: Layer, cfg, conv: Conv, tally: Tally, bands: list[BandWork], plan, out: np.ndarray,
            out_compressed: bool, out_bits: int, out_dram_bits: int, issued: int, effectual: int,
            extra: dict) -> LayerResult:
    """Outputs to OARAM/DRAM, the simpy schedule, and the LayerResult (shared with DCNN)."""
    per_group, per_pe = output_entries(out, plan, conv.kg, conv.groups, out_compressed, cfg.run_bits)
    oaram_entries = cfg.oaram_bytes * 8 // out_bits
    outputs_on_chip = bool(per_pe.max() <= oaram_entries) if per_pe.size else True
    keys = [(n, b, gg, k0) for n in range(conv.n) for b, band in enumerate(plan.bands)
            for gg in range(conv.groups) for k0 in range(0, conv.kg, band.kc)]
    flat = [g for band in bands for g in band.groups]
    dram_entries = per_group
    if out_dram_bits != out_bits:  # DCNN-opt: dense on chip, compressed to DRAM
        dram_entries, _ = output_entries(out, plan, conv.kg, conv.groups, True, cfg.run_bits)
    for key, g in zip(keys, flat, strict=True):
        g.out_entries = per_group[key]
        if not outputs_on_chip:
            g.store_bytes += nbytes(dram_entries[key], out_dram_bits)
    written = sum(per_group.values())
    tally.act("oaram", "write", written)
    if not outputs_on_chip:
        tally.act("oaram", "read", written)
    stats = Stats(cfg.pes)
    stats.actions.update(tally.actions)
    cycles = run_schedule(bands, cfg, stats)
    compute = int(sum(int(g.pe_cycles.max()) for g in flat))
    stats.stall("bank_conflict", tally.c["conflict"])
    slots_offered = tally.c["vec_pairs"] * cfg.mult_f * cfg.mult_i
    stats.stall("fragmentation", (slots_offered - issued) / (cfg.mult_f * cfg.mult_i))
    busy_total = max(1, int(tally.busy.sum()))
    mults = cfg.multipliers
    extra.update({
        "oracle_cycles": int(math.ceil(effectual / mults)),
        "mult_util": effectual / (cycles * mults) if cycles else 0.0,
        "slot_util": issued / (cycles * mults) if cycles else 0.0,
        "fragmentation_frac": (slots_offered - issued) / slots_offered if slots_offered else 0.0,
        "conflict_frac": tally.c["conflict"] / busy_total,
        "barrier_frac": stats.stalls.get("barrier", 0.0) / (cycles * cfg.pes) if cycles else 0.0,
        "halo_entries": int(tally.c["halo"]),
        "kc_min": int(min(b.kc for b in plan.bands)), "kc_max": int(max(b.kc for b in plan.bands)),
        "groups": len(flat), "bands": len(plan.bands), "inputs_on_chip": bool(plan.inputs_on_chip),
        "outputs_on_chip": outputs_on_chip,
    })
    return LayerResult(
        layer=layer.name, kind=layer.kind, cycles=cycles, compute_cycles=compute, pe_busy_cycles=tally.busy,
        action_counts=dict(stats.actions), macs_dense=layer.macs_dense, macs_effectual=effectual,
        macs_issued=issued, multipliers=mults, stall_cycles=dict(stats.stalls),
        bytes_moved=dict(stats.bytes_moved), output=out, extra=extra)


def simulate_layer(layer: Layer, cfg: ScnnConfig) -> LayerResult:
    """Run one conv layer on SCNN (see the module docstring)."""
    conv = Conv.of(layer)
    npe = cfg.pes
    x = np.ascontiguousarray(layer.input, dtype=np.float32)
    wt = np.ascontiguousarray(layer.weight, dtype=np.float32)
    a_bits = entry_bits(cfg, cfg.sparse_activations)
    w_bits = entry_bits(cfg, cfg.sparse_weights)
    out_bits = entry_bits(cfg, True)
    if cfg.sparse_activations:
        entries = (x != 0).sum(axis=1).max(axis=0)
    else:
        entries = np.full((conv.h, conv.w), conv.c, dtype=np.int64)
    plan = plan_layer(conv.ay, conv.ax, conv.kg, entries, pe_rows=cfg.pe_rows, pe_cols=cfg.pe_cols,
                      acc_entries=cfg.acc_entries, iaram_entries=cfg.iaram_bytes * 8 // a_bits)
    split = cfg.stride_phases
    n_phases = len(phase_list(conv.stride, split))
    out = np.zeros((conv.n, conv.k, conv.p, conv.q), dtype=np.float32)
    tally = Tally(npe)
    bands: list[BandWork] = []
    wcache = {}
    issued = effectual = 0
    wasted = padding_products = 0
    for n in range(conv.n):
        for band in plan.bands:
            work = BandWork(0)
            wh, ww = band.window_shape
            geom = geometry_vector(cfg, conv, cfg.acc_queue if cfg.bank_conflicts else 0, (wh, ww))
            win = np.ascontiguousarray(band.win[:, [0, 2]])
            band_rows = np.array(band.out_rows, dtype=np.int64)
            in_entries = 0
            for gg in range(conv.groups):
                xs = x[n, gg * conv.cg:(gg + 1) * conv.cg]
                acts = activation_streams(xs, band.tiles, conv.stride, conv.pad, split, cfg.sparse_activations,
                                          cfg.run_bits)
                in_entries += acts.entries
                for k0 in range(0, conv.kg, band.kc):
                    kc = min(band.kc, conv.kg - k0)
                    key = (gg, k0, kc)
                    if key not in wcache:
                        k_abs = gg * conv.kg + k0
                        wcache[key] = weight_streams(wt[k_abs:k_abs + kc], conv.stride, split, cfg.weight_order,
                                                     cfg.sparse_weights, cfg.run_bits)
                    ws = wcache[key]
                    acc = np.zeros((npe, kc * wh * ww), dtype=np.float32)
                    touched = np.zeros((npe, kc * wh * ww), dtype=np.uint8)
                    cnt = K.cartesian_group(ws.val, ws.crd, ws.ptr, acts.val, acts.crd, acts.ptr, win, geom,
                                            acc, touched)
                    sc = K.scatter_group(acc, touched, win, band.own, band_rows, np.array([kc, wh, ww]),
                                         out[n, gg * conv.kg:(gg + 1) * conv.kg], k0)
                    halo, owned, spill = sc[:, 0], sc[:, 1], sc[:, 2]
                    tally.busy += cnt[:, K.CYCLES]
                    tally.c["vec_pairs"] += int(cnt[:, K.VEC_PAIRS].sum())
                    tally.c["conflict"] += int(cnt[:, K.CONFLICT].sum())
                    slots = int(cnt[:, K.SLOTS].sum())
                    routed = int(cnt[:, K.ROUTED].sum())
                    issued += slots
                    effectual += int(cnt[:, K.EFFECTUAL].sum())
                    wasted += slots - routed
                    # every pair of a virtual channel meets once: padding products in closed form
                    n_a, p_a = acts.counts, acts.padding
                    padding_products += int((ws.padding * n_a + ws.counts * p_a - ws.padding * p_a).sum())
                    tally.act("multiplier", "mul", slots)
                    tally.act("crossbar", "route", routed)
                    tally.act("weight_fifo", "write", ws.entries * npe)
                    tally.act("weight_fifo", "read", int(cnt[:, K.FIFO_READS].sum()))
                    tally.act("iaram", "read", int(cnt[:, K.IARAM_READS].sum()))
                    group = GroupWork(cnt[:, K.CYCLES].copy(), nbytes(ws.entries, w_bits), ppu_cycles(halo, owned, cfg))
                    account_drain(tally, group, routed, halo, owned, spill, cfg)
                    work.groups.append(group)
            if not plan.inputs_on_chip:
                work.input_bytes += nbytes(in_entries, a_bits)
                tally.act("iaram", "write", in_entries)
            bands.append(work)
    carry_spills(bands)
    extra = {"wasted_products": int(wasted), "padding_products": int(padding_products),
             "virtual_channels": conv.cg * n_phases}
    return finish_layer(layer, cfg, conv, tally, bands, plan, out, True, out_bits, out_bits, issued, effectual, extra)


def scnn_energy_reference(cfg: ScnnConfig, table: EnergyTable) -> ERT:
    """SCNN's prices (see :func:`.common.energy_reference`): compressed entries carry a run index."""
    return energy_reference(cfg, table, act_bits=entry_bits(cfg, cfg.sparse_activations),
                            weight_bits=entry_bits(cfg, cfg.sparse_weights), out_bits=entry_bits(cfg, True),
                            crossbar=True)


SCNN = Accelerator(
    name="scnn", config_class=ScnnConfig, simulate_layer=simulate_layer, energy_reference=scnn_energy_reference,
    kinds=("conv2d",),
    description="SCNN (Parashar et al. ISCA 2017): PT-IS-CP-sparse, 8x8 PEs of 4x4 multipliers, "
                "cycle-level Cartesian product with accumulator bank conflicts",
)
