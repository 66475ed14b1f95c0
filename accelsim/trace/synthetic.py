"""Synthetic traces (numpy only): real layer shapes from the zoo, pruned-looking tensors.

Weights are drawn He-normal (std = sqrt(2 / fan_in)) and then magnitude-pruned to the target
density, so the survivors have the bimodal shape of a magnitude-pruned trained layer. The
non-zero count is exact: round(density x size) (within one element per tensor). Structured
variants keep whole blocks / N-of-M groups / filters, chosen by magnitude, so their density is
exact to one block or filter. ``nm:N:M`` keeps the N largest of every M consecutive reduction
elements (density N/M); a density below N/M then keeps only the largest survivors, so N:M still
holds and the count is exact. Activations behind a ReLU are half-normal (non-negative)
with exactly round(density x size) non-zeros at uniformly random positions.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from accelsim.errors import AccelsimError, brief
from accelsim.trace.format import Trace, check_layer_names
from accelsim.trace.layer import Layer, LayerSpec
from accelsim.trace.lowering import reference_output

Density = float | Sequence[float] | Mapping[str, float] | None


@dataclass(frozen=True)
class Structure:
    """Parsed ``--structure``: unstructured | block:RxC | nm:N:M | channel."""

    kind: str
    block: tuple[int, int] = (1, 1)
    n: int = 0
    m: int = 0

    @classmethod
    def parse(cls, text: str) -> Structure:
        text = text.strip().lower()
        if text in ("unstructured", "channel"):
            return cls(text)
        if mt := re.fullmatch(r"block:(\d+)x(\d+)", text):
            r, c = int(mt[1]), int(mt[2])
            if r < 1 or c < 1:
                raise AccelsimError(f"structure {text!r}: block sides must be positive")
            return cls("block", block=(r, c))
        if mt := re.fullmatch(r"nm:(\d+):(\d+)", text):
            n, m = int(mt[1]), int(mt[2])
            if not 0 < n <= m:
                raise AccelsimError(f"structure {text!r}: need 0 < N <= M")
            return cls("nm", n=n, m=m)
        raise AccelsimError(f"unknown structure {text!r} (expected unstructured, block:RxC, nm:N:M or channel)")


def _per_layer(value: Density, specs: list[LayerSpec], attr: str, what: str) -> list[float]:
    if value is None:
        out = [getattr(s, attr) if getattr(s, attr) is not None else 1.0 for s in specs]
    elif isinstance(value, Mapping):
        unknown = set(value) - {s.name for s in specs}
        if unknown:
            raise AccelsimError(f"{what} density given for unknown layers: {', '.join(sorted(unknown))}")
        out = [float(value.get(s.name, getattr(s, attr) or 1.0)) for s in specs]
    elif isinstance(value, (bool, str, bytes)):
        raise AccelsimError(f"{what} density {value!r} is not a number, list or mapping")
    elif isinstance(value, numbers.Real):  # includes numpy scalars
        out = [float(value)] * len(specs)
    else:
        out = [float(v) for v in value]
        if len(out) != len(specs):
            raise AccelsimError(f"{what} density list has {len(out)} values for {len(specs)} layers")
    for s, d in zip(specs, out, strict=True):
        if not 0.0 < d <= 1.0:
            raise AccelsimError(f"{what} density {d} for layer {s.name!r} must be in (0, 1]")
    return out


def _keep_largest(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of exactly the k largest scores (introselect: deterministic, O(n))."""
    flat = scores.ravel()
    mask = np.zeros(flat.size, dtype=bool)
    if k >= flat.size:
        mask[:] = True
    elif k > 0:
        mask[np.argpartition(-flat, k - 1)[:k]] = True
    return mask.reshape(scores.shape)


def _weight_matrix_view(spec: LayerSpec, w: np.ndarray) -> np.ndarray:
    """2-D (rows = output units, cols = reduction) view used by structured pruning."""
    return w.T if spec.kind == "matmul" else w.reshape(w.shape[0], -1)


