"""What SCNN and its dense baselines share: conv geometry, the simpy schedule, outputs, energy prices.

The simpy model (one process per PE, one controller, a DRAM channel, a post-processing process
per group; one event per group and phase, never per product):

* **Input bands.** A band's compressed inputs are loaded from DRAM (only for layers that do not
  fit in the IARAMs, SCNN §VI "temporal tiling") into one half of the IARAMs while the previous
  band computes (double buffering); loads go in pieces of at most 64 KiB so the weight stream
  interleaves with them on the one DRAM channel.
* **Groups.** For every output-channel group the controller starts the group's weight stream
  from DRAM (broadcast to every PE's weight FIFO; the FIFO holds only 50 entries, so no group is
  prefetched) and releases the PEs; each PE computes for the cycles its datapath kernel reported,
  then waits at the engine's :class:`~accelsim.engine.Barrier` (SCNN §IV: all PEs synchronise at
  the end of every output-channel group). The group ends when every PE has arrived and its weights
  have all arrived.
* **Post-processing.** The group's accumulator buffer then drains in the background (SCNN §IV,
  Fig. 6 PPU): halo partial sums go to the neighbours (``halo_words_per_cycle``), the owned outputs
  get ReLU'd, compressed and written to the OARAM (``ppu_words_per_cycle``), and, for a layer whose
  output does not fit the OARAMs, stored to DRAM. With double-buffered accumulators the next group
  computes meanwhile; a group that finds no free accumulator buffer waits (``stall.acc_drain``).

Stall causes (``LayerResult.stall_cycles``): ``barrier`` PE-cycles spent waiting at group
barriers (inter-PE load imbalance); ``bank_conflict`` PE-cycles of accumulator-bank serialisation;
``fragmentation`` PE-cycle equivalents of empty multiplier slots in issued cycles (partly filled F
or I vectors: intra-PE fragmentation); ``dram`` / ``weight_dram`` / ``acc_drain`` / ``ppu_drain``
chip cycles waiting for an input band, a weight stream, an accumulator buffer, the last drain.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import simpy

from accelsim.accelerators.base import UnsupportedLayerError
from accelsim.accelerators.scnn.config import PlanarArrayConfig
from accelsim.accelerators.scnn.tiling import Axis, LayerPlan
from accelsim.energy import ERT, EnergyTable
from accelsim.engine import DRAM, Barrier, Stats
from accelsim.formats import encode_csc
from accelsim.trace.layer import Layer, conv_output_hw

LOAD_PIECE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Conv:
    """A conv2d layer's geometry (per conv group where it says so)."""

    n: int
    c: int
    k: int
    groups: int
    h: int
    w: int
    r: int
    s: int
    stride: int
    pad: int
    p: int
    q: int

    @classmethod
    def of(cls, layer: Layer) -> Conv:
        if layer.kind != "conv2d":
            raise UnsupportedLayerError(f"{layer.name!r} is a {layer.kind} layer; this chip models conv2d "
                                        f"(SCNN §VI: FC layers are better served by EIE)")
        s = layer.shape
        p, q = conv_output_hw(s)
        return cls(s["N"], s["C"], s["K"], s["groups"], s["H"], s["W"], s["R"], s["S"], s["stride"],
                   s["padding"], p, q)

    @property
    def cg(self) -> int:
        return self.c // self.groups

    @property
    def kg(self) -> int:
        return self.k // self.groups

    @property
    def ay(self) -> Axis:
        return Axis(self.h, self.p, self.r, self.stride, self.pad)

    @property
    def ax(self) -> Axis:
        return Axis(self.w, self.q, self.s, self.stride, self.pad)


def nbytes(entries: float, bits: int) -> int:
    return int(math.ceil(entries * bits / 8))


@dataclass
class GroupWork:
    """One output-channel group of one band: per-PE compute cycles and its memory traffic."""

    pe_cycles: np.ndarray
    weight_bytes: int
    ppu_cycles: int
    store_bytes: int = 0
    out_entries: int = 0     # on-chip output entries written by the PPU (set after the layer)
    spill_bytes: int = 0     # partial sums spilled for the next band (part of store_bytes)


@dataclass
class BandWork:
    input_bytes: int
    groups: list[GroupWork] = field(default_factory=list)


