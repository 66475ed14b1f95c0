"""EIE (Han et al., ISCA 2016, arXiv 1602.01528): a linear / LSTM-gate layer on N interleaved PEs.

Mapping (§III-A): the weight matrix is codebook-quantised and cut into per-PE relative-index CSC
slices by :func:`accelsim.formats.eie.encode_eie`; output row i lives in PE i mod N.

Timing. A layer runs as *phases*: one per (input row, output batch, input batch). EIE holds 64
source and 64 destination activations per PE (§IV), so a layer with more than 64·N outputs
runs in output batches and an input longer than 64·N in input batches (the rest waits in the
2 KB activation SRAM, read at the start of a batch and written at its end). Input rows (a batch
N > 1 of the trace) are separate batch-1 inferences, one after another. In a phase, the LNZD
broadcasts the phase's non-zero activations in index order; the numba kernel
:func:`.kernels.broadcast_stream` simulates queues and PEs cycle by cycle and returns exact cycle
and action counts. The simpy model runs one event per PE per phase: each PE finishes at its own
cycle and waits at a :class:`~accelsim.engine.Barrier` for the last one (the layer, or batch,
ends when the last PE drains), then the pipeline's last writes retire (``pipeline_stages - 1``
cycles). With ``batch_barrier: false`` the batches of one input row stream through the queues
without draining in between.

I/O mode (§III-B): weights are loaded into the PEs' SRAMs once and the destination register
file becomes the next layer's source, so a layer moves no DRAM data and Table IV's times
exclude loading. Activations never leave the chip.

Reported stall causes (``stall.<cause>``): ``broadcast_full`` in central-unit cycles (the LNZD
had an activation but a queue was full); ``pe_starved``, ``pe_broadcast_wait``, ``pe_drain`` and
``pe_pipeline`` in PE-cycles summed over PEs, so that busy + these four = N x cycles.
``load_efficiency`` (the paper's Fig. 8 metric, 1 - bubbles / total PE-cycles) is busy / (N x cycles).

Functional model: the kernel accumulates, in float32 and in the PE's order, the shared weights
indexed by the stored codes at the rows the relative indices decode to (the chip uses 16-bit
fixed point; float32 keeps the check about dataflow, not rounding). The reference is an
independent numpy float64 product of the same quantised weights
(:meth:`InterleavedCSC.quantized_dense` equals it; see the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from accelsim.accelerators.base import Accelerator
from accelsim.accelerators.eie import kernels
from accelsim.accelerators.eie.config import EIEConfig
from accelsim.energy import ERT, EnergyTable
from accelsim.engine import Barrier, Stats
from accelsim.errors import AccelsimError
from accelsim.formats.eie import InterleavedCSC, encode_eie
from accelsim.results import LayerResult
from accelsim.trace.layer import Layer

KINDS = ("linear", "lstm")


@dataclass(frozen=True)
class EIEMapping:
    """A layer's weights as the chip stores them (prepared offline; loaded once in I/O mode).

    Separate from the run so that sweeps over run-time fields (queue depth, barrier) re-use it.
    """

    encoding: InterleavedCSC
    codes: np.ndarray       # uint8 codebook index per stored entry
    runs: np.ndarray        # uint8 zero run per stored entry
    sram_shift: np.ndarray  # int64 per (output batch, PE): entry index -> address in the PE's own SRAM
    key: tuple              # the config fields the encoding depends on

    @staticmethod
    def key_of(cfg: EIEConfig) -> tuple:
        return (cfg.pe_count, cfg.act_regfile_entries, cfg.run_bits, cfg.codebook_bits, cfg.quantization)


@dataclass(frozen=True)
class Phase:
    """One broadcast stream: the non-zero activations of some batches of one input row."""

    row: int                 # input row (inference) it belongs to
    cols: np.ndarray         # int64 input columns, broadcast order
    values: np.ndarray       # float32 activations
    batches: np.ndarray      # int64 output batch of each item
    count: int               # batches (output x input) the stream covers
    source_refills: int      # batches whose source registers are loaded from the activation SRAM first
    dest_spills: int         # batches whose destination registers are written to the activation SRAM at the end


def map_layer(layer: Layer, cfg: EIEConfig) -> EIEMapping:
    """Quantise and encode the layer's weights for ``cfg`` (EIE §III-A)."""
    _check_layer(layer)
    enc = encode_eie(layer.weight, cfg.pe_count, rows_per_batch=cfg.act_regfile_entries, run_bits=cfg.run_bits,
                     codebook_bits=cfg.codebook_bits, quantization=cfg.quantization)
    return EIEMapping(enc, enc.codes, enc.csc.runs, sram_addresses(enc), EIEMapping.key_of(cfg))