def prune_weight(spec: LayerSpec, w: np.ndarray, density: float, structure: Structure) -> np.ndarray:
    """Magnitude-prune ``w`` to ``density`` with the given structure (returns a new array)."""
    mat = _weight_matrix_view(spec, w)
    if structure.kind == "unstructured":
        mask = _keep_largest(np.abs(mat), round(density * mat.size))
    elif structure.kind == "channel":
        norms = np.linalg.norm(mat, axis=1)
        mask = np.repeat(_keep_largest(norms, round(density * mat.shape[0]))[:, None], mat.shape[1], axis=1)
    elif structure.kind == "block":
        br, bc = structure.block
        rows, cols = -(-mat.shape[0] // br), -(-mat.shape[1] // bc)
        padded = np.zeros((rows * br, cols * bc), dtype=mat.dtype)
        padded[:mat.shape[0], :mat.shape[1]] = np.abs(mat)
        block_mean = padded.reshape(rows, br, cols, bc).mean(axis=(1, 3))
        keep = _keep_largest(block_mean, round(density * rows * cols))
        mask = np.kron(keep, np.ones((br, bc), dtype=bool))[:mat.shape[0], :mat.shape[1]]
    else:  # nm: in each group of M consecutive reduction elements keep the N largest ...
        n, m = structure.n, structure.m
        cols = -(-mat.shape[1] // m) * m
        padded = np.full((mat.shape[0], cols), -1.0)
        padded[:, :mat.shape[1]] = np.abs(mat)
        groups = padded.reshape(mat.shape[0], -1, m)
        order = np.argsort(-groups, axis=2, kind="stable")
        keep = np.zeros_like(groups, dtype=bool)
        np.put_along_axis(keep, order[:, :, :n], True, axis=2)
        mask = keep.reshape(mat.shape[0], cols)[:, :mat.shape[1]]
        # ... then, for a density below N/M, the largest survivors (N:M still holds: at most N per group)
        target = round(density * mat.size)
        if target < int(mask.sum()):
            mask = _keep_largest(np.where(mask, np.abs(mat), -1.0), target)
    pruned = np.where(mask, mat, 0).astype(w.dtype)
    return (pruned.T if spec.kind == "matmul" else pruned.reshape(w.shape)).copy()


def synth_layer(spec: LayerSpec, weight_density: float, act_density: float, structure: Structure,
                rng: np.random.Generator, with_output: bool = False) -> Layer:
    """One synthetic layer with exact densities."""
    shapes = spec.tensor_shapes
    wshape = shapes["weight"]
    fan_in = int(np.prod(wshape[1:])) if spec.kind != "matmul" else wshape[0]
    w = rng.standard_normal(wshape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
    w = prune_weight(spec, w, weight_density, structure)
    xshape = shapes["input"]
    size = int(np.prod(xshape))
    values = rng.standard_normal(size, dtype=np.float32)
    if spec.relu_input:
        values = np.abs(values)
    values[values == 0] = np.float32(1e-3)  # a drawn exact zero would break the exact count
    x = np.zeros(size, dtype=np.float32)
    nz = rng.choice(size, size=round(act_density * size), replace=False) if act_density < 1.0 else np.arange(size)
    x[nz] = values[nz]
    layer = Layer(spec.name, spec.kind, dict(spec.shape), w, x.reshape(xshape),
                  attrs={"relu_input": spec.relu_input})
    if with_output:
        layer.output = reference_output(layer).astype(np.float32)
    return layer


def synth(network: str | None = None, gemm: tuple[int, int, int] | None = None, *,
          weight_density: Density = None, act_density: Density = None,
          structure: str = "unstructured", seed: int = 0, batch: int = 1,
          layers: Sequence[str] | None = None, with_output: bool = False) -> Trace:
    """Build a synthetic trace of a zoo network or a single GEMM.

    Densities are a float, a per-layer list, or a dict keyed by layer name. ``None`` means the
    network preset's per-layer density where it has one (EIE Table III, SCNN's VGG-16), else 1.0.
    ``gemm=(M, N, K)`` gives one ``matmul`` layer: an M x K input and a K x N weight.
    """
    from accelsim.trace.zoo import network_layers

    if (network is None) == (gemm is None):
        raise AccelsimError("give exactly one of network= or gemm=")
    if network is not None and not isinstance(network, str):
        raise AccelsimError(f"synth: network must be a zoo network name, got {type(network).__name__}")
    if not isinstance(structure, str):
        raise AccelsimError(f"synth: structure must be a string such as 'nm:2:4', got {type(structure).__name__}")
    seed, batch = _integer(seed, "seed", 0, 2**64 - 1), _integer(batch, "batch", 1, 2**31 - 1)
    if layers is not None:
        layers = check_layer_names(layers, "synth")
    if gemm is not None:
        if isinstance(gemm, (str, bytes)) or not isinstance(gemm, Sequence) or len(gemm) != 3:
            raise AccelsimError(f"synth: gemm must be three integers (M, N, K), got {str(gemm)[:60]}")
        m, n, k = (_integer(v, f"gemm {'MNK'[i]}", 1, None) for i, v in enumerate(gemm))
        specs = [LayerSpec("gemm", "matmul", {"M": m, "N": n, "K": k}, relu_input=False)]
        name = f"gemm-{m}x{n}x{k}"
    else:
        try:
            specs = network_layers(network, batch=batch)
        except ValueError as exc:
            raise AccelsimError(str(exc)) from None
        name = network
    # Each layer's random stream is keyed by its position in the whole network, so a layer's
    # tensors do not depend on which other layers were selected with ``layers=``.
    positions = list(range(len(specs)))
    if layers:
        wanted = set(layers)
        missing = wanted - {s.name for s in specs}
        if missing:
            raise AccelsimError(f"network {name} has no layers {', '.join(sorted(missing))}")
        positions = [i for i, s in enumerate(specs) if s.name in wanted]
        specs = [specs[i] for i in positions]
    struct = Structure.parse(structure)
    wd = _per_layer(weight_density, specs, "weight_density", "weight")
    ad = _per_layer(act_density, specs, "act_density", "activation")
    out = [synth_layer(s, w, a, struct, np.random.default_rng([seed, i]), with_output)
           for i, s, w, a in zip(positions, specs, wd, ad, strict=True)]
    provenance = {
        "model": name, "source": "synthetic (accelsim.synth)", "seed": seed, "batch": batch,
        "pruning": {"method": "magnitude", "structure": structure,
                    "weight_density": dict(zip([s.name for s in specs], wd, strict=True)),
                    "act_density": dict(zip([s.name for s in specs], ad, strict=True))},
        "tools": _tool_versions(),
    }
    return Trace(out, provenance, name=name)


def _integer(value: object, what: str, low: int, high: int | None) -> int:
    """A Python or numpy integer in [low, high], as an int; floats and bools are refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise AccelsimError(f"synth: {what} must be an integer, got {type(value).__name__} {brief(value)}")
    value = int(value)
    if value < low or (high is not None and value > high):
        shown = str(value) if value.bit_length() < 128 else f"a {value.bit_length()}-bit integer"
        raise AccelsimError(f"synth: {what}={shown} is out of range ({low}..{high if high is not None else ''})")
    return value


def _tool_versions() -> dict[str, str]:
    from accelsim.version import __version__

    return {"accelsim": __version__, "numpy": np.__version__}
