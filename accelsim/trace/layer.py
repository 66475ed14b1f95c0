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

import math
from dataclasses import dataclass, field

import numpy as np

from accelsim.errors import ShapeError, TraceError, brief

KINDS = ("conv2d", "linear", "lstm", "matmul")

SHAPE_KEYS: dict[str, tuple[str, ...]] = {
    "conv2d": ("N", "C", "H", "W", "K", "R", "S", "stride", "padding", "groups"),
    "linear": ("N", "C", "K"),
    "lstm": ("N", "C", "K", "hidden"),
    "matmul": ("M", "N", "K"),
}

#: Tensors a layer may carry; the first two are required in a trace.
TENSOR_NAMES = ("weight", "input", "output", "grad_output", "grad_weight")

#: Largest shape parameter accepted (far above any real layer; keeps derived sizes exact in int64).
MAX_DIM = 2**31 - 1
#: Most elements of any tensor of a layer, stored or derived (the output of a layer that stores none).
MAX_TENSOR_ELEMENTS = 2**32
#: Most elements of a lowered GEMM operand (the im2col matrix of a conv, per group), checked before
#: anything allocates it: 2**30 float64 elements are 8 GiB.
MAX_LOWERED_ELEMENTS = 2**30


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
            raise ShapeError(f"shape {k}={brief(v)} is not an integer")
        out[k] = int(v)
    minimum = {"padding": 0}
    for k, v in out.items():
        if not minimum.get(k, 1) <= v <= MAX_DIM:
            raise ShapeError(f"shape {k}={brief(v)} is out of range ({minimum.get(k, 1)}..{MAX_DIM})")
    if kind == "conv2d":
        if out["C"] % out["groups"] or out["K"] % out["groups"]:
            raise ShapeError(f"groups={out['groups']} does not divide C={out['C']} and K={out['K']}")
        p, q = conv_output_hw(out)
        if p < 1 or q < 1:
            raise ShapeError("conv2d kernel is larger than the padded input")
    if kind == "lstm" and out["K"] != 4 * out["hidden"]:
        raise ShapeError(f"lstm K={out['K']} must be 4 x hidden = {4 * out['hidden']} (one row per gate and unit)")
    _check_sizes(kind, out)
    return out


def _check_sizes(kind: str, shape: dict[str, int]) -> None:
    """Refuse a shape whose tensors or lowered GEMM are too large to allocate, before anything is."""
    for t, dims in tensor_shapes(kind, shape).items():
        if t in ("weight", "input", "output") and math.prod(dims) > MAX_TENSOR_ELEMENTS:
            raise ShapeError(f"the {t} tensor would be {' x '.join(map(str, dims))} = {math.prod(dims):,} elements, "
                             f"more than the limit of {MAX_TENSOR_ELEMENTS:,}")
    if kind == "conv2d":
        p, q = conv_output_hw(shape)
        rows, cols = shape["N"] * p * q, shape["C"] // shape["groups"] * shape["R"] * shape["S"]
        if rows * cols > MAX_LOWERED_ELEMENTS:
            raise ShapeError(f"the lowered (im2col) input would be {rows:,} x {cols:,} = {rows * cols:,} elements "
                             f"(output {p} x {q} from H={shape['H']}, W={shape['W']}, padding={shape['padding']}), "
                             f"more than the limit of {MAX_LOWERED_ELEMENTS:,}")


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
        try:
            object.__setattr__(self, "shape", validate_shape(self.kind, dict(self.shape)))
        except ShapeError as exc:
            raise ShapeError(f"layer {self.name!r}: {exc}") from None

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

    def __post_init__(self) -> None:
        # float16 (common in exported models) is widened exactly to float32, which every datapath reads
        for n in TENSOR_NAMES:
            a = self.__dict__.get(n)
            if isinstance(a, np.ndarray) and a.dtype == np.float16:
                setattr(self, n, a.astype(np.float32))

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


def validate_layer(layer: Layer) -> Layer:
    """Check an in-memory layer as a loaded one is checked (shape, tensor shapes, dtypes, NaN/Inf).

    Returns the layer with its shape normalised to plain ints. Raises ShapeError or TraceError
    naming the layer.
    """
    if not isinstance(layer, Layer):
        raise TraceError(f"expected a Layer, got {type(layer).__name__}")
    if not isinstance(layer.name, str) or not isinstance(layer.kind, str) or not isinstance(layer.shape, dict):
        raise TraceError(f"layer {layer.name!r}: name and kind must be strings and shape a dict")
    try:
        layer.shape = validate_shape(layer.kind, layer.shape)
    except ShapeError as exc:
        raise ShapeError(f"layer {layer.name!r}: {exc}") from None
    if not isinstance(layer.attrs, dict):
        raise TraceError(f"layer {layer.name!r}: attrs must be a dict, got {type(layer.attrs).__name__}")
    expected = tensor_shapes(layer.kind, layer.shape)
    for t in TENSOR_NAMES:
        a = getattr(layer, t)
        if a is None:
            if t in ("weight", "input"):
                raise TraceError(f"layer {layer.name!r}: missing tensor {t!r}")
            continue
        if not isinstance(a, np.ndarray) or a.dtype.kind not in "iuf" or a.dtype.itemsize > 8:
            what = f"dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
            raise TraceError(f"layer {layer.name!r}: tensor {t!r} must be a numeric numpy array, got {what}")
        if a.dtype == np.float16:
            a = a.astype(np.float32)
            setattr(layer, t, a)
        if a.shape != expected[t]:
            raise TraceError(f"layer {layer.name!r}: tensor {t!r} has shape {list(a.shape)} but the {layer.kind} "
                             f"shape implies {list(expected[t])}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise TraceError(f"layer {layer.name!r}: tensor {t!r} contains NaN or Inf")
    return layer