def sram_addresses(enc: InterleavedCSC) -> np.ndarray:
    """Per (output batch, PE) block: the shift from an entry's index to its PE-local SRAM address.

    Each PE stores its blocks (output batch 0, 1, ...) back to back from address 0.
    """
    blocks = enc.output_batches * enc.n_pe
    ptr = enc.csc.col_ptr
    start = ptr[np.arange(blocks) * enc.n_cols]
    size = ptr[np.arange(1, blocks + 1) * enc.n_cols] - start
    per_pe = size.reshape(enc.output_batches, enc.n_pe)
    base = (np.cumsum(per_pe, axis=0) - per_pe).ravel()  # this PE's entries in earlier batches
    return (base - start).astype(np.int64)


def _check_layer(layer: Layer) -> None:
    if layer.kind not in KINDS:
        raise AccelsimError(f"eie runs {', '.join(KINDS)} layers (matrix x vector); {layer.name!r} is {layer.kind}")
    if layer.weight.ndim != 2 or layer.input.ndim != 2 or layer.input.shape[1] != layer.weight.shape[1]:
        raise AccelsimError(f"layer {layer.name!r}: expected weight (K, C) and input (N, C), got "
                            f"{layer.weight.shape} and {layer.input.shape}")


def plan_phases(x: np.ndarray, cfg: EIEConfig, output_batches: int) -> list[Phase]:
    """Split each input row's non-zero activations into batch streams (EIE §IV, activation SRAM).

    Output batches outer, input batches inner: a batch's partial sums stay in the destination
    registers across the input batches and are written to the activation SRAM after the last.
    """
    n_rows, n_cols = x.shape
    span = cfg.act_regfile_entries * cfg.pe_count
    input_batches = max(1, math.ceil(n_cols / span))
    phases: list[Phase] = []
    for r in range(n_rows):
        nz = np.flatnonzero(x[r])
        vals = x[r, nz].astype(np.float32)
        edges = np.searchsorted(nz, np.arange(input_batches + 1) * span)
        batches = []
        for ob in range(output_batches):
            for ib in range(input_batches):
                sel = slice(edges[ib], edges[ib + 1])
                batches.append(Phase(r, nz[sel].astype(np.int64), vals[sel], np.full(sel.stop - sel.start, ob),
                                     count=1, source_refills=int(input_batches > 1),
                                     dest_spills=int(output_batches > 1 and ib == input_batches - 1)))
        phases += batches if cfg.batch_barrier else [_stream(batches)]
    return phases


def _stream(batches: list[Phase]) -> Phase:
    """Several batches of one input row broadcast back to back as one stream."""
    return Phase(batches[0].row, np.concatenate([b.cols for b in batches]),
                 np.concatenate([b.values for b in batches]), np.concatenate([b.batches for b in batches]),
                 count=len(batches), source_refills=sum(b.source_refills for b in batches),
                 dest_spills=sum(b.dest_spills for b in batches))


def simulate_layer(layer: Layer, cfg: EIEConfig) -> LayerResult:
    """Run one layer on EIE: encode the weights, then :func:`simulate_mapped`."""
    return simulate_mapped(layer, cfg, map_layer(layer, cfg))


