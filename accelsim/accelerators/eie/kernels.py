"""numba datapath of EIE: the LNZD broadcast, the per-PE activation queues and the PE pipelines,
cycle by cycle (Han et al., ISCA 2016, §III-B and §IV).

One call simulates one stream of broadcast activations (a batch, or several batches back to back)
and returns exact cycle and action counts; the simpy model in :mod:`.model` strings the calls together.

Cycle semantics (the paper gives the rules, not the clocking; these are the choices made):

1. **PEs, in cycle t.** A PE whose current column is finished pops the head of its queue (an
   item broadcast in cycle t-1 or earlier), reads the pointer pair p_j, p_j+1 (two banks, one
   cycle, §IV "Pointer Read Unit") and then spends one cycle per stored entry of its slice of
   column j, padding entries included (§III-A). A column with no entries in this PE still takes
   one cycle (the pop and the pointer read occupy the pipeline's first stage). The entries'
   products are accumulated into the destination accumulators in this order.
2. **Broadcast, in cycle t** (after the pops). The central unit's LNZD tree offers the next
   non-zero activation (a_j, j) once per cycle and pushes it into *every* PE's queue, but only if
   no queue is full (§III-B: the broadcast stalls while any queue is full). A queue slot freed by
   a pop in cycle t can take the push of cycle t. The item pushed in cycle t can be popped in t+1.
3. **Idle causes.** A PE with nothing to do in cycle t is *starved* if the broadcast sends this
   cycle (the PE is ahead of the one-per-cycle broadcast, or the stream is just starting),
   *waiting on the broadcast* if the broadcast is stalled by another PE's full queue, and
   *draining* once the whole stream has been broadcast (the tail of the batch; the model derives
   it as ``cycles - finish``).

Sparse-matrix reads (§IV "Sparse Matrix Read Unit"): the SRAM is ``entries_per_word`` entries
wide (64 bits = 8 entries). A column slice at PE-local addresses [lo, hi) reads the words
``lo // 8 .. (hi - 1) // 8``; the last word read is kept in a one-word buffer, so a slice that
starts in it does not read it again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Columns of the per-PE statistics array ``pe_stats`` (int64[n_pe, N_PE_STATS]).
BUSY = 0            #: cycles the PE issued an entry or an empty column
STARVED = 1         #: idle cycles with an empty queue while the broadcast was sending
BROADCAST_WAIT = 2  #: idle cycles with an empty queue while the broadcast was stalled by a full queue
FINISH = 3          #: the cycle after the PE's last busy cycle
ENTRIES = 4         #: entries processed (MACs issued), padding included
PADDING = 5         #: padding entries processed
POINTER_READS = 6   #: pointer-pair reads (one per popped activation)
SPMAT_WORDS = 7     #: sparse-matrix SRAM word reads
N_PE_STATS = 8


@njit(cache=True)
def broadcast_stream(col_ptr, codes, runs, sram_shift, codebook, act_col, act_val, act_batch, n_pe, n_cols,
                     rows_per_batch, queue_depth, entries_per_word, dest, pe_stats):  # pragma: no cover
    """Simulate one broadcast stream cycle by cycle; returns (cycles, broadcast stall cycles).

    Parameters
    ----------
    col_ptr, codes, runs
        The encoded matrix (:class:`accelsim.formats.eie.InterleavedCSC`): slice
        ``(batch * n_pe + pe) * n_cols + j`` holds entries ``col_ptr[s]:col_ptr[s+1]``, each a
        codebook index (0 = padding) and a zero run.
    sram_shift
        int64[n_batches * n_pe]: add to an entry's index in ``codes`` to get its address in its
        PE's own sparse-matrix SRAM (slice blocks of one PE are stored back to back from 0).
    codebook
        float32 shared weights, ``codebook[0] == 0``.
    act_col, act_val, act_batch
        The broadcast stream in order: input column j, activation value, output batch.
    dest
        float32[n_pe, n_batches * rows_per_batch] accumulators, updated in place.
    pe_stats
        int64[n_pe, N_PE_STATS], updated in place (see the column constants).
    """
    n_items = act_col.size
    popped = np.zeros(n_pe, dtype=np.int64)     # items each PE has taken from its queue
    remaining = np.zeros(n_pe, dtype=np.int64)  # cycles left on the PE's current column
    last_word = np.full(n_pe, -1, dtype=np.int64)
    sent = 0
    stalls = 0
    t = 0
    while True:
        if sent == n_items:
            done = True
            for p in range(n_pe):
                if remaining[p] > 0 or popped[p] < n_items:
                    done = False
                    break
            if done:
                break
        # 1. PEs whose column is finished pop their queue's head
        for p in range(n_pe):
            if remaining[p] == 0 and popped[p] < sent:
                item = popped[p]
                popped[p] = item + 1
                a = act_val[item]
                b = act_batch[item]
                s = (b * n_pe + p) * n_cols + act_col[item]
                lo = col_ptr[s]
                hi = col_ptr[s + 1]
                pe_stats[p, POINTER_READS] += 1
                row = b * rows_per_batch - 1
                for k in range(lo, hi):
                    row += runs[k] + 1  # address accumulation of the relative index
                    dest[p, row] += codebook[codes[k]] * a
                    if codes[k] == 0:
                        pe_stats[p, PADDING] += 1
                if hi > lo:
                    shift = sram_shift[b * n_pe + p]
                    first = (lo + shift) // entries_per_word
                    last = (hi - 1 + shift) // entries_per_word
                    words = last - first + 1
                    if first == last_word[p]:
                        words -= 1
                    pe_stats[p, SPMAT_WORDS] += words
                    last_word[p] = last
                    pe_stats[p, ENTRIES] += hi - lo
                    remaining[p] = hi - lo
                else:
                    remaining[p] = 1
        # 2. the broadcast sends unless a queue is still full after this cycle's pops
        blocked = False
        if sent < n_items:
            for p in range(n_pe):
                if sent - popped[p] >= queue_depth:
                    blocked = True
                    break
        # 3. account the cycle
        for p in range(n_pe):
            if remaining[p] > 0:
                remaining[p] -= 1
                pe_stats[p, BUSY] += 1
                pe_stats[p, FINISH] = t + 1
            elif sent < n_items:
                if blocked:
                    pe_stats[p, BROADCAST_WAIT] += 1
                else:
                    pe_stats[p, STARVED] += 1
        if sent < n_items:
            if blocked:
                stalls += 1
            else:
                sent += 1
        t += 1
    return t, stalls
