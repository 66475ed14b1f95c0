"""Column combining (Kung, McDanel & Zhang, ASPLOS 2019, arXiv 1811.04770): grouping and packing.

numpy + numba only (no torch), so a systolic-array model can use the packing directly; the
pruning driver that applies it to a torch model is :func:`accelsim.export.prune.column_combine`.

The filter matrix has one row per filter (output unit) and one column per input channel x kernel
position, i.e. the flattened ``(C/groups, R, S)`` reduction axis in ``(c, r, s)`` order, which is
the row order of the ``B`` operand of :func:`accelsim.trace.lowering.gemm_operands`.

Grouping (:func:`pack_columns`) follows the authors' ``packing.pack_matrix``:

- every column with a non-zero starts as its own group (all-zero columns are dropped);
- a pair of groups *qualifies* if its merged size is at most ``alpha`` and the merged group's
  conflicts, sum over rows of ``max(0, non-zeros of the row in the group - 1)``, are at most
  ``int(gamma * rows)`` (the authors' ``int(overlap_pct * B)``);
- each step takes the first group, in column order, that has a qualifying partner and merges it
  with the qualifying partner that leaves the fewest all-zero rows in the merged column (ties: the
  lowest-numbered partner); the merged group keeps the first group's place;
- it stops when no pair qualifies.

The reference summary (shared/reference/column_combining.md) words the choice as "the pair with
the fewest conflicts"; the authors' code instead admits every pair within the conflict budget and
prefers the densest merge, as above. Both give the survey's worked example (c1, c2 and c4 packed
into [1, 2, 2, 3, 4]); this module follows the code.

Column-combine pruning (:func:`combine_mask`): within a group, each row keeps only its
largest-magnitude weight (the authors' ``fix_mask``). After it every packed column has at most one
weight per row, so a weight-stationary cell holds one weight plus the index of its source column
(:func:`packed_matrix`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _popcount(x: np.uint64) -> int:
    """Set bits of a 64-bit word (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True)
def _greedy_pack(bits: np.ndarray, alpha: int, budget: int) -> np.ndarray:
    """Greedy grouping over row bitsets; returns, per column, the column whose group absorbed it.

    ``bits[i]`` is column i's set of non-zero rows (64 rows per word). For groups g and k,
    conflicts(g + k) = conflicts(g) + conflicts(k) + |rows(g) & rows(k)| and the merged column's
    non-empty rows are |rows(g) | rows(k)|, so no per-row counts are needed. Because merging only
    adds columns, a pair that does not qualify never will; so "the first group with a qualifying
    partner" is found by finishing the groups in column order, each absorbing later groups.
    """
    n, words = bits.shape
    bits = bits.copy()
    size = np.ones(n, dtype=np.int64)
    conflicts = np.zeros(n, dtype=np.int64)
    nonempty = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for w in range(words):
            nonempty[i] += _popcount(bits[i, w])
    alive = np.ones(n, dtype=np.bool_)
    owner = np.arange(n)
    for c1 in range(n):
        if not alive[c1]:
            continue
        while size[c1] < alpha:
            best = -1
            best_union = -1
            best_inter = 0
            for k in range(c1 + 1, n):
                if not alive[k] or size[c1] + size[k] > alpha:
                    continue
                inter = 0
                for w in range(words):
                    inter += _popcount(bits[c1, w] & bits[k, w])
                if conflicts[c1] + conflicts[k] + inter > budget:
                    continue
                union = nonempty[c1] + nonempty[k] - inter
                if union > best_union:  # fewest all-zero rows; ties keep the lowest index
                    best_union = union
                    best = k
                    best_inter = inter
            if best < 0:
                break
            for w in range(words):
                bits[c1, w] |= bits[best, w]
            conflicts[c1] += conflicts[best] + best_inter
            nonempty[c1] = best_union
            size[c1] += size[best]
            alive[best] = False
            for k in range(best, n):
                if owner[k] == best:
                    owner[k] = c1
    return owner


