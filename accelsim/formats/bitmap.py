"""Bitmap sparse encoding: one presence bit per position plus the non-zero values in row-major order.

SIGMA (Qin et al., HPCA 2020, §IV-D) stores both GEMM operands this way: the bitmap lives in its
own SRAM (4 MB in the evaluated instance) and the values in the data SRAM. The controller reads
the bitmaps to decide which stationary values to load and where each streamed value goes.
A bitmap costs ``rows x cols`` bits whatever the density, so it beats index formats at moderate
sparsity and loses to them when the matrix is very sparse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BitmapMatrix:
    """A 2-D matrix as a presence bitmap and its non-zero values (row-major order)."""

    bitmap: np.ndarray   # bool[rows, cols]: True where the matrix is non-zero
    values: np.ndarray   # float32[nnz]: the non-zeros, row by row, left to right

    @property
    def shape(self) -> tuple[int, int]:
        return self.bitmap.shape  # type: ignore[return-value]

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    def storage_bits(self, value_bits: int) -> dict[str, int]:
        """Bits of storage: the bitmap (one bit per position) and the values."""
        return {"bitmap": int(self.bitmap.size), "values": self.nnz * value_bits}

    def row_or(self) -> np.ndarray:
        """bool[rows]: which rows hold at least one non-zero (SIGMA's OR of a streaming bitmap, §IV-D)."""
        return self.bitmap.any(axis=1)

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.float32)
        out[self.bitmap] = self.values
        return out


def encode_bitmap(matrix: np.ndarray) -> BitmapMatrix:
    """Encode a 2-D matrix; explicit zeros are not stored (their bit is 0)."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"encode_bitmap needs a 2-D matrix, got shape {matrix.shape}")
    bitmap = matrix != 0
    return BitmapMatrix(bitmap=bitmap, values=np.ascontiguousarray(matrix[bitmap], dtype=np.float32))