def simulate_mapped(layer: Layer, cfg: EIEConfig, mapping: EIEMapping) -> LayerResult:
    """Run one layer whose weights are already encoded (see :class:`EIEMapping`)."""
    _check_layer(layer)
    if mapping.key != EIEMapping.key_of(cfg):
        raise AccelsimError(f"layer {layer.name!r}: the mapping was encoded for (pe_count, act_regfile_entries, "
                            f"run_bits, codebook_bits, quantization) = {mapping.key}, the config has "
                            f"{EIEMapping.key_of(cfg)}; re-run map_layer")
    enc = mapping.encoding
    n_pe, r_entries = cfg.pe_count, cfg.act_regfile_entries
    x = np.asarray(layer.input)
    phases = plan_phases(x, cfg, enc.output_batches)
    stats = Stats(n_pe)
    pe_stats = np.zeros((n_pe, kernels.N_PE_STATS), dtype=np.int64)
    dest = np.zeros((n_pe, enc.output_batches * r_entries), dtype=np.float32)
    outputs = np.zeros((x.shape[0], enc.n_rows), dtype=np.float32)
    codebook = enc.codebook.astype(np.float32)
    counters = {"broadcasts": 0, "refill_words": 0, "spill_words": 0}
    idle = {cause: np.zeros(n_pe, dtype=np.int64) for cause in ("starved", "broadcast_wait", "drain")}
    act_words = _words(r_entries * cfg.act_bits, 64)  # one PE's activation registers in 64-bit SRAM words
    drain = cfg.pipeline_stages - 1

    env = simpy.Environment()
    barrier = Barrier(env, n_pe, stats, cause="pe_drain")

    def pe(finish: int):
        yield env.timeout(finish)
        yield from barrier.wait()

    def central_unit():
        for i, ph in enumerate(phases):
            before = pe_stats.copy()
            cycles, stalls = kernels.broadcast_stream(
                enc.csc.col_ptr, mapping.codes, mapping.runs, mapping.sram_shift, codebook, ph.cols, ph.values,
                ph.batches, n_pe, enc.n_cols, r_entries, cfg.queue_depth, cfg.registered_full,
                cfg.entries_per_word, dest, pe_stats)
            finish = pe_stats[:, kernels.FINISH] if ph.cols.size else np.zeros(n_pe, dtype=np.int64)
            if ph.cols.size and int(finish.max()) != cycles:
                raise AssertionError("EIE kernel: the last PE's finish differs from the stream's cycles")
            start = env.now
            yield simpy.AllOf(env, [env.process(pe(int(f))) for f in finish])
            if ph.cols.size:
                yield env.timeout(drain)
                stats.stall("pe_pipeline", drain * n_pe)
            stats.stall("broadcast_full", stalls)
            delta = pe_stats - before
            stats.busy(slice(None), delta[:, kernels.BUSY])
            stats.stall("pe_starved", int(delta[:, kernels.STARVED].sum()))
            stats.stall("pe_broadcast_wait", int(delta[:, kernels.BROADCAST_WAIT].sum()))
            idle["starved"] += delta[:, kernels.STARVED]
            idle["broadcast_wait"] += delta[:, kernels.BROADCAST_WAIT]
            idle["drain"] += cycles - finish
            assert env.now - start == (cycles + drain if ph.cols.size else 0)
            pe_stats[:, kernels.FINISH] = 0
            counters["broadcasts"] += ph.cols.size
            counters["refill_words"] += act_words * n_pe * ph.source_refills
            counters["spill_words"] += act_words * n_pe * ph.dest_spills
            last_of_row = i + 1 == len(phases) or phases[i + 1].row != ph.row
            if last_of_row:
                outputs[ph.row] = dest.T.reshape(-1)[:enc.n_rows]
                dest[:] = 0.0

    done = env.process(central_unit())
    env.run(until=done)
    cycles = int(env.now)

    entries = int(pe_stats[:, kernels.ENTRIES].sum())
    padding = int(pe_stats[:, kernels.PADDING].sum())
    pops = int(pe_stats[:, kernels.POINTER_READS].sum())
    words = int(pe_stats[:, kernels.SPMAT_WORDS].sum())
    broadcasts = counters["broadcasts"]
    stats.count("spmat_sram", "read", words)
    stats.count("ptr_sram", "read", pops)
    stats.count("codebook", "read", entries)
    stats.count("arith", "mac", entries - padding)
    stats.count("arith", "mac_padding", padding)
    stats.count("act_rf", "read", entries + broadcasts)  # accumulator read per entry, source read per broadcast
    stats.count("act_rf", "write", entries)
    stats.count("act_queue", "push", broadcasts * n_pe)
    stats.count("act_queue", "pop", pops)
    stats.count("lnzd", "broadcast", broadcasts)
    stats.count("act_sram", "read", counters["refill_words"])
    stats.count("act_sram", "write", counters["spill_words"])
    stats.count("pe", "clock", cycles * n_pe)
    stats.moved("spmat_sram", words * cfg.spmat_word_bits / 8)
    stats.moved("ptr_sram", pops * 2 * cfg.pointer_bits / 8)
    stats.moved("act_sram", (counters["refill_words"] + counters["spill_words"]) * 8)

    storage = enc.storage_bits(cfg.pointer_bits)
    per_pe_bits = enc.entries_per_pe() * (cfg.run_bits + cfg.codebook_bits)
    busy = stats.pe_busy
    return LayerResult(
        layer=layer.name, kind=layer.kind, cycles=cycles, compute_cycles=cycles, pe_busy_cycles=busy,
        action_counts=dict(stats.actions), macs_dense=layer.macs_dense, macs_effectual=entries - padding,
        macs_issued=entries, multipliers=n_pe, stall_cycles=dict(stats.stalls), bytes_moved=dict(stats.bytes_moved),
        output=outputs, reference=reference_output(enc, x),
        extra={
            "padding_share": padding / entries if entries else 0.0,
            "padding_share_stored": storage["padding"] / storage["entries"] if storage["entries"] else 0.0,
            "real_work_ratio": (entries - padding) / entries if entries else 1.0,
            "load_efficiency": float(busy.sum()) / (n_pe * cycles) if cycles else 1.0,
            "theoretical_cycles": entries / n_pe,
            "phases": len(phases),
            "output_batches": enc.output_batches,
            "input_batches": max(1, math.ceil(x.shape[1] / (r_entries * n_pe))),
            "spmat_bits": storage["entries"], "padding_bits": storage["padding"], "pointer_bits": storage["pointers"],
            "spmat_sram_fits": bool(per_pe_bits.max(initial=0) <= cfg.spmat_sram_bytes * 8),
            # per-PE idle cycles by cause (arrays: kept out of the results rows)
            **{f"pe_idle_{cause}": v for cause, v in idle.items()},
        },
    )