def _row_bitsets(pattern: np.ndarray) -> np.ndarray:
    """(columns, rows) bool -> (columns, ceil(rows/64)) uint64 bitsets."""
    n, rows = pattern.shape
    words = -(-rows // 64)
    padded = np.zeros((n, words * 64), dtype=bool)
    padded[:, :rows] = pattern
    packed = np.packbits(padded.reshape(n, words, 8, 8)[:, :, :, ::-1], axis=-1, bitorder="big")
    return np.ascontiguousarray(packed.reshape(n, words, 8)).view("<u8").reshape(n, words)


def filter_matrix(weight: np.ndarray) -> np.ndarray:
    """(rows = filters, columns = flattened reduction axis) view of a conv or linear weight."""
    return weight.reshape(weight.shape[0], -1)


def max_conflicts(rows: int, gamma: float) -> int:
    """Conflict budget of one group: ``int(gamma * rows)``, as the authors' code floors it."""
    return int(gamma * rows)


def pack_columns(matrix: np.ndarray, alpha: int, gamma: float) -> list[list[int]]:
    """Greedy column grouping of a (rows x columns) filter matrix; returns groups of column indices.

    Groups are listed in order of their first column; members are sorted. All-zero columns belong
    to no group.
    """
    if alpha < 1:
        raise ValueError(f"alpha must be at least 1, got {alpha}")
    if gamma < 0:
        raise ValueError(f"gamma must be non-negative, got {gamma}")
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D filter matrix, got shape {matrix.shape}")
    nonzero = matrix != 0
    cols = np.flatnonzero(nonzero.any(axis=0))
    if cols.size == 0:
        return []
    owner = _greedy_pack(_row_bitsets(nonzero[:, cols].T), int(alpha), max_conflicts(matrix.shape[0], gamma))
    groups: dict[int, list[int]] = {}
    for i, o in enumerate(owner):
        groups.setdefault(int(o), []).append(int(cols[i]))
    return [sorted(groups[k]) for k in sorted(groups)]


def group_conflicts(matrix: np.ndarray, groups: list[list[int]]) -> list[int]:
    """Conflicts of each group: sum over rows of max(0, non-zeros in the group's columns - 1)."""
    nonzero = np.asarray(matrix) != 0
    return [int(np.maximum(nonzero[:, g].sum(axis=1) - 1, 0).sum()) for g in groups]


def combine_mask(matrix: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Keep-mask after column-combine pruning: per (row, group) only the largest-|w| weight survives.

    Ties keep the lowest column index. Weights in no group (all-zero columns) are already zero.
    """
    matrix = np.asarray(matrix)
    mask = np.zeros(matrix.shape, dtype=bool)
    rows = np.arange(matrix.shape[0])
    for g in groups:
        sub = np.abs(matrix[:, g])
        pick = np.asarray(g)[np.argmax(sub, axis=1)]
        keep = sub.max(axis=1) > 0
        mask[rows[keep], pick[keep]] = True
    return mask


def packed_matrix(matrix: np.ndarray, groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The combined (rows x len(groups)) matrix and, per cell, its source column (-1: empty cell).

    Needs at most one non-zero per (row, group), i.e. a matrix already column-combine pruned.
    """
    matrix = np.asarray(matrix)
    values = np.zeros((matrix.shape[0], len(groups)), dtype=matrix.dtype)
    source = np.full((matrix.shape[0], len(groups)), -1, dtype=np.int64)
    for j, g in enumerate(groups):
        sub = matrix[:, g]
        nz = sub != 0
        if (nz.sum(axis=1) > 1).any():
            raise ValueError(f"group {j} still has conflicts; apply combine_mask first")
        rows, k = np.nonzero(nz)
        values[rows, j] = sub[rows, k]
        source[rows, j] = np.asarray(g)[k]
    return values, source
