"""SCNN's compressed operand streams, built on the zero-run encoding of ``accelsim.formats``.

SCNN §IV: activations are compressed per input channel over a PE's Wt x Ht tile, weights per input
channel over a Kc x R x S output-channel-group block; each stored entry is a value plus a 4-bit run
of the zeros before it, and a run longer than 15 is broken by a placeholder zero entry
(:func:`accelsim.formats.encode_csc` implements exactly that, column by column; here a column is an
input channel). Placeholder entries are real entries: they are read, occupy a multiplier slot and
produce a (zero) product.

A *dense* operand (SCNN-SparseA's weights, SCNN-SparseW's activations) stores every value with no
index: every position is an entry, zeros included.

Strided convs (our choice, the paper is silent): with ``phases`` > 1 every channel is split into
stride² *virtual channels*, one per (row, column) phase: the activations at input positions with
``(y + pad) % stride == qy`` and ``(x + pad) % stride == qx`` meet only the kernel taps with
``r % stride == qy`` and ``s % stride == qx``, so every product of the Cartesian product lands on
the output grid. Virtual channel ``v = c·phases + phase``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.formats import RelativeIndexCSC, encode_csc


def dense_csc(matrix: np.ndarray) -> RelativeIndexCSC:
    """Every position of every column as an entry (run 0, no padding): an uncompressed operand."""
    rows, cols = matrix.shape
    return RelativeIndexCSC(
        values=np.ascontiguousarray(matrix.T, dtype=np.float32).ravel(),
        runs=np.zeros(rows * cols, dtype=np.uint8), padding=np.zeros(rows * cols, dtype=bool),
        col_ptr=np.arange(cols + 1, dtype=np.int64) * rows,
        row_index=np.tile(np.arange(rows, dtype=np.int64), cols), n_rows=rows)


def encode(matrix: np.ndarray, compressed: bool, run_bits: int) -> RelativeIndexCSC:
    """Zero-run encode the columns of ``matrix`` (compressed) or store them whole (dense)."""
    if not compressed:
        return dense_csc(matrix)
    if matrix.size == 0:
        return dense_csc(matrix)
    return encode_csc(matrix, run_bits)


def phase_list(stride: int, split: bool) -> list[tuple[int, int]]:
    """The (row, column) phases of a conv: stride² of them when split, else one covering everything."""
    if split and stride > 1:
        return [(qy, qx) for qy in range(stride) for qx in range(stride)]
    return [(-1, -1)]


def _on_phase(idx: np.ndarray, offset: int, stride: int, q: int) -> np.ndarray:
    return idx if q < 0 else idx[(idx + offset) % stride == q]


@dataclass
class Streams:
    """Entries of one operand in stream order, grouped by virtual channel.

    ``crd`` holds the entries' coordinates in the form the datapath uses (see
    :func:`.kernels.cartesian_group`): activations ``((y+pad)//stride, (x+pad)//stride, phase)``
    with phase ``((y+pad)%stride)·stride + (x+pad)%stride``; weights ``(k within the group,
    r//stride, s//stride, (r%stride)·stride + s%stride)``. ``counts``/``padding``/``nonzero`` are
    per virtual channel (and per PE for activations: shape [npe, nvc]).
    """

    val: np.ndarray
    crd: np.ndarray
    ptr: np.ndarray
    counts: np.ndarray
    padding: np.ndarray
    nonzero: np.ndarray

    @property
    def entries(self) -> int:
        return int(self.counts.sum())


def _interleave(parts: list[tuple[RelativeIndexCSC, np.ndarray]], channels: int, n_phases: int):
    """Merge per-phase encodings (each with its entries' coordinates) into virtual-channel order."""
    vals, crds, keys, pads = [], [], [], []
    for ph, (csc, crd) in enumerate(parts):
        per_col = np.diff(csc.col_ptr)
        keys.append(np.repeat(np.arange(channels, dtype=np.int64) * n_phases + ph, per_col))
        vals.append(csc.values)
        crds.append(crd)
        pads.append(csc.padding)
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable") if n_phases > 1 else np.arange(key.size)
    nvc = channels * n_phases
    val = np.concatenate(vals)[order].astype(np.float32, copy=False)
    crd = np.concatenate(crds)[order]
    pad = np.concatenate(pads)[order]
    key = key[order]
    counts = np.bincount(key, minlength=nvc).astype(np.int64)
    padding = np.bincount(key, weights=pad, minlength=nvc).astype(np.int64)
    nonzero = np.bincount(key, weights=val != 0, minlength=nvc).astype(np.int64)
    return val, crd, counts, padding, nonzero


def weight_streams(block: np.ndarray, stride: int, split: bool, order: str, compressed: bool,
                   run_bits: int) -> Streams:
    """Stream of one output-channel group: ``block`` is the (kc, C, R, S) weight block."""
    kc, cin, big_r, big_s = block.shape
    phases = phase_list(stride, split)
    parts = []
    for qy, qx in phases:
        rs_r = _on_phase(np.arange(big_r), 0, stride, qy)
        rs_s = _on_phase(np.arange(big_s), 0, stride, qx)
        if order == "rsk":
            rr, ss, kk = np.meshgrid(rs_r, rs_s, np.arange(kc), indexing="ij")
        else:
            kk, rr, ss = np.meshgrid(np.arange(kc), rs_r, rs_s, indexing="ij")
        rr, ss, kk = rr.ravel(), ss.ravel(), kk.ravel()
        matrix = block[kk, :, rr, ss]                     # rows: linearised taps, columns: channels
        csc = encode(matrix, compressed, run_bits)
        ri = np.minimum(csc.row_index, max(rr.size - 1, 0))
        if rr.size:
            r, s = rr[ri], ss[ri]
            crd = np.stack([kk[ri], r // stride, s // stride, (r % stride) * stride + s % stride],
                           axis=1).astype(np.int32)
        else:
            crd = np.zeros((0, 4), dtype=np.int32)
        parts.append((csc, crd))
    val, crd, counts, padding, nonzero = _interleave(parts, cin, len(phases))
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Streams(val, np.ascontiguousarray(crd), ptr, counts, padding, nonzero)


def activation_streams(x: np.ndarray, tiles: np.ndarray, stride: int, pad: int, split: bool,
                       compressed: bool, run_bits: int) -> Streams:
    """Streams of every PE's tile of ``x`` (C, H, W); ``ptr`` is [npe, nvc + 1] into shared arrays."""
    cin = x.shape[0]
    phases = phase_list(stride, split)
    nvc = cin * len(phases)
    npe = tiles.shape[0]
    vals, crds = [], []
    counts = np.zeros((npe, nvc), dtype=np.int64)
    padding = np.zeros((npe, nvc), dtype=np.int64)
    nonzero = np.zeros((npe, nvc), dtype=np.int64)
    for p in range(npe):
        y0, y1, x0, x1 = (int(v) for v in tiles[p])
        parts = []
        for qy, qx in phases:
            ys = _on_phase(np.arange(y0, y1), pad, stride, qy)
            xs = _on_phase(np.arange(x0, x1), pad, stride, qx)
            sub = x[:, ys][:, :, xs].reshape(cin, -1)   # channels x positions (raster order)
            csc = encode(sub.T, compressed, run_bits)
            ri = np.minimum(csc.row_index, max(ys.size * xs.size - 1, 0))
            if ys.size and xs.size:
                yy, xx = ys[ri // xs.size] + pad, xs[ri % xs.size] + pad
                crd = np.stack([yy // stride, xx // stride, (yy % stride) * stride + xx % stride],
                               axis=1).astype(np.int32)
            else:
                crd = np.zeros((0, 3), dtype=np.int32)
            parts.append((csc, crd))
        val, crd, counts[p], padding[p], nonzero[p] = _interleave(parts, cin, len(phases))
        vals.append(val)
        crds.append(crd)
    offsets = np.concatenate([[0], np.cumsum(counts.sum(axis=1))])
    ptr = np.zeros((npe, nvc + 1), dtype=np.int64)
    ptr[:, 1:] = np.cumsum(counts, axis=1)
    ptr += offsets[:-1, None]
    val = np.concatenate(vals) if vals else np.zeros(0, dtype=np.float32)
    crd = np.concatenate(crds) if crds else np.zeros((0, 3), dtype=np.int32)
    return Streams(val.astype(np.float32, copy=False), np.ascontiguousarray(crd), ptr, counts, padding, nonzero)