def run_schedule(bands: list[BandWork], cfg: PlanarArrayConfig, stats: Stats) -> int:
    """Simulate the layer's bands and groups (module docstring); return total cycles."""
    env = simpy.Environment()
    npe = cfg.pes
    dram = DRAM(env, stats, bytes_per_cycle=cfg.dram_bytes_per_cycle, latency_cycles=cfg.dram_latency_cycles,
                burst_bytes=cfg.dram_burst_bytes)
    barrier = Barrier(env, npe, stats, cause="barrier")
    in_slots = simpy.Container(env, capacity=2, init=2)
    n_acc = 2 if cfg.acc_double_buffered else 1
    acc_free = simpy.Container(env, capacity=n_acc, init=n_acc)
    flat = [g for band in bands for g in band.groups]
    start = [env.event() for _ in flat]
    done = [env.event() for _ in flat]
    loaded = [env.event() for _ in bands]

    def loader():
        for i, band in enumerate(bands):
            if band.input_bytes:
                yield in_slots.get(1)
                left = band.input_bytes
                while left > 0:
                    piece = min(left, LOAD_PIECE_BYTES)
                    yield from dram.transfer(piece)
                    left -= piece
            loaded[i].succeed()

    def pe(p: int):
        for j, g in enumerate(flat):
            yield start[j]
            cyc = int(g.pe_cycles[p])
            if cyc:
                yield env.timeout(cyc)
            yield from barrier.wait()
            if p == 0:
                done[j].succeed()

    def drain(g: GroupWork):
        if g.ppu_cycles:
            yield env.timeout(g.ppu_cycles)
        if g.store_bytes:
            yield from dram.transfer(g.store_bytes, write=True)
        yield acc_free.put(1)

    def controller():
        j = 0
        drains = []
        for i, band in enumerate(bands):
            t = env.now
            yield loaded[i]
            stats.stall("dram", env.now - t)
            for g in band.groups:
                t = env.now
                yield acc_free.get(1)
                stats.stall("acc_drain", env.now - t)
                stream = env.process(dram.transfer(g.weight_bytes)) if g.weight_bytes else None
                start[j].succeed()
                yield done[j]
                if stream is not None:
                    t = env.now
                    yield stream
                    stats.stall("weight_dram", env.now - t)
                drains.append(env.process(drain(g)))
                j += 1
            if band.input_bytes:
                yield in_slots.put(1)
        t = env.now
        if drains:
            yield simpy.AllOf(env, drains)
        stats.stall("ppu_drain", env.now - t)

    env.process(loader())
    for p in range(npe):
        env.process(pe(p))
    finished = env.process(controller())
    env.run(until=finished)
    return int(env.now)


def output_entries(out: np.ndarray, plan: LayerPlan, kg: int, groups: int, compressed: bool,
                   run_bits: int) -> tuple[dict[tuple[int, int, int, int], int], np.ndarray]:
    """Entries the PPUs write for the ReLU'd output ``out`` (N, K, P, Q).

    Returns entries per (image, band, conv group, first channel of a Kc group) and the entries each
    PE stores over the whole layer (int64[npe], for the OARAM fit test). Compressed outputs use the
    zero-run encoding per output channel over the PE's owned outputs (SCNN §IV); dense outputs store
    every value.
    """
    relu = np.maximum(out, 0)
    per_group: dict[tuple[int, int, int, int], int] = {}
    npe = plan.bands[0].own.shape[0]
    per_pe = np.zeros(npe, dtype=np.int64)
    for n in range(out.shape[0]):
        for b, band in enumerate(plan.bands):
            per_channel = np.zeros(out.shape[1], dtype=np.int64)
            for p in range(npe):
                oy0, oy1, ox0, ox1 = (int(v) for v in band.own[p])
                if oy1 <= oy0 or ox1 <= ox0:
                    continue
                region = relu[n, :, oy0:oy1, ox0:ox1].reshape(out.shape[1], -1)
                if compressed:
                    counts = np.diff(encode_csc(region.T, run_bits).col_ptr)
                else:
                    counts = np.full(out.shape[1], region.shape[1], dtype=np.int64)
                per_channel += counts
                per_pe[p] += int(counts.sum())
            csum = np.concatenate([[0], np.cumsum(per_channel)])
            for gg in range(groups):
                for k0 in range(0, kg, band.kc):
                    lo, hi = gg * kg + k0, gg * kg + min(k0 + band.kc, kg)
                    per_group[(n, b, gg, k0)] = int(csum[hi] - csum[lo])
    return per_group, per_pe


