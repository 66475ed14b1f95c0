"""Layer model shared by traces, the shape zoo and every chip.

A layer is one operator with its shape parameters and (in a trace) its tensors. Shape
conventions (all integers):

=========  ==========================================  ===============  ==========  ===========
kind       shape keys                                  input            weight      output
=========  ==========================================  ===============  ==========  ===========
conv2d     N C H W K R S stride padding groups         (N, C, H, W)     (K, C/g, R, S)  (N, K, P, Q)
linear     N C K                                       (N, C)           (K, C)      (N, K)
lstm       N C K hidden                                (N, C)           (K, C)      (N, K)
matmul     M N K                                       (M, K)           (K, N)      (M, N)
=========  ==========================================  ===============  ==========  ===========

``lstm`` is one gate GEMV per row: C = input + hidden (+1 when the bias is folded in, as EIE's
NT-LSTM 1201x2400 does), K = 4 * hidden; rows are time steps x batch.
For conv2d, P = (H + 2*padding - R) // stride + 1 and likewise Q from W and S.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("conv2d", "linear", "lstm", "matmul")

SHAPE_KEYS: dict[str, tuple[str, ...]] = {
    "conv2d": ("N", "C", "H", "W", "K", "R", "S", "stride", "padding", "groups"),
    "linear": ("N", "C", "K"),
    "lstm": ("N", "C", "K", "hidden"),
    "matmul": ("M", "N", "K"),
}

#: Tensors a layer may carry; the first two are required in a trace.
TENSOR_NAMES = ("weight", "input", "output", "grad_output", "grad_weight")


class ShapeError(ValueError):
    """A layer's shape parameters are inconsistent."""


def conv_output_hw(shape: dict[str, int]) -> tuple[int, int]:
    """Output height P and width Q of a conv2d shape."""
    p = (shape["H"] + 2 * shape["padding"] - shape["R"]) // shape["stride"] + 1
    q = (shape["W"] + 2 * shape["padding"] - shape["S"]) // shape["stride"] + 1
    return p, q


def validate_shape(kind: str, shape: dict[str, int]) -> dict[str, int]:
    """Check kind and shape keys; return the shape with plain ints. Raises ShapeError."""
    if kind not in SHAPE_KEYS:
        raise ShapeError(f"unknown layer kind {kind!r} (expected one of {', '.join(KINDS)})")
    keys = SHAPE_KEYS[kind]
    missing = [k for k in keys if k not in shape]
    extra = [k for k in shape if k not in keys]
    if missing:
        raise ShapeError(f"{kind} shape is missing {', '.join(missing)}")
    if extra:
        raise ShapeError(f"{kind} shape has unknown keys {', '.join(extra)}")
    out: dict[str, int] = {}
    for k in keys:
        v = shape[k]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ShapeError(f"shape {k}={v!r} is not an integer")
        out[k] = int(v)
    minimum = {"padding": 0}
    for k, v in out.items():
        if v < minimum.get(k, 1):
            raise ShapeError(f"shape {k}={v} is out of range")
    if kind == "conv2d":
        if out["C"] % out["groups"] or out["K"] % out["groups"]:
            raise ShapeError(f"groups={out['groups']} does not divide C={out['C']} and K={out['K']}")
        p, q = conv_output_hw(out)
        if p < 1 or q < 1:
            raise ShapeError("conv2d kernel is larger than the padded input")
    return out


def tensor_shapes(kind: str, shape: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Array shape of every tensor a layer of this kind may carry."""
    s = shape
    if kind == "conv2d":
        p, q = conv_output_hw(s)
        w = (s["K"], s["C"] // s["groups"], s["R"], s["S"])
        o = (s["N"], s["K"], p, q)
        i = (s["N"], s["C"], s["H"], s["W"])
    elif kind in ("linear", "lstm"):
        w, i, o = (s["K"], s["C"]), (s["N"], s["C"]), (s["N"], s["K"])
    elif kind == "matmul":
        w, i, o = (s["K"], s["N"]), (s["M"], s["K"]), (s["M"], s["N"])
    else:
        raise ShapeError(f"unknown layer kind {kind!r}")
    return {"weight": w, "input": i, "output": o, "grad_output": o, "grad_weight": w}


def dense_macs(kind: str, shape: dict[str, int]) -> int:
    """Multiply-accumulates of the dense layer (every product, zeros included)."""
    s = shape
    if kind == "conv2d":
        p, q = conv_output_hw(s)
        return s["N"] * s["K"] * p * q * (s["C"] // s["groups"]) * s["R"] * s["S"]
    if kind in ("linear", "lstm"):
        return s["N"] * s["C"] * s["K"]
    if kind == "matmul":
        return s["M"] * s["N"] * s["K"]
    raise ShapeError(f"unknown layer kind {kind!r}")


@dataclass(frozen=True)
class LayerSpec:
    """A layer's shape without tensors, as the network zoo lists it.

    ``relu_input`` says whether the input follows a ReLU (so synthetic activations are
    non-negative with zeros); ``weight_density``/``act_density`` are the paper's defaults
    for presets that carry them (None means "use the caller's density").
    """

    name: str
    kind: str
    shape: dict[str, int]
    relu_input: bool = True
    weight_density: float | None = None
    act_density: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", validate_shape(self.kind, dict(self.shape)))

    @property
    def macs(self) -> int:
        return dense_macs(self.kind, self.shape)

    @property
    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        return tensor_shapes(self.kind, self.shape)


@dataclass
class Layer:
    """One layer of a trace: shape plus real tensors (float32 numpy arrays)."""

    name: str
    kind: str
    shape: dict[str, int]
    weight: np.ndarray
    input: np.ndarray
    output: np.ndarray | None = None
    grad_output: np.ndarray | None = None
    grad_weight: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)

    def __getattr__(self, key: str) -> int:
        # Shape parameters read as attributes: layer.C, layer.stride, ...
        shape = self.__dict__.get("shape")
        if shape is not None and key in shape:
            return shape[key]
        raise AttributeError(key)

    def tensors(self) -> dict[str, np.ndarray]:
        return {n: getattr(self, n) for n in TENSOR_NAMES if getattr(self, n) is not None}

    @property
    def macs_dense(self) -> int:
        return dense_macs(self.kind, self.shape)

    @property
    def weight_density(self) -> float:
        return float(np.count_nonzero(self.weight)) / self.weight.size

    @property
    def act_density(self) -> float:
        return float(np.count_nonzero(self.input)) / self.input.size