def _words(bits: int, width: int) -> int:
    return -(-bits // width)


def reference_output(enc: InterleavedCSC, x: np.ndarray) -> np.ndarray:
    """numpy float64 product of the quantised weights with each input row (independent of the kernel)."""
    w = enc.codebook[enc.nz_codes].astype(np.float64)
    out = np.empty((x.shape[0], enc.n_rows), dtype=np.float64)
    for r in range(x.shape[0]):
        out[r] = np.bincount(enc.nz_rows, weights=w * x[r, enc.nz_cols].astype(np.float64), minlength=enc.n_rows)
    return out


def lnzd_nodes(n_pe: int) -> int:
    """LNZD units of the quadtree over ``n_pe`` PEs (§IV: 21 for 64 = 16 + 4 + 1)."""
    nodes, level = 0, n_pe
    while level > 1:
        level = -(-level // 4)
        nodes += level
    return max(nodes, 1)


def energy_reference(cfg: EIEConfig, table: EnergyTable) -> ERT:
    """Prices from a generic table (Horowitz 45 nm by default); ``eie45`` overrides them with Table II.

    SRAMs by capacity and width; the pointer read is two 16-bit bank reads; a MAC is a
    ``weight_bits`` multiply plus an ``act_bits`` add (padding MACs cost the same: the datapath
    multiplies by the zero code); register files and queues are priced as tiny SRAMs; the LNZD
    broadcast as one ``act_bits`` compare per LNZD unit. Horowitz has no clock-tree figure, so
    ``pe:clock`` is 0 here (the eie45 table prices it from Table II).
    """
    mac = table.mac_pj(cfg.weight_bits, cfg.act_bits)
    rf = table.sram_pj(cfg.act_regfile_entries * cfg.act_bits / 8, cfg.act_bits)
    queue_bits = cfg.act_bits + cfg.pointer_bits
    queue = table.sram_pj(cfg.queue_depth * queue_bits / 8, queue_bits)
    return {
        ("spmat_sram", "read"): table.sram_pj(cfg.spmat_sram_bytes, cfg.spmat_word_bits),
        ("ptr_sram", "read"): 2 * table.sram_pj(cfg.ptr_sram_bytes / 2, cfg.pointer_bits),
        ("codebook", "read"): table.sram_pj((1 << cfg.codebook_bits) * cfg.weight_bits / 8, cfg.weight_bits),
        ("arith", "mac"): mac,
        ("arith", "mac_padding"): mac,
        ("act_rf", "read"): rf,
        ("act_rf", "write"): table.sram_pj(cfg.act_regfile_entries * cfg.act_bits / 8, cfg.act_bits, write=True),
        ("act_queue", "push"): queue,
        ("act_queue", "pop"): queue,
        ("lnzd", "broadcast"): lnzd_nodes(cfg.pe_count) * table.arith_pj("int_add", cfg.act_bits),
        ("act_sram", "read"): table.sram_pj(cfg.act_sram_bytes, 64),
        ("act_sram", "write"): table.sram_pj(cfg.act_sram_bytes, 64, write=True),
        ("pe", "clock"): 0.0,
    }


EIE = Accelerator(
    name="eie", config_class=EIEConfig, simulate_layer=simulate_layer, energy_reference=energy_reference,
    kinds=KINDS,
    description="EIE (ISCA 2016): codebook + relative-index CSC, LNZD broadcast, per-PE queues, cycle-level",
)
