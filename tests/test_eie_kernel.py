"""The EIE numba kernel against a plain-Python model of the same queue semantics, on random cases.

The reference keeps real queues (deques of broadcast items whose head is the activation in
process), processes one stored entry per cycle and decodes rows entry by entry; the kernel keeps
counters. Rules (kernels.py docstring): a PE starts the head of its queue when idle, spends a cycle
per entry (padding included, an empty slice takes one), and the head leaves at the end of its last
cycle; the broadcast pushes to all queues unless one is full (at the start of the cycle with a
registered full flag, after the cycle's completions without).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from accelsim.accelerators.eie import kernels
from accelsim.accelerators.eie.model import sram_addresses
from accelsim.formats.eie import encode_eie


def reference_stream(enc, cols, vals, batches, depth, entries_per_word, registered=True):
    """Plain-Python cycle loop. Returns (cycles, stalls, per-PE stats dict, dest)."""
    n_pe, n_cols, rpb = enc.n_pe, enc.n_cols, enc.rows_per_batch
    ptr, codes, runs = enc.csc.col_ptr, enc.codes, enc.csc.runs
    shift = sram_addresses(enc)
    dest = np.zeros((n_pe, enc.output_batches * rpb), dtype=np.float32)
    queues = [deque() for _ in range(n_pe)]   # head = the activation in process, once started
    work = [None] * n_pe                      # entries left of the column in process (None: not started)
    row = [0] * n_pe
    last_word = [-1] * n_pe
    st = {k: [0] * n_pe for k in ("busy", "starved", "wait", "finish", "entries", "padding", "pops", "words")}
    items = list(zip(cols.tolist(), vals.tolist(), batches.tolist(), strict=True))
    nxt, stalls, t = 0, 0, 0
    while nxt < len(items) or any(queues):
        full_at_start = any(len(q) >= depth for q in queues)
        for p in range(n_pe):
            if work[p] is None and queues[p]:
                j, _, b = queues[p][0]
                s = (b * n_pe + p) * n_cols + j
                work[p] = deque(range(ptr[s], ptr[s + 1])) or deque([None])  # None: an empty slice's cycle
                row[p] = b * rpb - 1
                st["pops"][p] += 1
                if ptr[s + 1] > ptr[s]:
                    first = (ptr[s] + shift[b * n_pe + p]) // entries_per_word
                    last = (ptr[s + 1] - 1 + shift[b * n_pe + p]) // entries_per_word
                    st["words"][p] += last - first + 1 - (first == last_word[p])
                    last_word[p] = last
        idle = []
        for p in range(n_pe):
            if work[p] is None:
                idle.append(p)
                continue
            st["busy"][p] += 1
            st["finish"][p] = t + 1
            k = work[p].popleft()
            if k is not None:
                row[p] += int(runs[k]) + 1
                dest[p, row[p]] += np.float32(enc.codebook[codes[k]] * np.float32(queues[p][0][1]))
                st["entries"][p] += 1
                st["padding"][p] += codes[k] == 0
            if not work[p]:
                work[p] = None
                queues[p].popleft()  # the column is done: its activation leaves the queue
        blocked = full_at_start if registered else any(len(q) >= depth for q in queues)
        if nxt < len(items):
            for p in idle:
                st["wait" if blocked else "starved"][p] += 1
            if blocked:
                stalls += 1
            else:
                for q in queues:
                    q.append(items[nxt])
                nxt += 1
        t += 1
    return t, stalls, st, dest


def run_kernel(enc, cols, vals, batches, depth, entries_per_word, registered=True):
    dest = np.zeros((enc.n_pe, enc.output_batches * enc.rows_per_batch), dtype=np.float32)
    stats = np.zeros((enc.n_pe, kernels.N_PE_STATS), dtype=np.int64)
    cycles, stalls = kernels.broadcast_stream(
        enc.csc.col_ptr, enc.codes, enc.csc.runs, sram_addresses(enc), enc.codebook, cols, vals, batches,
        enc.n_pe, enc.n_cols, enc.rows_per_batch, depth, registered, entries_per_word, dest, stats)
    return cycles, stalls, stats, dest


CASES = [  # (n_pe, rows, cols, weight density, act density, rows_per_batch, depth, entries/word, registered)
    (1, 40, 30, 0.2, 0.5, 64, 1, 8, True),
    (2, 33, 17, 0.1, 0.7, 8, 2, 8, True),
    (3, 100, 25, 0.05, 0.6, 64, 1, 2, False),
    (4, 64, 40, 0.3, 1.0, 4, 3, 8, True),
    (5, 150, 31, 0.03, 0.4, 10, 8, 4, False),
    (8, 300, 50, 0.1, 0.35, 64, 2, 8, True),
    (8, 257, 20, 0.02, 0.9, 6, 1, 1, True),
    (8, 257, 20, 0.02, 0.9, 6, 1, 1, False),
    (16, 500, 64, 0.09, 0.35, 64, 8, 8, True),
    (16, 500, 64, 0.09, 0.35, 64, 2, 8, False),
]


@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_reference(case):
    n_pe, k, c, wd, ad, rpb, depth, epw, registered = case
    rng = np.random.default_rng(abs(hash(case)) % (2**32))
    w = np.where(rng.random((k, c)) < wd, rng.standard_normal((k, c)), 0.0).astype(np.float32)
    enc = encode_eie(w, n_pe, rows_per_batch=rpb)
    x = np.where(rng.random(c) < ad, np.abs(rng.standard_normal(c)), 0.0).astype(np.float32)
    nz = np.flatnonzero(x)
    # every output batch in turn, as one stream (the model's batch_barrier: false)
    cols = np.tile(nz, enc.output_batches).astype(np.int64)
    vals = np.tile(x[nz], enc.output_batches).astype(np.float32)
    batches = np.repeat(np.arange(enc.output_batches), nz.size).astype(np.int64)
    cycles, stalls, stats, dest = run_kernel(enc, cols, vals, batches, depth, epw, registered)
    r_cycles, r_stalls, r_st, r_dest = reference_stream(enc, cols, vals, batches, depth, epw, registered)
    assert (cycles, stalls) == (r_cycles, r_stalls)
    for name, col in (("busy", kernels.BUSY), ("starved", kernels.STARVED), ("wait", kernels.BROADCAST_WAIT),
                      ("finish", kernels.FINISH), ("entries", kernels.ENTRIES), ("padding", kernels.PADDING),
                      ("pops", kernels.POINTER_READS), ("words", kernels.SPMAT_WORDS)):
        assert stats[:, col].tolist() == r_st[name], name
    np.testing.assert_array_equal(dest, r_dest)  # same products in the same order: bit-identical
    # and the products are right: dest holds W_q @ x
    y = dest.T.reshape(-1)[:k]
    np.testing.assert_allclose(y, enc.quantized_dense().astype(np.float64) @ x, rtol=1e-5, atol=1e-5)
    # each PE's time is busy + idle until it finishes; busy = entries + empty columns
    assert np.all(stats[:, kernels.BUSY] + stats[:, kernels.STARVED] + stats[:, kernels.BROADCAST_WAIT]
                  <= cycles)
    assert cycles == (stats[:, kernels.FINISH].max() if nz.size else 0)


def test_empty_stream_takes_no_cycles():
    enc = encode_eie(np.eye(4, dtype=np.float32), 2)
    empty = np.zeros(0, dtype=np.int64)
    cycles, stalls, stats, _ = run_kernel(enc, empty, np.zeros(0, dtype=np.float32), empty, 8, 8)
    assert (cycles, stalls) == (0, 0) and not stats.any()


def test_deeper_queues_never_slower_on_random_streams():
    rng = np.random.default_rng(11)
    w = np.where(rng.random((256, 200)) < 0.08, 1.0, 0.0).astype(np.float32)
    enc = encode_eie(w, 16)
    nz = np.flatnonzero(rng.random(200) < 0.4).astype(np.int64)
    vals = np.ones(nz.size, dtype=np.float32)
    zeros = np.zeros(nz.size, dtype=np.int64)
    cycles = [run_kernel(enc, nz, vals, zeros, d, 8)[0] for d in (1, 2, 4, 8, 16, 64)]
    assert cycles == sorted(cycles, reverse=True)
    assert cycles[0] > cycles[-1]
