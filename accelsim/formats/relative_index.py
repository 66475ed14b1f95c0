"""Zero-run (relative index) encoding with padding entries, column by column (CSC).

Each non-zero is stored with the number of zeros before it (its *run*) in ``run_bits`` bits.
A run longer than ``2**run_bits - 1`` is split by *padding entries*: an explicit zero whose run
is the maximum, each covering ``2**run_bits`` positions (the zeros it skips plus itself).
EIE (Han et al., ISCA 2016, §III-A, Fig. 3) and SCNN (Parashar et al., ISCA 2017, §IV) both use
4-bit runs. EIE's worked example: column [0,0,1,2,0 x 18,3] -> v = [1,2,0,3], x = [2,0,15,2].
Trailing zeros of a column need no entry (the column pointer ends it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RelativeIndexCSC:
    """A matrix in zero-run CSC: per column, entries of (value, run); ``padding`` marks fillers."""

    values: np.ndarray      # float32[E]: the stored value (0 for padding entries)
    runs: np.ndarray        # uint8[E]: zeros skipped before the entry
    padding: np.ndarray     # bool[E]: True for padding entries
    col_ptr: np.ndarray     # int64[cols + 1]: entries of column j are col_ptr[j]:col_ptr[j+1]
    row_index: np.ndarray   # int64[E]: the row each entry lands on (derived, for datapaths)
    n_rows: int
    run_bits: int = 4

    @property
    def entries(self) -> int:
        return int(self.values.size)

    @property
    def padding_entries(self) -> int:
        return int(self.padding.sum())

    def storage_bits(self, value_bits: int, pointer_bits: int = 16) -> dict[str, int]:
        """Bits of storage: entries (value + run), of which padding, and column pointers."""
        per_entry = value_bits + self.run_bits
        return {"entries": self.entries * per_entry, "padding": self.padding_entries * per_entry,
                "pointers": int(self.col_ptr.size) * pointer_bits}

    def to_dense(self) -> np.ndarray:
        out = np.zeros((self.n_rows, self.col_ptr.size - 1), dtype=np.float32)
        cols = np.repeat(np.arange(self.col_ptr.size - 1), np.diff(self.col_ptr))
        keep = ~self.padding
        out[self.row_index[keep], cols[keep]] = self.values[keep]
        return out


def encode_csc(matrix: np.ndarray, run_bits: int = 4) -> RelativeIndexCSC:
    """Encode a 2-D matrix column by column (rows are the run dimension)."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"encode_csc needs a 2-D matrix, got shape {matrix.shape}")
    if not 0 <= run_bits <= 8:  # runs are stored as uint8
        raise ValueError(f"run_bits must be in 0..8, got {run_bits}")
    n_rows, n_cols = matrix.shape
    cols, rows = np.nonzero(matrix.T)  # column-major order of non-zeros
    return encode_columns(rows, cols, matrix[rows, cols], n_rows, n_cols, run_bits)


def encode_columns(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int, n_cols: int,
                   run_bits: int = 4) -> RelativeIndexCSC:
    """Encode non-zeros given as coordinates, sorted by column and then by row within a column.

    The sparse entry point of :func:`encode_csc`, for callers that already hold the non-zeros of a
    large matrix (EIE's per-PE slices) and should not build a dense rearranged copy.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    span = 1 << run_bits  # positions one padding entry covers
    vals = np.asarray(values).astype(np.float32)
    prev = np.empty_like(rows)
    prev[:] = -1
    same_col = np.zeros(rows.size, dtype=bool)
    same_col[1:] = cols[1:] == cols[:-1]
    prev[1:][same_col[1:]] = rows[:-1][same_col[1:]]
    gap = rows - prev - 1
    pads = gap >> run_bits  # gap >= 0: the same as gap // span, faster
    # entry layout: for each non-zero, `pads` padding entries then the non-zero itself
    per_nz = pads + 1
    total = int(per_nz.sum())
    end = np.cumsum(per_nz)
    values = np.zeros(total, dtype=np.float32)
    runs = np.full(total, span - 1, dtype=np.uint8)
    padding = np.ones(total, dtype=bool)
    values[end - 1] = vals
    runs[end - 1] = (gap & (span - 1)).astype(np.uint8)
    padding[end - 1] = False
    # the row each entry lands on: padding entry p of a non-zero sits at prev + (p+1) * span
    row_index = np.empty(total, dtype=np.int64)
    row_index[end - 1] = rows
    if total > rows.size:
        owner = np.repeat(np.arange(rows.size), pads)  # the non-zero each padding entry precedes
        pad_start = np.cumsum(pads) - pads
        nth = np.arange(total - rows.size) - pad_start[owner]
        row_index[padding] = prev[owner] + (nth + 1) * span
    col_ptr = np.zeros(n_cols + 1, dtype=np.int64)
    col_ptr[1:] = np.cumsum(np.bincount(cols, weights=per_nz, minlength=n_cols)).astype(np.int64)
    return RelativeIndexCSC(values, runs, padding, col_ptr, row_index, n_rows, run_bits)


def encode_vector(vector: np.ndarray, run_bits: int = 4) -> RelativeIndexCSC:
    """Encode one vector (a single column)."""
    return encode_csc(np.asarray(vector).reshape(-1, 1), run_bits)
