"""numba datapaths of SIGMA's Flex-DPE: the FAN reduction, the Benes multicast cost and one fold's stream.

FAN (Qin et al., HPCA 2020, §IV-C). A Flex-DPE of N = 2**n multipliers has N - 1 adders laid out
*in order* between its multipliers: adder ``a`` sits between multipliers ``a`` and ``a + 1`` and
its level is the number of trailing one bits of ``a`` (level 0: a = 0, 2, 4, ...; level 1: a = 1,
5, 9, ...). Adder ``a`` at level ``l`` joins the left range ``[a - 2**l + 1, a]`` and the right range
``[a + 1, a + 2**l]``. A virtual neuron (VN) is a run of adjacent multipliers; its products are
summed by exactly the adders *inside* the run (adder ``a`` fires iff multipliers ``a`` and
``a + 1`` belong to the same VN), level by level, one level per cycle. Each input of a firing
adder is the partial sum of the VN's part of that half-range; when that part is not exactly the
range of the adder's child (the VN starts or ends inside the half) the value comes over a
*forwarding link* from a lower level or a multiplier. So many VNs of any sizes reduce at once,
and a VN's sum leaves after ``1 + msb(lo XOR hi)`` levels (``lo``/``hi`` its first and last
multiplier); a one-product VN needs no adder.

Functional order: within a level the adds of different adders are independent; each VN's sum is
formed exactly in this tree order (float32 adds), so :func:`fan_segment_sum` (per VN, used by the
model) and :func:`fan_reduce` (the whole Flex-DPE, cycle by cycle) give bit-identical sums.

Benes (§IV-B). An N x N Benes network has 2n + 1 levels of 2x2 switches and is non-blocking
with multicast (the paper's claim, taken as given: no routing conflicts are modelled). A word
multicast to the output set D crosses one switch per level on its way to a middle-stage switch
(levels 0..n) and then fans out along a binary tree: at level ``n + i`` it occupies one switch
per distinct ``d >> (n - i)`` over ``d`` in D. :func:`benes_multicast` counts these switch
traversals (the energy action); a unicast costs 2n + 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def first_block(lo: int, half: int) -> int:
    """Start of the first ``2 * half``-aligned block whose level adder (``block + half - 1``) is at or after ``lo``."""
    step = half << 1
    b = (lo // step) * step
    return b + step if b + half - 1 < lo else b


@njit(cache=True)
def fan_segment_sum(buf: np.ndarray, base: int, lo: int, hi: int) -> np.float32:
    """Sum ``buf[base + lo : base + hi]`` (a VN on Flex-DPE-local multipliers lo..hi-1) in FAN's order.

    ``base`` is the Flex-DPE's first multiplier in ``buf``. The partial sum of each half-range is kept
    at the half-range's first multiplier; ``buf`` is overwritten.
    """
    last = hi - 1
    half = 1
    while True:
        step = half << 1
        b = first_block(lo, half)
        while b + half - 1 < last:  # adder a = b + half - 1 fires: lo <= a < last
            left = b if b > lo else lo
            buf[base + left] += buf[base + b + half]
            b += step
        if lo // step == last // step:
            return buf[base + lo]
        half = step


@njit(cache=True)
def fan_segment_schedule(lo: int, hi: int) -> tuple[int, int, int]:
    """(adders fired, forwarded adder inputs, levels to the exit) of a VN on multipliers lo..hi-1.

    An input of adder ``a`` at level ``l >= 1`` is forwarded when the child adder ``a -/+ 2**(l-1)``
    on that side does not fire for this VN (it lies outside ``[lo, hi - 1)``).
    """
    last = hi - 1
    if last == lo:
        return 0, 0, 0
    forwards = 0
    half = 1
    level = 0
    while True:
        step = half << 1
        b = first_block(lo, half)
        while b + half - 1 < last:
            a = b + half - 1
            if level >= 1:
                quarter = half >> 1
                if a - quarter < lo:
                    forwards += 1
                if a + quarter >= last:
                    forwards += 1
            b += step
        if lo // step == last // step:
            return last - lo, forwards, level + 1
        half = step
        level += 1


@njit(cache=True)
def fan_reduce(vn_of_leaf: np.ndarray, products: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One streaming cycle of one Flex-DPE's FAN, level by level.

    Parameters
    ----------
    vn_of_leaf
        int64[N], N a power of two: the VN each multiplier's product belongs to, -1 if idle. A VN's
        multipliers must be adjacent.
    products
        float32[N]: the multipliers' products this cycle.

    Returns
    -------
    sums
        float32[N]: each VN's sum at its first multiplier (0 elsewhere).
    exit_level
        int64[N]: at a VN's first multiplier, the levels (cycles) its sum spends in the FAN; -1 elsewhere.
    fired_level
        int64[N - 1]: for adder ``a``, its level if it fired this cycle, else -1.
    forwarded
        int64[N - 1]: for adder ``a``, how many of its two inputs came over a forwarding link.
    """
    n = vn_of_leaf.size
    acc = products.astype(np.float32)
    start = np.empty(n, dtype=np.int64)  # first multiplier of each multiplier's VN
    for i in range(n):
        if i > 0 and vn_of_leaf[i] >= 0 and vn_of_leaf[i] == vn_of_leaf[i - 1]:
            start[i] = start[i - 1]
        else:
            start[i] = i
    fired_level = np.full(n - 1, -1, dtype=np.int64)
    forwarded = np.zeros(n - 1, dtype=np.int64)
    exit_level = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if vn_of_leaf[i] >= 0 and start[i] == i:
            exit_level[i] = 0
    half = 1
    level = 0
    while half < n:
        step = half << 1
        for b in range(0, n, step):
            a = b + half - 1
            if a + 1 >= n or vn_of_leaf[a] < 0 or vn_of_leaf[a + 1] != vn_of_leaf[a]:
                continue
            s = start[a]
            left = b if b > s else s
            acc[left] += acc[b + half]
            fired_level[a] = level
            exit_level[s] = level + 1
            if level >= 1:
                quarter = half >> 1
                for child in (a - quarter, a + quarter):  # a tree link only if the child fired for this VN
                    if fired_level[child] != level - 1 or start[child] != s:
                        forwarded[a] += 1
        half = step
        level += 1
    sums = np.zeros(n, dtype=np.float32)
    for i in range(n):
        if vn_of_leaf[i] >= 0 and start[i] == i:
            sums[i] = acc[i]
    return sums, exit_level, fired_level, forwarded


