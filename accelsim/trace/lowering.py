"""Lowering of layers to GEMMs, and the dense numpy reference output every chip is checked against.

GEMM convention (SCALE-Sim's operand matrices): ``A`` is the ``Sr x T`` input operand (one row per
output pixel, im2col for conv), ``B`` is the ``T x Sc`` weight operand (one column per filter), and
the result is ``Sr x Sc``. A grouped conv lowers to one GEMM per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.trace.layer import Layer, conv_output_hw


@dataclass(frozen=True)
class GemmDims:
    """Sizes of a lowered GEMM: Sr output rows, Sc output columns, T reduction length, per group."""

    sr: int
    sc: int
    t: int
    groups: int = 1


def gemm_dims(kind: str, shape: dict[str, int]) -> GemmDims:
    """Sizes of the GEMM a layer lowers to (one per group)."""
    s = shape
    if kind == "conv2d":
        p, q = conv_output_hw(s)
        g = s["groups"]
        return GemmDims(s["N"] * p * q, s["K"] // g, (s["C"] // g) * s["R"] * s["S"], g)
    if kind in ("linear", "lstm"):
        return GemmDims(s["N"], s["K"], s["C"])
    if kind == "matmul":
        return GemmDims(s["M"], s["N"], s["K"])
    raise ValueError(f"unknown layer kind {kind!r}")


def im2col(x: np.ndarray, r: int, s: int, stride: int, padding: int) -> np.ndarray:
    """(N, C, H, W) -> (N*P*Q, C*R*S); column order is (c, r, s) like a flattened (C, R, S) filter."""
    n, c, h, w = x.shape
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    p = (h + 2 * padding - r) // stride + 1
    q = (w + 2 * padding - s) // stride + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (r, s), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :p, :q]
    # win: (N, C, P, Q, R, S) -> (N, P, Q, C, R, S)
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5).reshape(n * p * q, c * r * s))


def gemm_operands(layer: Layer, group: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The (A, B) operands of one group's GEMM: A is Sr x T, B is T x Sc (B may be a transposed view)."""
    s = layer.shape
    if layer.kind == "conv2d":
        g = s["groups"]
        cg, kg = s["C"] // g, s["K"] // g
        a = im2col(layer.input[:, group * cg:(group + 1) * cg], s["R"], s["S"], s["stride"], s["padding"])
        return a, layer.weight[group * kg:(group + 1) * kg].reshape(kg, -1).T
    if layer.kind in ("linear", "lstm"):
        return layer.input, layer.weight.T
    if layer.kind == "matmul":
        return layer.input, layer.weight
    raise ValueError(f"unknown layer kind {layer.kind!r}")


def gemm_to_output(layer: Layer, results: list[np.ndarray]) -> np.ndarray:
    """Reassemble per-group GEMM results (Sr x Sc each) into the layer's output layout."""
    if layer.kind == "conv2d":
        s = layer.shape
        p, q = conv_output_hw(s)
        out = np.concatenate(results, axis=1)  # (N*P*Q, K)
        return out.reshape(s["N"], p, q, s["K"]).transpose(0, 3, 1, 2)
    return results[0]


def reference_output(layer: Layer, weight: np.ndarray | None = None) -> np.ndarray:
    """Dense numpy result of the layer, in float64 (optionally with a substitute weight tensor)."""
    if weight is not None:
        layer = Layer(layer.name, layer.kind, layer.shape, weight, layer.input)
    groups = layer.shape.get("groups", 1) if layer.kind == "conv2d" else 1
    results = []
    for g in range(groups):
        a, b = gemm_operands(layer, g)
        results.append(a.astype(np.float64) @ b.astype(np.float64))
    return gemm_to_output(layer, results)


def effectual_macs(layer: Layer) -> int:
    """Products with both operands non-zero (what an ideal sparse chip must compute).

    Uses sum_k nnz(A[:, k]) * nnz(B[k, :]): exact, and O(size) instead of a mask matmul.
    """
    groups = layer.shape.get("groups", 1) if layer.kind == "conv2d" else 1
    total = 0
    for g in range(groups):
        a, b = gemm_operands(layer, g)
        total += int(np.dot(np.count_nonzero(a, axis=0).astype(np.int64), np.count_nonzero(b, axis=1).astype(np.int64)))
    return total
