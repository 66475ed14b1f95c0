"""EIE's weight format: a shared-weight codebook plus per-PE interleaved relative-index CSC slices.

Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network", ISCA 2016
(arXiv 1602.01528):

* §III-A / Fig. 2 (interleaving): with N PEs, PE k owns the output rows i with ``i mod N = k``
  and stores its rows of every column, so a broadcast activation a_j finds work in every PE.
* §III-A / Fig. 3 (encoding): each PE stores its slice column by column as entries of
  (4-bit codebook index v, 4-bit zero run x) plus a 16-bit pointer per column. A run longer than
  15 gets a padding entry (v = the zero code). The run/padding logic is
  :func:`accelsim.formats.relative_index.encode_columns`; this module only cuts the matrix into
  the slices EIE stores and reports their storage.
* §III-A (weight sharing): the weights are 4-bit indices into 16 shared weights. We reserve code 0
  for the value 0 (what padding entries index) and fit the other 15 to the layer's non-zero
  weights by 1-D k-means with linear initialisation (Han et al., Deep Compression, ICLR 2016,
  §3.2: linear initialisation works best) or by linear quantisation. Both are deterministic.
* §IV (activation register files): each PE holds 64 destination accumulators, so a layer with
  more than ``64 x N`` outputs runs in *output batches*; each batch's slice is encoded on its own
  (the relative index restarts at the batch's first row, which is what the hardware indexes).

Slice layout: the slices are the columns of one wide :class:`RelativeIndexCSC` of
``rows_per_batch`` rows, ordered (output batch, PE, input column), so slice
``s = (batch * n_pe + pe) * n_cols + j`` holds ``col_ptr[s]:col_ptr[s + 1]``. Inside a slice,
local row ``l`` of output batch ``b`` in PE ``k`` is output row ``(b * rows_per_batch + l) * n_pe + k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from accelsim.formats.relative_index import RelativeIndexCSC, encode_columns

QUANTIZATION_METHODS = ("kmeans", "linear")

#: k-means is run on a histogram of the non-zero weights with this many bins (exact Lloyd
#: iterations on the binned data; the final assignment uses the real values).
_KMEANS_BINS = 4096
_KMEANS_MAX_ITERS = 100


def build_codebook(values: np.ndarray, bits: int = 4, method: str = "kmeans") -> np.ndarray:
    """The ``2**bits`` shared weights for ``values`` (the layer's non-zero weights).

    Entry 0 is 0.0 (the code of padding entries); entries 1.. are sorted centroids.

    Parameters
    ----------
    values
        Non-zero weights of one layer (any shape, any float dtype).
    bits
        Codebook index width; EIE uses 4 (16 shared weights).
    method
        ``"kmeans"``: Lloyd's algorithm from a linear initialisation over [min, max];
        ``"linear"``: evenly spaced levels over [min, max].
    """
    if method not in QUANTIZATION_METHODS:
        raise ValueError(f"quantization {method!r}: expected one of {', '.join(QUANTIZATION_METHODS)}")
    if bits < 1:
        raise ValueError("codebook bits must be at least 1")
    n_levels = (1 << bits) - 1
    v = np.asarray(values).ravel()
    if v.dtype.kind != "f":
        v = v.astype(np.float64)
    book = np.zeros(n_levels + 1, dtype=np.float32)
    if v.size == 0:
        return book
    lo, hi = float(v.min()), float(v.max())
    centroids = np.linspace(lo, hi, n_levels)
    if method == "kmeans" and hi > lo:
        centroids = _kmeans_1d(v, centroids, lo, hi)
    book[1:] = np.sort(centroids).astype(np.float32)
    return book


def _kmeans_1d(v: np.ndarray, centroids: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Lloyd iterations on a fine histogram of ``v`` (deterministic; empty clusters stay put)."""
    counts, sums = _histogram(v, lo, hi, _KMEANS_BINS)
    keep = counts > 0
    counts, sums = counts[keep], sums[keep]
    centers = sums / counts  # the mean of each bin's weights
    assign = None
    for _ in range(_KMEANS_MAX_ITERS):
        bounds = (centroids[1:] + centroids[:-1]) / 2.0
        new_assign = np.searchsorted(bounds, centers)
        if assign is not None and np.array_equal(new_assign, assign):
            break
        assign = new_assign
        n = np.bincount(assign, weights=counts, minlength=centroids.size)
        s = np.bincount(assign, weights=sums, minlength=centroids.size)
        centroids = np.where(n > 0, s / np.maximum(n, 1), centroids)
        centroids = np.sort(centroids)
    return centroids


def quantize(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Codes (1..len(codebook)-1) of the nearest non-zero shared weight for each value."""
    levels = codebook[1:].astype(np.float64)
    bounds = (levels[1:] + levels[:-1]) / 2.0
    v = np.asarray(values).ravel()
    if v.dtype.kind != "f":
        v = v.astype(np.float64)
    return _nearest_level(v, bounds).reshape(np.shape(values))


@njit(cache=True)
def _nearest_level(values, bounds):  # pragma: no cover - compiled
    """1 + the number of midpoints below each value (what np.searchsorted(bounds, v) + 1 gives)."""
    out = np.empty(values.size, dtype=np.uint8)
    for i in range(values.size):
        x = values[i]
        below = 1
        for b in bounds:  # branch-free count (a codebook has at most 255 levels)
            below += b < x
        out[i] = below
    return out


@njit(cache=True)
def _histogram(values, lo, hi, n_bins):  # pragma: no cover - compiled
    """Counts and sums of ``values`` in ``n_bins`` equal bins over [lo, hi] (hi falls in the last bin)."""
    counts = np.zeros(n_bins, dtype=np.float64)
    sums = np.zeros(n_bins, dtype=np.float64)
    scale = n_bins / (hi - lo)
    for i in range(values.size):
        x = float(values[i])
        b = int((x - lo) * scale)
        if b >= n_bins:
            b = n_bins - 1
        counts[b] += 1.0
        sums[b] += x
    return counts, sums


@njit(cache=True)
def _gather_slices(weight, n_pe, rows_per_batch):  # pragma: no cover - compiled
    """Non-zeros of ``weight`` (K x C) in slice order: (local row, slice id, value, output row, column).

    A counting sort. One pass over the dense matrix collects each row's non-zero columns
    (branch-free compaction keeps the scan fast) and counts them per slice; the placing pass then
    reads only the non-zeros, PE by PE (so the writes stay inside one PE's block of slices) and in
    ascending row order within a PE, so local rows come out ascending within each slice.
    """
    k_rows, n_cols = weight.shape
    n_local = (k_rows + n_pe - 1) // n_pe
    n_batches = (n_local + rows_per_batch - 1) // rows_per_batch
    n_slices = n_batches * n_pe * n_cols
    nnz = 0
    for i in range(k_rows):
        row = weight[i]
        for c in range(n_cols):
            nnz += row[c] != 0
    cols = np.empty(nnz + 1, dtype=np.int64)  # one slot of slack: the compaction writes one past the end
    row_end = np.empty(k_rows, dtype=np.int64)
    start = np.zeros(n_slices + 1, dtype=np.int64)
    n = 0
    for i in range(k_rows):
        row = weight[i]
        first = n
        for c in range(n_cols):
            cols[n] = c
            n += row[c] != 0
        row_end[i] = n
        base = ((i // n_pe) // rows_per_batch * n_pe + i % n_pe) * n_cols + 1
        for t in range(first, n):
            start[base + cols[t]] += 1
    for s in range(n_slices):
        start[s + 1] += start[s]
    local_row = np.empty(nnz, dtype=np.int64)
    slice_id = np.empty(nnz, dtype=np.int64)
    value = np.empty(nnz, dtype=weight.dtype)
    out_row = np.empty(nnz, dtype=np.int64)
    in_col = np.empty(nnz, dtype=np.int64)
    for p in range(n_pe):
        for local in range(n_local):
            i = local * n_pe + p
            if i >= k_rows:
                break
            base = (local // rows_per_batch * n_pe + p) * n_cols
            lr = local % rows_per_batch
            for t in range(row_end[i - 1] if i > 0 else 0, row_end[i]):
                c = cols[t]
                k = start[base + c]
                start[base + c] = k + 1
                local_row[k] = lr
                slice_id[k] = base + c
                value[k] = weight[i, c]
                out_row[k] = i
                in_col[k] = c
    return local_row, slice_id, value, out_row, in_col


@dataclass(frozen=True)
class InterleavedCSC:
    """A K x C weight matrix in EIE's format: codebook + per-(output batch, PE) relative-index CSC.

    ``csc.values`` hold codebook indices (as float32; 0 for padding) and ``csc.runs`` the 4-bit
    zero runs. ``nz_rows``/``nz_cols``/``nz_codes`` list the real non-zeros (slice order), for
    references that must not go through the encoding.
    """

    csc: RelativeIndexCSC
    codebook: np.ndarray     # float32[2**codebook_bits]; codebook[0] == 0
    n_pe: int
    n_rows: int              # K, output length
    n_cols: int              # C, input length
    rows_per_batch: int      # destination accumulators per PE (EIE: 64)
    codebook_bits: int
    nz_rows: np.ndarray      # int64[nnz] output row of each real non-zero
    nz_cols: np.ndarray      # int64[nnz] input column
    nz_codes: np.ndarray     # uint8[nnz] codebook index

    @property
    def output_batches(self) -> int:
        return math.ceil(math.ceil(self.n_rows / self.n_pe) / self.rows_per_batch)

    @property
    def codes(self) -> np.ndarray:
        """uint8 codebook index of every stored entry (0 for padding)."""
        return self.csc.values.astype(np.uint8)

    def slice_entries(self) -> np.ndarray:
        """Entries per slice, shaped (output batch, PE, input column)."""
        return np.diff(self.csc.col_ptr).reshape(self.output_batches, self.n_pe, self.n_cols)

    def entries_per_pe(self) -> np.ndarray:
        """Stored entries (padding included) of each PE, over all output batches."""
        return self.slice_entries().sum(axis=(0, 2))

    def quantized_dense(self) -> np.ndarray:
        """The K x C matrix of shared weights the chip computes with (for small references)."""
        out = np.zeros((self.n_rows, self.n_cols), dtype=np.float32)
        out[self.nz_rows, self.nz_cols] = self.codebook[self.nz_codes]
        return out

    def storage_bits(self, pointer_bits: int = 16) -> dict[str, int]:
        """Bits of storage over all PEs: entries (index + run, padding included), of which padding, pointers.

        Each (output batch, PE) slice keeps ``n_cols + 1`` pointers (EIE §III-A: p_j and p_j+1
        bound column j).
        """
        bits = self.csc.storage_bits(self.codebook_bits)
        pointers = self.output_batches * self.n_pe * (self.n_cols + 1) * pointer_bits
        return {"entries": bits["entries"], "padding": bits["padding"], "pointers": pointers}


def encode_eie(weight: np.ndarray, n_pe: int, *, rows_per_batch: int = 64, run_bits: int = 4,
               codebook_bits: int = 4, quantization: str = "kmeans") -> InterleavedCSC:
    """Encode a K x C weight matrix for ``n_pe`` PEs (EIE §III-A); see the module docstring."""
    w = np.asarray(weight)
    if w.ndim != 2:
        raise ValueError(f"EIE encodes a 2-D (output x input) matrix, got shape {w.shape}")
    if n_pe < 1 or rows_per_batch < 1:
        raise ValueError("n_pe and rows_per_batch must be positive")
    if not (1 <= run_bits <= 8 and 1 <= codebook_bits <= 8):
        raise ValueError("run_bits and codebook_bits must be 1..8 (entries are stored as uint8)")
    if w.dtype.kind not in "fiu" or w.dtype.itemsize > 8:
        raise ValueError(f"unsupported weight dtype {w.dtype}")
    if w.dtype.kind != "f":
        w = w.astype(np.float32)
    w = np.ascontiguousarray(w)
    local_row, slice_id, value, out_row, in_col = _gather_slices(w, n_pe, rows_per_batch)
    codebook = build_codebook(value, codebook_bits, quantization)
    codes = quantize(value, codebook)
    k_rows, n_cols = w.shape
    n_batches = math.ceil(math.ceil(k_rows / n_pe) / rows_per_batch)
    csc = encode_columns(local_row, slice_id, codes, rows_per_batch, n_batches * n_pe * n_cols, run_bits)
    return InterleavedCSC(csc, codebook, n_pe, k_rows, n_cols, rows_per_batch, codebook_bits,
                          out_row, in_col, codes)