def ppu_cycles(halo: np.ndarray, owned: np.ndarray, cfg: PlanarArrayConfig) -> int:
    """Drain time of a group: the slowest PE's halo sends plus its owned-output post-processing."""
    per_pe = -(-halo // cfg.halo_words_per_cycle) - (-owned // cfg.ppu_words_per_cycle)
    return int(per_pe.max()) if per_pe.size else 0


def energy_reference(cfg: PlanarArrayConfig, table: EnergyTable, *, act_bits: int, weight_bits: int,
                     out_bits: int, crossbar: bool) -> ERT:
    """Prices of every counted (component, action), from the energy table at the configured widths.

    Choices (the paper gives areas, not per-action energies): a multiply is the table's integer
    multiply at ``value_bits``; an accumulator update reads and writes one entry of one bank (an SRAM
    of ``acc_bank_entries x acc_bits``) and adds at ``acc_bits``; the scatter crossbar is priced as a
    mux tree, one 2:1 level per bit of its log2(F·I) input select, each level an adder slice of the
    routed width (product plus bank address) -- the paper's §IV calls the crossbar a significant
    area cost, which this estimate keeps below the accumulator update; a halo transfer is a
    two-level mux hop to a neighbour (the partial sum's read and its accumulate at the receiver are
    counted separately); a post-processing op (ReLU compare and run counter) is an adder of
    ``value_bits``; IARAM, OARAM and weight FIFO accesses are SRAM reads/writes of one entry (value
    plus index for compressed operands) from an array of their capacity; DRAM is priced per bit.
    Gated actions (DCNN-opt) cost nothing: a data-gated multiplier or accumulator does not toggle.
    """
    add = table.arith_pj("int_add", cfg.acc_bits)
    bank_bytes = cfg.acc_bank_entries * cfg.acc_bits / 8
    acc_read = table.sram_pj(bank_bytes, cfg.acc_bits)
    acc_write = table.sram_pj(bank_bytes, cfg.acc_bits, write=True)
    fifo_bytes = cfg.weight_fifo_entries * weight_bits / 8
    addr_bits = max(1, math.ceil(math.log2(cfg.acc_bank_entries)))
    ert: ERT = {
        ("multiplier", "mul"): table.arith_pj("int_mult", cfg.value_bits),
        ("multiplier", "gated"): 0.0,
        ("accumulator", "rmw"): acc_read + acc_write + add,
        ("accumulator", "gated"): 0.0,
        ("accumulator", "read"): acc_read,
        ("halo", "transfer"): 2 * table.arith_pj("int_add", cfg.acc_bits),
        ("weight_fifo", "write"): table.sram_pj(fifo_bytes, weight_bits, write=True),
        ("weight_fifo", "read"): table.sram_pj(fifo_bytes, weight_bits),
        ("iaram", "read"): table.sram_pj(cfg.iaram_bytes, act_bits),
        ("iaram", "write"): table.sram_pj(cfg.iaram_bytes, act_bits, write=True),
        ("oaram", "read"): table.sram_pj(cfg.oaram_bytes, out_bits),
        ("oaram", "write"): table.sram_pj(cfg.oaram_bytes, out_bits, write=True),
        ("ppu", "op"): table.arith_pj("int_add", cfg.value_bits),
        ("dram", "read"): table.dram_pj(1, cfg.dram_type),
        ("dram", "write"): table.dram_pj(1, cfg.dram_type),
    }
    if crossbar:
        levels = max(1, math.ceil(math.log2(cfg.mult_f * cfg.mult_i)))
        ert[("crossbar", "route")] = levels * table.arith_pj("int_add", cfg.acc_bits + addr_bits)
    return ert


class Tally:
    """Per-layer sums of the datapath counters, action counts and per-PE busy cycles."""

    def __init__(self, npe: int):
        self.c: Counter[str] = Counter()
        self.actions: Counter[tuple[str, str]] = Counter()
        self.busy = np.zeros(npe, dtype=np.int64)

    def act(self, component: str, action: str, n: float) -> None:
        if n:
            self.actions[(component, action)] += n
