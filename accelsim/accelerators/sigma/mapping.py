"""numba mapping of a stationary operand onto SIGMA's multipliers, fold by fold, and the fold loop.

The stationary operand ``S`` (R x K: one row per output row, a VN per row) arrives compressed:
k-major (CSC: per k, its rows) for ``kmajor`` packing, row-major (CSR) for ``rows`` packing. Only
the *mapped* non-zeros are in it (SIGMA's AND with the OR of the streaming bitmap is applied
before). A fold is a contiguous run of those non-zeros in that order; inside a fold the
multipliers hold them VN by VN (row r ascending), k ascending within a VN.

``kmajor`` (ours; the paper says only that non-zeros are packed and that rows larger than the array
fold, §IV-D): the fold takes the next ``multipliers`` non-zeros in k-major order, so folds cut the
reduction dimension and every output's partial sums meet in the accumulation SRAM; the streamed
operand then crosses the array once in total (each fold streams only its own k-range). With
``align``, a fold whose non-zeros span more than ``words_per_cycle`` distinct k is cut back to a
multiple of ``words_per_cycle`` distinct k, ending on a column boundary (no k is then streamed by two
folds), so no streaming cycle but the layer's last ones goes out part-empty.

``rows`` (STONNE's SparseSDMemory controller): whole rows, greedily, while their non-zeros fit; a
row larger than the array is cut into chunks of ``multipliers`` (STONNE keeps one multiplier of
each later chunk for the incoming partial sum; we accumulate in the SRAM instead).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from accelsim.accelerators.sigma.kernels import (
    FOLD_ADDERS,
    FOLD_BENES,
    FOLD_BLOCKS,
    FOLD_FORWARDS,
    FOLD_LAST_LEVELS,
    FOLD_SEGMENTS,
    FOLD_WORDS,
    fold_pass,
)

#: columns of the per-fold array returned by :func:`run_folds`
(F_MAPPED, F_BLOCKS, F_PIECES, F_ADDERS, F_FORWARDS, F_BENES, F_WORDS, F_LAST_LEVELS,
 F_STREAM_CYCLES) = range(9)
N_FOLD_FIELDS = 9


@njit(cache=True)
def plan_kmajor_folds(col_ptr: np.ndarray, multipliers: int, words_per_cycle: int, align: bool) -> np.ndarray:
    """Element bounds (int64[F + 1]) of the folds over a k-major (CSC) stationary operand."""
    nnz = col_ptr[-1]
    k_dim = col_ptr.size - 1
    rank = np.full(k_dim, -1, dtype=np.int64)  # index of k among the non-empty columns
    nonempty = np.empty(k_dim, dtype=np.int64)
    m = 0
    for k in range(k_dim):
        if col_ptr[k + 1] > col_ptr[k]:
            rank[k] = m
            nonempty[m] = k
            m += 1
    bounds = [0]
    pos = 0
    while pos < nnz:
        end = min(pos + multipliers, nnz)
        if align and end < nnz:
            k_first = np.searchsorted(col_ptr, pos, side="right") - 1
            k_last = np.searchsorted(col_ptr, end - 1, side="right") - 1
            distinct = rank[k_last] - rank[k_first] + 1
            if distinct > words_per_cycle:
                # the k whose non-zeros all fit (a partly consumed first column counts; a cut last one does not)
                complete = distinct if end == col_ptr[k_last + 1] else distinct - 1
                keep = (complete // words_per_cycle) * words_per_cycle
                end = col_ptr[nonempty[rank[k_first] + keep]] if keep < distinct else end
        bounds.append(end)
        pos = end
    return np.array(bounds, dtype=np.int64)


@njit(cache=True)
def plan_row_folds(row_ptr: np.ndarray, multipliers: int) -> np.ndarray:
    """Element bounds (int64[F + 1]) of the folds over a row-major (CSR) stationary operand (whole rows)."""
    rows = row_ptr.size - 1
    bounds = [0]
    r = 0
    while r < rows:
        size = row_ptr[r + 1] - row_ptr[r]
        if size == 0:
            r += 1
            continue
        if size > multipliers:  # a row larger than the array: its own folds
            pos = row_ptr[r]
            while pos < row_ptr[r + 1]:
                pos = min(pos + multipliers, row_ptr[r + 1])
                bounds.append(pos)
            r += 1
            continue
        total = 0
        while r < rows and total + row_ptr[r + 1] - row_ptr[r] <= multipliers:
            total += row_ptr[r + 1] - row_ptr[r]
            r += 1
        bounds.append(row_ptr[r])
    return np.array(bounds, dtype=np.int64)


@njit(cache=True)
def kmajor_fold_leaves(col_ptr: np.ndarray, row_idx: np.ndarray, values: np.ndarray, start: int, end: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, k, row, word) per multiplier of the fold holding CSC elements [start, end), VN by VN."""
    n = end - start
    rows = np.empty(n, dtype=np.int64)
    ks = np.empty(n, dtype=np.int64)
    words = np.empty(n, dtype=np.int64)
    k = np.searchsorted(col_ptr, start, side="right") - 1
    word = -1
    last_k = -1
    for i in range(n):
        e = start + i
        while col_ptr[k + 1] <= e:
            k += 1
        if k != last_k:
            word += 1
            last_k = k
        rows[i] = row_idx[e]
        ks[i] = k
        words[i] = word
    order = np.argsort(rows * (word + 1) + words)  # (row, k): unique keys
    return values[start:end][order], ks[order], rows[order], words[order]