@njit(cache=True)
def benes_step(out: int, previous: int, n: int) -> int:
    """Switches a word newly occupies when it also reaches output ``out`` (outputs visited in increasing order).

    ``previous`` is the word's last output so far (-1: none yet, so the whole unicast path, 2n + 1
    switches). Otherwise one switch per fan-out level ``n + i`` whose prefix ``out >> (n - i)`` is new.
    """
    if previous < 0:
        return 2 * n + 1
    added = 0
    for i in range(1, n + 1):
        if (out >> (n - i)) != (previous >> (n - i)):
            added += 1
    return added


@njit(cache=True)
def benes_multicast(dest_port: np.ndarray) -> int:
    """Switch traversals of one cycle in an N x N Benes network (N = 2**n) delivering with multicast.

    ``dest_port[o]`` is the input port whose word output ``o`` receives (-1: idle). Each word costs
    one switch on each of levels 0..n (to its middle-stage switch) plus, on level n + i
    (i = 1..n), one switch per distinct ``o >> (n - i)`` among its outputs.
    """
    size = dest_port.size
    n = 0
    while (1 << n) < size:
        n += 1
    ports = 0
    for o in range(size):
        ports = max(ports, dest_port[o] + 1)
    last = np.full(ports, -1, dtype=np.int64)
    total = 0
    for o in range(size):  # outputs in increasing order: a new prefix is a change from the previous one
        p = dest_port[o]
        if p < 0:
            continue
        total += benes_step(o, last[p], n)
        last[p] = o
    return total


#: fields of the per-fold structure array returned by :func:`fold_pass`
FOLD_BLOCKS, FOLD_SEGMENTS, FOLD_ADDERS, FOLD_FORWARDS, FOLD_BENES, FOLD_WORDS, FOLD_LAST_LEVELS = range(7)


