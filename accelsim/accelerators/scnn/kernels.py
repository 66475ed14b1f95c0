"""numba datapaths of SCNN's PE and of the dense baseline (pure functions over arrays).

:func:`cartesian_group` is SCNN's PE (Parashar et al., ISCA 2017, §IV, Fig. 6), cycle by cycle,
for every PE of the array over one output-channel group (the ``K/Kc`` loop of §III-B):

* per (virtual) input channel, the PE's compressed activations are cut into vectors of I entries
  (held stationary, IS) and the group's compressed weights into vectors of F entries; the weight
  stream goes through the weight FIFO in chunks of ``chunk`` entries, and every activation vector
  meets every weight vector of the chunk (loop order ``C -> chunk -> act vector -> weight vector``,
  §III-B: ``K/Kc -> C -> W -> H -> Kc -> R -> S``);
* one vector pair is one issue cycle: all F x I products are formed (the Cartesian product), each
  product's output coordinate is computed from the operands' coordinates, products falling off the
  output (padding edges, off the stride grid, outside this band's output rows) are *wasted* (formed,
  then dropped before the crossbar), the others go through the F·I x A crossbar to bank
  ``bank_of(k, y, x)`` of the PE's accumulator window;
* a bank accumulates one product per cycle and queues at most ``queue`` products; when a bank
  cannot take a pair's products the array stalls until it can (§IV, bank contention); with
  ``queue = 1`` a cycle whose busiest bank got ``m`` products lasts ``m`` cycles;
* the product is added to the accumulator entry (the functional result, float32), and the entry is
  marked touched (halo entries that must be sent to a neighbour at the group's end).

Operand coordinates come pre-divided by the stride with their stride phase (see ``streams.py``),
so the per-product work is a phase compare, two subtractions, a range check, the accumulate and
the bank bookkeeping -- no integer division.

Bank mapping (the paper is silent): entry (k, y, x) of the window, relative to the window origin,
goes to bank ``(x mod 4 + 4·(y mod 2) + 8·k) mod A`` (bit fields; A a power of two); for A = 32
this interleaves a 4x2 patch of outputs and 4 consecutive output channels over distinct banks.
Sparse operands make a cycle's output coordinates nearly random, so with a bare one-product bank
(``queue = 1``) almost every full cycle conflicts (2.39 cycles per vector pair for 16 uniformly
random products over 32 banks); each bank therefore has a small input queue, sized by the rule
"smallest queue whose uniform-random full-load penalty is under 5%" (queue 4: 1.05 cycles per
pair; queue 2: 1.55; queue 3: 1.17) -- a provisioning choice of ours, the paper gives no queue.

:func:`dense_group` is the dense baseline's datapath (DCNN, a dot product over input channels with
every operand delivered): functionally the same scatter of products into the output, zero
activations skipped arithmetically (the result is identical), with the counts the energy model
needs; its timing is closed-form (see ``dcnn.py``). :func:`scatter_group` adds the PE windows into the layer output (the
halo exchange) and counts halo and owned entries.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# counters returned by cartesian_group, one row per PE
CYCLES, VEC_PAIRS, SLOTS, ROUTED, EFFECTUAL, CONFLICT, FIFO_READS, IARAM_READS = range(8)
N_COUNTERS = 8

# geometry vector of cartesian_group
(G_F, G_I, G_A, G_STRIDE, G_PAD, G_P_LO, G_P_HI, G_Q_LO, G_Q_HI, G_CHUNK, G_QUEUE, G_PHASES, G_WH, G_WW) = range(14)
N_GEOM = 14

# counters returned by dense_group, one row per PE
D_SLOTS, D_VALID, D_EFFECTUAL, D_ZERO_SLOTS, D_ZERO_VALID, D_ZERO_QUAD_VALID = range(6)
N_DENSE_COUNTERS = 6


@njit(cache=True, parallel=True)
def cartesian_group(w_val, w_crd, w_ptr, a_val, a_crd, a_ptr, win, geom, acc, touched):
    """Run one output-channel group on every PE; returns int64[npe, N_COUNTERS].

    Parameters
    ----------
    w_val, w_crd, w_ptr
        The group's weight entries by virtual channel: channel v owns entries ``w_ptr[v]:w_ptr[v+1]``
        in stream order; ``w_val`` float32[E]; ``w_crd`` int32[E, 4] = (k within the group,
        r // stride, s // stride, stride phase (r % stride)·stride + s % stride).
    a_val, a_crd, a_ptr
        All PEs' activation entries; PE p's channel v owns ``a_ptr[p, v]:a_ptr[p, v+1]``;
        ``a_crd`` int32[E', 3] = ((y + pad) // stride, (x + pad) // stride, phase of (y + pad,
        x + pad)). A product is on the output grid iff the phases match, and then its output is
        the difference of the divided coordinates (no division per product).
    win
        int64[npe, 2]: each PE's accumulator window origin (output row, output column).
    geom
        int64[N_GEOM]: F, I, A (a power of two), stride, padding, valid output rows [p_lo, p_hi),
        valid output columns [q_lo, q_hi), FIFO chunk (entries, a multiple of F), bank queue
        capacity (0: no bank timing), phase split (used by :func:`dense_group` only), window height and width.
    acc, touched
        float32 / uint8 [npe, kc·wh·ww]: the PEs' accumulator windows (k, y, x row-major), zeroed.

    Bank timing: bank b accumulates one product per cycle and holds at most ``queue`` products
    (the one it adds this cycle included). A vector pair issues in one cycle if every bank can take
    its products; otherwise the array stalls until they can (SCNN §IV: bank contention stalls the
    array). A product reaching bank b at cycle ``now`` is added at ``max(busy_until[b], now)``, so a
    pair whose busiest bank gets m products with a backlog of o takes ``1 + max(0, m + o - queue)``
    cycles; ``queue = 1`` is pure serialisation (m cycles). At the group's end the PE waits for its
    banks to empty. Stall cycles are counted in ``CONFLICT``. ``queue = 0`` turns bank timing off
    (every pair takes one cycle).
    """
    npe = a_ptr.shape[0]
    nvc = w_ptr.shape[0] - 1
    f_len, i_len, banks = geom[G_F], geom[G_I], geom[G_A]
    p_lo, p_hi, q_lo, q_hi = geom[G_P_LO], geom[G_P_HI], geom[G_Q_LO], geom[G_Q_HI]
    chunk, queue = geom[G_CHUNK], geom[G_QUEUE]
    wh, ww = geom[G_WH], geom[G_WW]
    mask = banks - 1
    w_k, w_vr, w_vs, w_ph = w_crd[:, 0], w_crd[:, 1], w_crd[:, 2], w_crd[:, 3]
    out = np.zeros((npe, N_COUNTERS), dtype=np.int64)
    for p in prange(npe):
        oy0, ox0 = win[p, 0], win[p, 1]
        busy_until = np.zeros(banks, dtype=np.int64)
        now = 0
        pairs = slots = routed = effectual = conflict = fifo_reads = iaram_reads = 0
        for v in range(nvc):
            a0, a1 = a_ptr[p, v], a_ptr[p, v + 1]
            w0, w1 = w_ptr[v], w_ptr[v + 1]
            if a1 == a0 or w1 == w0:
                continue
            for c0 in range(w0, w1, chunk):
                c1 = min(c0 + chunk, w1)
                for i0 in range(a0, a1, i_len):
                    i1 = min(i0 + i_len, a1)
                    iaram_reads += i1 - i0
                    for f0 in range(c0, c1, f_len):
                        f1 = min(f0 + f_len, c1)
                        fifo_reads += f1 - f0
                        pairs += 1
                        slots += (i1 - i0) * (f1 - f0)
                        extra = 0
                        limit = now + queue
                        for ii in range(i0, i1):
                            ay, ax, aph = a_crd[ii, 0], a_crd[ii, 1], a_crd[ii, 2]
                            av = a_val[ii]
                            for ff in range(f0, f1):
                                if w_ph[ff] != aph:
                                    continue  # off the stride grid: wasted
                                oy = ay - w_vr[ff]
                                ox = ax - w_vs[ff]
                                if oy < p_lo or oy >= p_hi or ox < q_lo or ox >= q_hi:
                                    continue  # off the output (padding edges): wasted
                                k = w_k[ff]
                                ly = oy - oy0
                                lx = ox - ox0
                                wv = w_val[ff]
                                idx = (k * wh + ly) * ww + lx
                                acc[p, idx] += av * wv
                                touched[p, idx] = 1
                                routed += 1
                                effectual += (av != 0) & (wv != 0)
                                if queue == 0:
                                    continue
                                b = ((lx & 3) | ((ly & 1) << 2) | (k << 3)) & mask
                                t_b = max(busy_until[b], now) + 1
                                busy_until[b] = t_b
                                if t_b - limit > extra:
                                    extra = t_b - limit
                        now += 1 + extra
                        conflict += extra
        tail = 0
        if queue > 0:
            for b in range(banks):
                tail = max(tail, busy_until[b] - now)
        out[p, CYCLES] = now + tail
        out[p, VEC_PAIRS] = pairs
        out[p, SLOTS] = slots
        out[p, ROUTED] = routed
        out[p, EFFECTUAL] = effectual
        out[p, CONFLICT] = conflict + tail
        out[p, FIFO_READS] = fifo_reads
        out[p, IARAM_READS] = iaram_reads
    return out


@njit(cache=True)
def scatter_group(acc, touched, win, own, band_rows, dims, out, k0):
    """Add every PE window into ``out`` (float32[K, P, Q]) at channel offset ``k0``.

    ``acc``/``touched`` are [npe, kc·wh·ww] with ``dims = (kc, wh, ww)``. This is the halo
    exchange: an entry outside the PE's owned region ``own[p] = (oy_lo, oy_hi, ox_lo, ox_hi)``
    that received a product is a partial sum sent to its owner -- a neighbour PE, or, for rows
    outside the band's own output rows ``band_rows`` (lo, hi), the next temporal band (a spill
    through DRAM). Returns int64[npe, 3]: halo entries sent to neighbours, owned entries
    (kc x owned area) drained by the PPU, and entries spilled to the next band.
    """
    npe = acc.shape[0]
    kc, wh, ww = dims[0], dims[1], dims[2]
    res = np.zeros((npe, 3), dtype=np.int64)
    big_p, big_q = out.shape[1], out.shape[2]
    b_lo, b_hi = band_rows[0], band_rows[1]
    for p in range(npe):
        oy0, ox0 = win[p, 0], win[p, 1]
        y_lo, y_hi, x_lo, x_hi = own[p, 0], own[p, 1], own[p, 2], own[p, 3]
        res[p, 1] = kc * max(0, y_hi - y_lo) * max(0, x_hi - x_lo)
        halo = 0
        spill = 0
        for k in range(kc):
            for ly in range(wh):
                oy = oy0 + ly
                if oy < 0 or oy >= big_p:
                    continue
                for lx in range(ww):
                    idx = (k * wh + ly) * ww + lx
                    if touched[p, idx] == 0:
                        continue
                    ox = ox0 + lx
                    if ox < 0 or ox >= big_q:
                        continue
                    out[k0 + k, oy, ox] += acc[p, idx]
                    if oy < b_lo or oy >= b_hi:
                        spill += 1
                    elif not (y_lo <= oy < y_hi and x_lo <= ox < x_hi):
                        halo += 1
        res[p, 0] = halo
        res[p, 2] = spill
    return res


@njit(cache=True)
def dense_group(x, w, nzw, tiles, geom, out, k0):
    """Dense baseline over one output-channel group on every PE; returns int64[npe, N_DENSE_COUNTERS].

    ``x`` float32[C, H, W] is the image's input for this conv group; ``w`` float32[C, R, S, kc] the
    group's weights (output channel innermost); ``nzw`` int64[C, R, S] the non-zero weights of each
    (c, r, s) slice; ``tiles`` int64[npe, 4] the PEs' input tiles (y0, y1, x0, x1); ``geom`` as in
    :func:`cartesian_group` (I is the dot-product depth; F, A, chunk and queue unused); ``out``
    float32[P, Q, K] (channel innermost, so the inner loop is contiguous). Every (activation,
    kernel tap) pair is ``kc`` product slots (with the phase split, only taps on the activation's
    stride phase); a slot whose output falls off the valid range is wasted. A group of I input
    channels at one position whose activations are all zero is a *zero quad*: the gating of
    DCNN-opt then also skips the lanes' accumulator updates.
    """
    npe = tiles.shape[0]
    cin, big_r, big_s, kc = w.shape
    i_len = geom[G_I]
    stride, pad = geom[G_STRIDE], geom[G_PAD]
    p_lo, p_hi, q_lo, q_hi = geom[G_P_LO], geom[G_P_HI], geom[G_Q_LO], geom[G_Q_HI]
    phases = geom[G_PHASES]
    res = np.zeros((npe, N_DENSE_COUNTERS), dtype=np.int64)
    for p in range(npe):
        y0, y1, x0, x1 = tiles[p, 0], tiles[p, 1], tiles[p, 2], tiles[p, 3]
        slots = valid = effectual = zero_slots = zero_valid = zero_quad_valid = 0
        for y in range(y0, y1):
            for xx in range(x0, x1):
                n_rs = 0
                n_valid = 0
                for r in range(big_r):
                    ny = y + pad - r
                    if phases and ny % stride != 0:
                        continue
                    for s in range(big_s):
                        nx = xx + pad - s
                        if phases and nx % stride != 0:
                            continue
                        n_rs += 1
                        if ny < 0 or nx < 0 or ny % stride != 0 or nx % stride != 0:
                            continue
                        oy = ny // stride
                        ox = nx // stride
                        if oy < p_lo or oy >= p_hi or ox < q_lo or ox >= q_hi:
                            continue
                        n_valid += 1
                slots += n_rs * kc * cin
                valid += n_valid * kc * cin
                if n_valid == 0:
                    for c in range(cin):
                        if x[c, y, xx] == 0:
                            zero_slots += n_rs * kc
                    continue
                for q0 in range(0, cin, i_len):
                    all_zero = True
                    for c in range(q0, min(q0 + i_len, cin)):
                        a = x[c, y, xx]
                        if a == 0:
                            zero_slots += n_rs * kc
                            zero_valid += n_valid * kc
                            continue
                        all_zero = False
                        for r in range(big_r):
                            ny = y + pad - r
                            if ny < 0 or ny % stride != 0:
                                continue
                            oy = ny // stride
                            if oy < p_lo or oy >= p_hi:
                                continue
                            for s in range(big_s):
                                nx = xx + pad - s
                                if nx < 0 or nx % stride != 0:
                                    continue
                                ox = nx // stride
                                if ox < q_lo or ox >= q_hi:
                                    continue
                                effectual += nzw[c, r, s]
                                for k in range(kc):
                                    out[oy, ox, k0 + k] += a * w[c, r, s, k]
                    if all_zero:
                        zero_quad_valid += n_valid * kc
        res[p, D_SLOTS] = slots
        res[p, D_VALID] = valid
        res[p, D_EFFECTUAL] = effectual
        res[p, D_ZERO_SLOTS] = zero_slots
        res[p, D_ZERO_VALID] = zero_valid
        res[p, D_ZERO_QUAD_VALID] = zero_quad_valid
    return res