@njit(cache=True)
def rowmajor_fold_leaves(row_ptr: np.ndarray, col_idx: np.ndarray, values: np.ndarray, start: int, end: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, k, row, word) per multiplier of the fold holding CSR elements [start, end) (already VN by VN)."""
    n = end - start
    rows = np.empty(n, dtype=np.int64)
    r = np.searchsorted(row_ptr, start, side="right") - 1
    for i in range(n):
        while row_ptr[r + 1] <= start + i:
            r += 1
        rows[i] = r
    ks = col_idx[start:end].astype(np.int64)
    words = np.searchsorted(np.unique(ks), ks).astype(np.int64)
    return values[start:end].copy(), ks, rows, words


@njit(cache=True)
def run_folds(ptr: np.ndarray, idx: np.ndarray, values: np.ndarray, bounds: np.ndarray, kmajor: bool,
              words_per_cycle: int, reduction_words_per_cycle: int, dpe_size: int,
              stream_t: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Run every fold through :func:`~.kernels.fold_pass`; return int64[F, N_FOLD_FIELDS] (per streamed column).

    ``F_STREAM_CYCLES`` is the cycles one streamed column takes in the fold: one per block, or
    ``ceil(sums leaving / reduction_words_per_cycle)`` if that is more (0 = no reduction limit).
    """
    n_folds = bounds.size - 1
    stats = np.zeros((n_folds, N_FOLD_FIELDS), dtype=np.int64)
    for f in range(n_folds):
        if kmajor:
            val, ks, rows, words = kmajor_fold_leaves(ptr, idx, values, bounds[f], bounds[f + 1])
        else:
            val, ks, rows, words = rowmajor_fold_leaves(ptr, idx, values, bounds[f], bounds[f + 1])
        structure, per_block = fold_pass(val, ks, rows, words, words_per_cycle, dpe_size, stream_t, out)
        stats[f, F_MAPPED] = val.size
        stats[f, F_BLOCKS] = structure[FOLD_BLOCKS]
        stats[f, F_PIECES] = structure[FOLD_SEGMENTS]
        stats[f, F_ADDERS] = structure[FOLD_ADDERS]
        stats[f, F_FORWARDS] = structure[FOLD_FORWARDS]
        stats[f, F_BENES] = structure[FOLD_BENES]
        stats[f, F_WORDS] = structure[FOLD_WORDS]
        stats[f, F_LAST_LEVELS] = structure[FOLD_LAST_LEVELS]
        cycles = 0
        for j in range(per_block.size):
            c = 1
            if reduction_words_per_cycle > 0:
                c = max(1, (per_block[j] + reduction_words_per_cycle - 1) // reduction_words_per_cycle)
            cycles += c
        stats[f, F_STREAM_CYCLES] = cycles
    return stats