@njit(cache=True)
def fold_pass(leaf_val: np.ndarray, leaf_k: np.ndarray, leaf_r: np.ndarray, leaf_word: np.ndarray,
              words_per_cycle: int, dpe_size: int, stream_t: np.ndarray, out: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Stream one fold through the Flex-DPEs; add its partial sums into ``out`` (if ``stream_t`` has rows).

    Parameters
    ----------
    leaf_val, leaf_k, leaf_r, leaf_word
        Per mapped multiplier (the fold's stationary non-zeros in multiplier order, VN by VN, k
        ascending within a VN): value (float32), column k of the streamed operand it meets, output
        row r (its VN), and the index of k among the fold's distinct k's (its streamed word).
    words_per_cycle
        Distribution bandwidth: the fold's words are streamed ``words_per_cycle`` at a time, so a
        streamed column takes ``ceil(words / words_per_cycle)`` cycles (*blocks*); in block j the
        multipliers whose word is in ``[j * wpc, (j + 1) * wpc)`` multiply.
    dpe_size
        Multipliers per Flex-DPE (a power of two); multiplier i is in Flex-DPE ``i // dpe_size``.
    stream_t
        float32[C, K]: the streamed operand, one row per streamed column (C = 0: timing only).
    out
        float32[R, C]: partial sums accumulate here, per column, block by block, Flex-DPE by Flex-DPE.

    Returns
    -------
    structure
        int64[7], per streamed column: blocks, FAN sums leaving (VN pieces), adders fired,
        forwarded adder inputs, Benes switch traversals, words sent; and the exit levels of the
        deepest VN piece of the last block (see the FOLD_* indices).
    block_segments
        int64[blocks]: FAN sums leaving in each block (for a reduction-bandwidth limit).
    """
    n = leaf_val.size
    structure = np.zeros(7, dtype=np.int64)
    if n == 0:
        return structure, np.zeros(0, dtype=np.int64)
    n_words = 0
    for i in range(n):
        n_words = max(n_words, leaf_word[i] + 1)
    n_blocks = (n_words + words_per_cycle - 1) // words_per_cycle
    # VN pieces: maximal runs of multipliers with one VN, one Flex-DPE and one block
    seg_lo = np.empty(n, dtype=np.int64)
    seg_hi = np.empty(n, dtype=np.int64)
    seg_blk = np.empty(n, dtype=np.int64)
    n_seg = 0
    for i in range(n):
        blk = leaf_word[i] // words_per_cycle
        if (i == 0 or leaf_r[i] != leaf_r[i - 1] or i // dpe_size != (i - 1) // dpe_size
                or blk != seg_blk[n_seg - 1]):
            seg_lo[n_seg] = i
            seg_blk[n_seg] = blk
            n_seg += 1
        seg_hi[n_seg - 1] = i + 1
    # pieces grouped by block, in multiplier order within a block (counting sort)
    block_segments = np.zeros(n_blocks, dtype=np.int64)
    for s in range(n_seg):
        block_segments[seg_blk[s]] += 1
    first = np.zeros(n_blocks + 1, dtype=np.int64)
    for j in range(n_blocks):
        first[j + 1] = first[j] + block_segments[j]
    fill = first[:-1].copy()
    order = np.empty(n_seg, dtype=np.int64)
    for s in range(n_seg):
        order[fill[seg_blk[s]]] = s
        fill[seg_blk[s]] += 1
    # structure per streamed column (the same for every column: the bitmaps fix it)
    log2n = 0
    while (1 << log2n) < dpe_size:
        log2n += 1
    last_dest = np.full(words_per_cycle, -1, dtype=np.int64)
    adders = forwards = benes = 0
    for j in range(n_blocks):
        deepest = 0
        dpe_now = -1
        for t in range(first[j], first[j + 1]):
            s = order[t]
            lo, hi = seg_lo[s], seg_hi[s]
            d0 = (lo // dpe_size) * dpe_size
            add, fwd, lev = fan_segment_schedule(lo - d0, hi - d0)
            adders += add
            forwards += fwd
            deepest = max(deepest, lev)
            if d0 != dpe_now:  # a new Flex-DPE: its own Benes network
                last_dest[:] = -1
                dpe_now = d0
            for i in range(lo, hi):
                w = leaf_word[i] - j * words_per_cycle
                o = i - d0
                benes += benes_step(o, last_dest[w], log2n)
                last_dest[w] = o
        structure[FOLD_LAST_LEVELS] = deepest
    structure[FOLD_BLOCKS] = n_blocks
    structure[FOLD_SEGMENTS] = n_seg
    structure[FOLD_ADDERS] = adders
    structure[FOLD_FORWARDS] = forwards
    structure[FOLD_BENES] = benes
    structure[FOLD_WORDS] = n_words
    # functional: column by column, block by block, each VN piece reduced in FAN order
    buf = np.empty(n, dtype=np.float32)
    for c in range(stream_t.shape[0]):
        row = stream_t[c]
        for j in range(n_blocks):
            for t in range(first[j], first[j + 1]):
                s = order[t]
                lo, hi = seg_lo[s], seg_hi[s]
                for i in range(lo, hi):
                    buf[i] = leaf_val[i] * row[leaf_k[i]]
                d0 = (lo // dpe_size) * dpe_size
                out[leaf_r[lo], c] += fan_segment_sum(buf, d0, lo - d0, hi - d0)
    return structure, block_segments
