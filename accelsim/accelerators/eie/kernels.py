"""numba datapath of EIE: the LNZD broadcast, the per-PE activation queues and the PE pipelines,
cycle by cycle (Han et al., ISCA 2016, §III-B and §IV).

One call simulates one stream of broadcast activations (a batch, or several batches back to back)
and returns exact cycle and action counts; the simpy model in :mod:`.model` strings the calls together.

Cycle semantics (the paper gives the rules, not the clocking; these are the choices made):

1. **Queue occupancy.** "Each PE processes the activation at the head of its queue" (§IV): the
   activation a PE is working on stays at the head of its queue until its column is done, so a
   queue of depth d holds the activation in process plus d - 1 waiting ones. (At depth 1 the PEs
   therefore run in lock-step, one column at a time, which is what makes the paper's Fig. 8
   show about half the cycles idle at depth 1.)
2. **PEs, in cycle t.** A PE with no column in process starts the oldest waiting activation (one
   broadcast in cycle t-1 or earlier): it reads the pointer pair p_j, p_j+1 (two banks, one cycle,
   §IV "Pointer Read Unit") and then spends one cycle per stored entry of its slice of column j,
   padding entries included (§III-A). A column with no entries in this PE still takes one cycle
   (the pointer read occupies the pipeline's first stage). The column leaves the queue at the end
   of its last cycle. The entries' products are accumulated in this order.
3. **Broadcast, in cycle t.** The central unit's LNZD tree offers the next non-zero activation
   (a_j, j) once per cycle and pushes it into *every* PE's queue unless a queue is full
   (§III-B). With ``registered_full`` (the preset) the decision uses the occupancies at the start
   of cycle t: a full flag is an OR over all PEs across the chip, so a slot freed at the end of
   cycle t takes a push from cycle t+1. Without it, a slot freed at the end of cycle t takes the
   push of cycle t. An item pushed in cycle t can be started in cycle t+1.
4. **Idle causes.** A PE with nothing to do in cycle t is *starved* if the broadcast sends this
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
POINTER_READS = 6   #: pointer-pair reads (one per activation started)
SPMAT_WORDS = 7     #: sparse-matrix SRAM word reads
N_PE_STATS = 8


@njit(cache=True)
def broadcast_stream(col_ptr, codes, runs, sram_shift, codebook, act_col, act_val, act_batch, n_pe, n_cols,
                     rows_per_batch, queue_depth, registered_full, entries_per_word, dest,
                     pe_stats):  # pragma: no cover - compiled; NUMBA_DISABLE_JIT=1 covers it
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
    queue_depth, registered_full
        Queue entries per PE (the activation in process included) and the full-flag timing
        (see the module docstring).
    dest
        float32[n_pe, n_batches * rows_per_batch] accumulators, updated in place.
    pe_stats
        int64[n_pe, N_PE_STATS], updated in place (see the column constants).
    """
    n_items = act_col.size
    started = np.zeros(n_pe, dtype=np.int64)    # activations each PE has started
    finished = np.zeros(n_pe, dtype=np.int64)   # activations each PE has finished (left its queue)
    remaining = np.zeros(n_pe, dtype=np.int64)  # cycles left on the PE's current column
    busy = np.zeros(n_pe, dtype=np.int64)
    starved = np.zeros(n_pe, dtype=np.int64)
    waiting = np.zeros(n_pe, dtype=np.int64)
    finish = np.zeros(n_pe, dtype=np.int64)
    idle_list = np.empty(n_pe, dtype=np.int64)
    last_word = np.full(n_pe, -1, dtype=np.int64)
    min_finished = 0  # the fullest queue holds sent - min_finished activations
    sent = 0
    stalls = 0
    t = 0
    while sent < n_items or min_finished < n_items:
        blocked = registered_full and sent < n_items and sent - min_finished >= queue_depth
        new_min = n_items
        n_idle = 0
        for p in range(n_pe):
            r = remaining[p]
            if r == 0 and started[p] < sent:  # start the oldest waiting activation
                item = started[p]
                started[p] = item + 1
                a = act_val[item]
                b = act_batch[item]
                s = (b * n_pe + p) * n_cols + act_col[item]
                lo = col_ptr[s]
                hi = col_ptr[s + 1]
                pe_stats[p, POINTER_READS] += 1
                row = b * rows_per_batch - 1
                pad = 0
                for k in range(lo, hi):
                    row += runs[k] + 1  # address accumulation of the relative index
                    dest[p, row] += codebook[codes[k]] * a
                    if codes[k] == 0:
                        pad += 1
                if hi > lo:
                    shift = sram_shift[b * n_pe + p]
                    first = (lo + shift) // entries_per_word
                    last = (hi - 1 + shift) // entries_per_word
                    words = last - first + 1
                    if first == last_word[p]:
                        words -= 1
                    pe_stats[p, SPMAT_WORDS] += words
                    pe_stats[p, ENTRIES] += hi - lo
                    pe_stats[p, PADDING] += pad
                    last_word[p] = last
                    r = hi - lo
                else:
                    r = 1
            if r == 0:
                idle_list[n_idle] = p
                n_idle += 1
            else:  # one cycle of work; a column's activation leaves the queue at the end of its last cycle
                r -= 1
                busy[p] += 1
                finish[p] = t + 1
                if r == 0:
                    finished[p] += 1
            remaining[p] = r
            if finished[p] < new_min:
                new_min = finished[p]
        min_finished = new_min
        if sent < n_items:
            if not registered_full:
                blocked = sent - min_finished >= queue_depth
            for i in range(n_idle):
                if blocked:
                    waiting[idle_list[i]] += 1
                else:
                    starved[idle_list[i]] += 1
            if blocked:
                stalls += 1
            else:
                sent += 1
        t += 1
    for p in range(n_pe):
        pe_stats[p, BUSY] += busy[p]
        pe_stats[p, STARVED] += starved[p]
        pe_stats[p, BROADCAST_WAIT] += waiting[p]
        pe_stats[p, FINISH] = finish[p]
    return t, stalls
