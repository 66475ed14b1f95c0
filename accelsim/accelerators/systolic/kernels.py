"""numba datapath of the systolic array: the layer's products in the order the array forms them.

Every PE multiplies one operand pair per cycle and adds it to a float32 partial sum. Across a
fold's ``k_block`` reduction steps the sum stays inside the array (in the PE for OS, rippling
down a column for WS/IS); across folds of the reduction the partial sums are added in the
output buffer. ``index[k, j]`` gives the ifmap column of the k-th stored weight of filter j,
so the same kernel runs N:M-compacted weights; an empty (0 x 0) index means dense (index = k).

Speed without changing the arithmetic: each output's partial sum is still formed one product
at a time in reduction order (float32 multiply, then float32 add; no FMA, no reassociation), so
the result is bit-identical to the plain triple loop. Only the loop nest differs: outputs are
taken 16 at a time (16 independent accumulators kept in registers, one per output pixel, all
fed by the same weight), with the ifmap packed so those 16 operands sit next to each other.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Outputs one call of :func:`_filter_x16` keeps in registers (the micro-kernel is written out for 16).
LANES = 16


@njit(cache=True)
def _filter_x16(ach: np.ndarray, b_t: np.ndarray, index_t: np.ndarray, och: np.ndarray,
                k0: int, k1: int, j: int) -> None:
    """``och[j, l] += sum_{k0 <= k < k1} ach[index_t[j, k], l] * b_t[j, k]`` for the 16 lanes l.

    ``ach`` is T x 16 (ifmap columns of 16 output rows, lanes contiguous), ``och`` is Sc x 16.
    Each lane's sum is formed in k order in its own float32 accumulator.
    """
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = np.float32(0.0)
    s8 = s9 = s10 = s11 = s12 = s13 = s14 = s15 = np.float32(0.0)
    for k in range(k0, k1):
        w = b_t[j, k]
        r = index_t[j, k] if index_t.shape[0] else k
        s0 += ach[r, 0] * w
        s1 += ach[r, 1] * w
        s2 += ach[r, 2] * w
        s3 += ach[r, 3] * w
        s4 += ach[r, 4] * w
        s5 += ach[r, 5] * w
        s6 += ach[r, 6] * w
        s7 += ach[r, 7] * w
        s8 += ach[r, 8] * w
        s9 += ach[r, 9] * w
        s10 += ach[r, 10] * w
        s11 += ach[r, 11] * w
        s12 += ach[r, 12] * w
        s13 += ach[r, 13] * w
        s14 += ach[r, 14] * w
        s15 += ach[r, 15] * w
    och[j, 0] += s0
    och[j, 1] += s1
    och[j, 2] += s2
    och[j, 3] += s3
    och[j, 4] += s4
    och[j, 5] += s5
    och[j, 6] += s6
    och[j, 7] += s7
    och[j, 8] += s8
    och[j, 9] += s9
    och[j, 10] += s10
    och[j, 11] += s11
    och[j, 12] += s12
    och[j, 13] += s13
    och[j, 14] += s14
    och[j, 15] += s15


@njit(cache=True)
def folded_gemm(a: np.ndarray, b_t: np.ndarray, index_t: np.ndarray, k_block: int) -> np.ndarray:
    """out[i, j] = sum_k a[i, index_t[j, k]] * b_t[j, k], summed per k_block then across blocks.

    ``a`` is Sr x T (float32, C-contiguous), ``b_t``/``index_t`` are Sc x T' (filters as rows),
    ``k_block`` is the reduction length held in the array at once (T' for OS, the array's rows
    for WS/IS). Within a block each output's products are added one by one in k order to a
    float32 partial sum starting at 0; the block's sum is then added to the output (which
    starts at 0), blocks in order.
    """
    sr = a.shape[0]
    sc, t = b_t.shape
    groups = sr // LANES
    i_main = groups * LANES
    # a_pack[g, c, l] = a[g*16 + l, c]: the 16 outputs of a group read adjacent words per ifmap column
    a_pack = np.ascontiguousarray(a[:i_main].reshape(groups, LANES, a.shape[1]).transpose(0, 2, 1))
    o_pack = np.zeros((groups, sc, LANES), dtype=np.float32)
    out = np.zeros((sr, sc), dtype=np.float32)
    for k0 in range(0, t, k_block):
        k1 = min(k0 + k_block, t)
        for g in range(groups):
            ach = a_pack[g]
            och = o_pack[g]
            for j in range(sc):
                _filter_x16(ach, b_t, index_t, och, k0, k1, j)
        for i in range(i_main, sr):  # the last sr % 16 outputs, one at a time
            for j in range(sc):
                acc = np.float32(0.0)
                for k in range(k0, k1):
                    acc += a[i, index_t[j, k] if index_t.shape[0] else k] * b_t[j, k]
                out[i, j] += acc
    for g in range(groups):
        for j in range(sc):
            for lane in range(LANES):
                out[g * LANES + lane, j] = o_pack[g, j, lane]
    return out
