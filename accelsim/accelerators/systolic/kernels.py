"""numba datapath of the systolic array: the layer's products in the order the array forms them.

Every PE multiplies one operand pair per cycle and adds it to a float32 partial sum. Across a
fold's ``k_block`` reduction steps the sum stays inside the array (in the PE for OS, rippling
down a column for WS/IS); across folds of the reduction the partial sums are added in the
output buffer. ``index[k, j]`` gives the ifmap column of the k-th stored weight of filter j,
so the same kernel runs dense (index = k) and N:M-compacted weights.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def folded_gemm(a: np.ndarray, b_t: np.ndarray, index_t: np.ndarray, k_block: int) -> np.ndarray:
    """out[i, j] = sum_k a[i, index_t[j, k]] * b_t[j, k], summed per k_block then across blocks.

    ``a`` is Sr x T (float32), ``b_t``/``index_t`` are Sc x T' (filters as rows), ``k_block`` is
    the reduction length held in the array at once (T' for OS, the array's rows for WS/IS).
    """
    sr = a.shape[0]
    sc, t = b_t.shape
    out = np.zeros((sr, sc), dtype=np.float32)
    for k0 in range(0, t, k_block):
        k1 = min(k0 + k_block, t)
        for i in range(sr):
            for j in range(sc):
                acc = np.float32(0.0)
                for k in range(k0, k1):
                    acc += a[i, index_t[j, k]] * b_t[j, k]
                out[i, j] += acc
    return out
