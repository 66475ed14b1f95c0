"""Pruning methods over PyTorch models, built on ``torch.nn.utils.prune``.

Each method computes keep-masks and installs them with ``torch.nn.utils.prune`` (the module gets
``weight_orig`` + ``weight_mask`` and a pre-hook that multiplies them), so fine-tuning keeps the
zeros and :func:`accelsim.export.exporter.export` records the masked weight. Re-applying a method
(iterative pruning) multiplies the new mask into the old one, so pruned weights stay pruned.
:func:`finalize` makes the zeros permanent (``prune.remove``).

Prunable weights: every ``nn.Conv2d`` and ``nn.Linear`` weight, and an ``nn.LSTM``'s
``weight_ih_l*`` / ``weight_hh_l*`` (column combining: conv and linear only). Biases, norms and
embeddings are not pruned. Structured methods see a weight as a matrix with one row per output unit
and the flattened rest as columns (``(C/groups, R, S)`` in ``(c, r, s)`` order for a conv), the same
view as :func:`accelsim.trace.lowering.gemm_operands`.

Methods (the CLI spelling in brackets):

- :func:`magnitude` [``unstructured``, ``unstructured:global``]: smallest |w| removed, per layer
  (Han et al. 2015) or over the whole model at once; torch's ``L1Unstructured`` criterion.
- :func:`block` [``block:RxC`` or ``block:KxCxRxS``]: Cambricon-S coarse-grained pruning (Zhou et al.
  2018): blocks of B_out x B_in (FC) or B_out x B_in x B_x x B_y (conv) weights whose mean |w| is
  smallest are removed as a whole. ``RxC`` on a conv means R filters x C channels x 1 x 1; a 4-D block on a linear
  layer uses its first two sides.
- :func:`nm` [``nm:N:M``]: in every group of M consecutive reduction elements of a row only the N
  largest |w| survive (the grouping SCALE-Sim's and our systolic model's N:M mode expects).
- :func:`channel` [``channel``]: whole filters (rows) with the smallest L2 norm removed; torch's
  ``LnStructured`` criterion. The last prunable layer (the classifier) is left alone by default.
- :func:`column_combine` [``column-combine:ALPHA:GAMMA``]: magnitude pruning to the target, then
  Kung et al.'s grouping and column-combine pruning (:mod:`accelsim.formats.column_combine`); the
  packing goes into each module's ``accelsim_attrs`` and from there into the trace.
- :func:`dropback` [``dropback``]: Dropback (Golub et al. 2018) as modified by Procrustes (Yang et
  al. 2020): a global tracked set by accumulated gradient, decaying initial values, for N SGD steps.

Every method records ``model.accelsim_pruning`` (method, parameters, target and achieved sparsity,
per-layer sparsity), which the exporter copies into the trace's provenance.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from accelsim.errors import AccelsimError
from accelsim.formats import column_combine as cc

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class PruneSpec:
    """A parsed ``--prune`` value."""

    method: str
    scope: str = "layer"
    block: tuple[int, int, int, int] = (1, 1, 1, 1)
    n: int = 0
    m: int = 0
    alpha: int = 0
    gamma: float = 0.0

    METHODS = ("none", "unstructured", "unstructured:global", "block:RxC", "block:KxCxRxS", "nm:N:M",
               "channel", "column-combine:ALPHA:GAMMA", "dropback")

    @classmethod
    def parse(cls, text: str) -> PruneSpec:
        t = text.strip().lower()
        if t in ("none", "dense"):
            return cls("none")
        if t in ("unstructured", "unstructured:layer", "magnitude"):
            return cls("unstructured")
        if t in ("unstructured:global", "global"):
            return cls("unstructured", scope="global")
        if t in ("channel", "filter", "dropback"):
            return cls("channel" if t != "dropback" else "dropback")
        if mt := re.fullmatch(r"block:(\d+)x(\d+)(?:x(\d+)x(\d+))?", t):
            sides = tuple(int(v) for v in mt.groups() if v is not None)
            if min(sides) < 1:
                raise AccelsimError(f"--prune {text!r}: block sides must be positive")
            return cls("block", block=(sides + (1, 1))[:4])  # type: ignore[arg-type]
        if mt := re.fullmatch(r"nm:(\d+):(\d+)", t):
            n, m = int(mt[1]), int(mt[2])
            if not 0 < n <= m:
                raise AccelsimError(f"--prune {text!r}: need 0 < N <= M")
            return cls("nm", n=n, m=m)
        if mt := re.fullmatch(r"column-combine:(\d+):([0-9]*\.?[0-9]+)", t):
            alpha, gamma = int(mt[1]), float(mt[2])
            if alpha < 1:
                raise AccelsimError(f"--prune {text!r}: alpha must be at least 1")
            return cls("column-combine", alpha=alpha, gamma=gamma)
        raise AccelsimError(f"unknown pruning {text!r} (expected {', '.join(cls.METHODS)})")

    @property
    def implied_sparsity(self) -> float | None:
        """Sparsity fixed by the method itself (N:M), else None."""
        return 1.0 - self.n / self.m if self.method == "nm" else None

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.method}
        if self.method == "unstructured":
            d["scope"] = self.scope
        elif self.method == "block":
            d["block"] = list(self.block)
        elif self.method == "nm":
            d.update(n=self.n, m=self.m)
        elif self.method == "column-combine":
            d.update(alpha=self.alpha, gamma=self.gamma)
        return d


# ------------------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class PrunableWeight:
    """One prunable weight: ``module.<param>``; ``name`` is its qualified name in the model."""

    name: str
    module: nn.Module
    param: str

    def effective(self) -> torch.Tensor:
        """The weight as the forward pass sees it (masked, if pruned)."""
        m = self.module
        if hasattr(m, self.param + "_mask"):
            return (getattr(m, self.param + "_orig") * getattr(m, self.param + "_mask")).detach()
        return getattr(m, self.param).detach()

    def mask(self) -> torch.Tensor:
        m = self.module
        if hasattr(m, self.param + "_mask"):
            return getattr(m, self.param + "_mask").detach().clone()
        return torch.ones_like(getattr(m, self.param), dtype=torch.float32)


def prunable_weights(model: nn.Module, *, include_lstm: bool = True,
                     exclude: Iterable[str] = ()) -> list[PrunableWeight]:
    """Conv2d / Linear weights (and LSTM gate weights) in module order, minus ``exclude`` (module names)."""
    skip = set(exclude)
    out = []
    for name, module in model.named_modules():
        if name in skip:
            continue
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            out.append(PrunableWeight(f"{name}.weight" if name else "weight", module, "weight"))
        elif include_lstm and isinstance(module, nn.LSTM):
            for pname in module._flat_weights_names:
                if pname.startswith(("weight_ih", "weight_hh")):
                    out.append(PrunableWeight(f"{name}.{pname}", module, pname))
    if not out:
        raise AccelsimError(f"{type(model).__name__} has no prunable weights (Conv2d, Linear, LSTM)")
    return out


def _install(pw: PrunableWeight, keep: torch.Tensor) -> None:
    """Install a keep-mask (multiplied into an existing one) through torch.nn.utils.prune."""
    keep = keep.to(torch.float32)
    m = pw.module
    if hasattr(m, pw.param + "_mask"):
        buf = getattr(m, pw.param + "_mask")
        buf.mul_(keep)
        setattr(m, pw.param, getattr(m, pw.param + "_orig") * buf)
    else:
        prune.custom_from_mask(m, pw.param, keep)


def _matrix(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _keep_largest(scores: torch.Tensor, keep: int) -> torch.Tensor:
    """Boolean mask of exactly ``keep`` largest scores."""
    flat = scores.reshape(-1)
    mask = torch.zeros(flat.numel(), dtype=torch.bool)
    if keep >= flat.numel():
        mask[:] = True
    elif keep > 0:
        # introselect: deterministic and O(n); which of several equal scores survives is fixed by it
        mask[torch.from_numpy(np.argpartition(-flat.double().numpy(), keep - 1)[:keep].copy())] = True
    return mask.reshape(scores.shape)


def _check_sparsity(sparsity: float) -> float:
    if not 0.0 <= sparsity < 1.0:
        raise AccelsimError(f"sparsity {sparsity} must be in [0, 1)")
    return float(sparsity)


def sparsity_report(weights: list[PrunableWeight]) -> dict[str, Any]:
    """Overall and per-weight sparsity (fraction of zeros) of the effective weights."""
    per = {}
    zeros = total = 0
    for pw in weights:
        w = pw.effective()
        z = int((w == 0).sum())
        per[pw.name] = round(z / w.numel(), 6)
        zeros, total = zeros + z, total + w.numel()
    return {"achieved_sparsity": round(zeros / total, 6), "layer_sparsity": per}


def _record(model: nn.Module, weights: list[PrunableWeight], params: dict[str, Any]) -> dict[str, Any]:
    rec = {**params, **sparsity_report(weights)}
    model.accelsim_pruning = rec
    return rec


# ------------------------------------------------------------------------------------- methods


def magnitude(model: nn.Module, sparsity: float, *, scope: str = "layer",
              exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Unstructured magnitude pruning to ``sparsity``, per layer or over all weights at once.

    Per layer, each weight loses exactly ``round(sparsity * size)`` of its smallest |w| (torch's
    ``L1Unstructured``); globally, ``round(sparsity * total)`` over the concatenation.
    """
    sparsity = _check_sparsity(sparsity)
    weights = prunable_weights(model, exclude=exclude)
    if scope == "layer":
        for pw in weights:
            w = pw.effective()
            method = prune.L1Unstructured(amount=round(sparsity * w.numel()))
            _install(pw, method.compute_mask(w, default_mask=pw.mask()))
    elif scope == "global":
        scores = torch.cat([pw.effective().abs().reshape(-1) for pw in weights])
        keep = _keep_largest(scores, scores.numel() - round(sparsity * scores.numel()))
        start = 0
        for pw in weights:
            n = pw.effective().numel()
            _install(pw, keep[start:start + n].reshape(pw.effective().shape))
            start += n
    else:
        raise AccelsimError(f"magnitude pruning scope {scope!r} must be 'layer' or 'global'")
    return _record(model, weights, {"method": "unstructured", "scope": scope, "target_sparsity": sparsity})


class BlockMeanPruning(prune.BasePruningMethod):
    """Cambricon-S coarse-grained pruning: remove the ``amount`` blocks with the smallest mean |w|.

    ``block`` = (B_out, B_in, B_x, B_y) over a (K, C, R, S) weight (a 2-D weight uses the first
    two). Edge blocks are partial; their mean is over the weights they really hold.
    """

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: int, block: tuple[int, int, int, int]) -> None:
        self.amount = int(amount)
        self.block = block

    def compute_mask(self, t: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        w4 = t.reshape(*t.shape, *([1] * (4 - t.dim()))) if t.dim() < 4 else t
        grid = [math.ceil(d / b) for d, b in zip(w4.shape, self.block, strict=True)]
        padded = torch.zeros([g * b for g, b in zip(grid, self.block, strict=True)], dtype=torch.float64)
        count = torch.zeros_like(padded)
        sl = tuple(slice(0, d) for d in w4.shape)
        padded[sl] = w4.abs().double()
        count[sl] = 1.0
        view = [v for g, b in zip(grid, self.block, strict=True) for v in (g, b)]
        sums = padded.reshape(view).sum(dim=(1, 3, 5, 7))
        means = sums / count.reshape(view).sum(dim=(1, 3, 5, 7))
        keep_blocks = _keep_largest(means, means.numel() - self.amount)
        keep = keep_blocks
        for axis, b in enumerate(self.block):
            keep = keep.repeat_interleave(b, dim=axis)
        return default_mask * keep[sl].reshape(t.shape).to(default_mask.dtype)


def _block_shape(block: tuple[int, ...], w: torch.Tensor) -> tuple[int, int, int, int]:
    b = tuple(block) + (1,) * (4 - len(block))
    if w.dim() == 2:  # a linear / LSTM weight: only the (B_out, B_in) sides apply
        b = (b[0], b[1], 1, 1)
    return b[:4]  # type: ignore[return-value]


def block(model: nn.Module, sparsity: float, block: tuple[int, ...] = (4, 4), *,
          exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Block pruning (Cambricon-S): per layer, ``round(sparsity * blocks)`` blocks of lowest mean |w| go."""
    sparsity = _check_sparsity(sparsity)
    weights = prunable_weights(model, exclude=exclude)
    for pw in weights:
        w = pw.effective()
        b = _block_shape(block, w)
        dims = list(w.shape) + [1] * (4 - w.dim())
        blocks = math.prod(math.ceil(d / s) for d, s in zip(dims, b, strict=True))
        _install(pw, BlockMeanPruning(round(sparsity * blocks), b).compute_mask(w, pw.mask()))
    return _record(model, weights, {"method": "block", "block": list(block), "target_sparsity": sparsity})


class NMPruning(prune.BasePruningMethod):
    """N:M pruning: in each group of M consecutive reduction elements of a row keep the N largest |w|.

    A trailing partial group of g < M elements keeps min(N, g) (as SCALE-Sim's compaction assumes).
    """

    PRUNING_TYPE = "unstructured"

    def __init__(self, n: int, m: int) -> None:
        self.n, self.m = int(n), int(m)

    def compute_mask(self, t: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        mat = _matrix(t.abs() * default_mask).double()
        rows, cols = mat.shape
        groups = math.ceil(cols / self.m)
        padded = torch.full((rows, groups * self.m), -1.0, dtype=torch.float64)
        padded[:, :cols] = mat
        g = padded.reshape(rows, groups, self.m)
        # stable descending order: ties keep the earlier element
        order = torch.from_numpy(np.argsort(-g.numpy(), axis=2, kind="stable").copy())
        keep = torch.zeros_like(g, dtype=torch.bool)
        keep.scatter_(2, order[:, :, :self.n], True)
        keep = keep.reshape(rows, -1)[:, :cols].reshape(t.shape)
        return default_mask * keep.to(default_mask.dtype)


def nm(model: nn.Module, n: int, m: int, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """N:M structured sparsity on every prunable weight (sparsity 1 - N/M when rows divide into groups)."""
    if not 0 < n <= m:
        raise AccelsimError(f"N:M pruning needs 0 < N <= M, got {n}:{m}")
    weights = prunable_weights(model, exclude=exclude)
    for pw in weights:
        if pw.param.startswith("weight_ih") and pw.module.input_size % m:
            raise AccelsimError(f"{pw.name}: LSTM input size {pw.module.input_size} is not a multiple of M={m}, "
                                f"so N:M groups of the concatenated gate row would straddle W_ih and W_hh")
        _install(pw, NMPruning(n, m).compute_mask(pw.effective(), pw.mask()))
    return _record(model, weights, {"method": "nm", "n": n, "m": m, "target_sparsity": 1.0 - n / m})


def channel(model: nn.Module, sparsity: float, *, norm: float = 2, exclude: Iterable[str] | None = None) -> dict:
    """Filter pruning: per layer, ``round(sparsity * rows)`` rows (filters / output units) of smallest Ln norm.

    ``exclude=None`` leaves out the last prunable module, whose outputs are the model's classes.
    """
    sparsity = _check_sparsity(sparsity)
    if exclude is None:
        last = prunable_weights(model)[-1]
        exclude = [name for name, mod in model.named_modules() if mod is last.module]
    weights = prunable_weights(model, exclude=exclude)
    for pw in weights:
        w = pw.effective()
        method = prune.LnStructured(amount=round(sparsity * w.shape[0]), n=norm, dim=0)
        _install(pw, method.compute_mask(w, default_mask=pw.mask()))
    return _record(model, weights, {"method": "channel", "norm": norm, "target_sparsity": sparsity,
                                    "excluded": list(exclude)})


def column_combine(model: nn.Module, alpha: int, gamma: float, *, sparsity: float = 0.0,
                   exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Column combining (Kung et al. 2019): magnitude-prune to ``sparsity``, group columns, prune conflicts.

    Per conv / linear layer: layer-wise magnitude pruning to ``sparsity`` (if above the current
    sparsity), then :func:`accelsim.formats.column_combine.pack_columns` with ``alpha`` (max columns per
    group) and ``gamma`` (conflicts per row allowed on average), then column-combine pruning. So the
    achieved sparsity is at least ``sparsity``: each group loses its conflicts (at most
    ``int(gamma * rows)`` weights). The packing is stored in ``module.accelsim_attrs["column_combine"]``:
    ``groups`` (column indices into the flattened ``(C/groups, R, S)`` reduction axis), ``rows``,
    ``columns``, ``alpha``, ``gamma``, ``max_conflicts`` and the per-group ``conflicts`` before pruning.
    Returns the pruning record, whose ``packing`` maps module names to their groups.
    """
    sparsity = _check_sparsity(sparsity)
    weights = prunable_weights(model, include_lstm=False, exclude=exclude)
    names = {id(mod): name for name, mod in model.named_modules()}
    packing = {}
    for pw in weights:
        if sparsity > 0:
            w = pw.effective()
            method = prune.L1Unstructured(amount=round(sparsity * w.numel()))
            _install(pw, method.compute_mask(w, default_mask=pw.mask()))
        w = pw.effective()
        mat = _matrix(w).numpy()
        groups = cc.pack_columns(mat, alpha, gamma)
        conflicts = cc.group_conflicts(mat, groups)
        keep = torch.from_numpy(cc.combine_mask(mat, groups)).reshape(w.shape)
        _install(pw, keep)
        module_name = names[id(pw.module)]
        attrs = {"alpha": int(alpha), "gamma": float(gamma), "rows": int(mat.shape[0]), "columns": int(mat.shape[1]),
                 "max_conflicts": cc.max_conflicts(mat.shape[0], gamma), "groups": groups, "conflicts": conflicts}
        existing = getattr(pw.module, "accelsim_attrs", None)
        pw.module.accelsim_attrs = {**(existing or {}), "column_combine": attrs}
        packing[module_name] = {"columns": int(mat.shape[1]), "packed_columns": len(groups)}
    return _record(model, weights, {"method": "column-combine", "alpha": alpha, "gamma": gamma,
                                    "target_sparsity": sparsity, "packing": packing})


def dropback(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]] | Callable[[int], tuple],
             *, sparsity: float, steps: int, lr: float = 0.05, momentum: float = 0.0, decay: float = 0.9,
             zero_below: float = 1e-3, loss_fn: Callable = F.cross_entropy,
             exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Dropback training (Golub et al. 2018) with Procrustes' decaying initial values (Yang et al. 2020).

    For ``steps`` SGD steps on ``batches`` (an iterable of (inputs, targets), cycled, or a function
    of the step number), after each optimizer step:

    - the initial values decay: ``base = init * f`` with ``f`` multiplied by ``decay`` every step and
      set to exactly 0 once below ``zero_below`` (Procrustes change 1);
    - a weight's accumulated gradient is ``|w - base|``; only the global top-k weights by it
      (k = round((1 - sparsity) x total) over all prunable weights of all layers) stay tracked;
    - every untracked weight is reset to ``base``, so it becomes a real zero once ``f`` reaches 0.

    We take the exact top-k; Procrustes' hardware estimates the threshold with a streaming quantile
    (change 2). Biases and norms train densely. At the end untracked weights are exactly zero: if
    ``f`` had not reached 0 they are zeroed then, and ``initial_values_zeroed_early`` says so.
    Returns the record (also ``model.accelsim_pruning``).
    """
    sparsity = _check_sparsity(sparsity)
    if steps < 1:
        raise AccelsimError(f"dropback needs at least one training step, got {steps}")
    weights = prunable_weights(model, exclude=exclude)
    if any(hasattr(pw.module, pw.param + "_mask") for pw in weights):
        raise AccelsimError("dropback trains unmasked weights; call prune.finalize(model) first")
    params = [getattr(pw.module, pw.param) for pw in weights]
    init = [p.detach().clone() for p in params]
    sizes = [p.numel() for p in params]
    k = sum(sizes) - round(sparsity * sum(sizes))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    batch_at = batches if callable(batches) else _cycle(batches)
    factor = 1.0
    was_training = model.training
    model.train()
    losses = []
    tracked_masks = [torch.ones_like(p, dtype=torch.bool) for p in params]
    try:
        for step in range(steps):
            x, y = batch_at(step) if callable(batches) else next(batch_at)  # type: ignore[operator,arg-type]
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            factor *= decay
            if factor < zero_below:
                factor = 0.0
            with torch.no_grad():
                bases = [w0 * factor for w0 in init]
                scores = torch.cat([(p - b).abs().reshape(-1) for p, b in zip(params, bases, strict=True)])
                tracked = _keep_largest(scores, k)
                start = 0
                for i, (p, b, n) in enumerate(zip(params, bases, sizes, strict=True)):
                    keep = tracked[start:start + n].reshape(p.shape)
                    p.copy_(torch.where(keep, p, b))
                    tracked_masks[i] = keep
                    start += n
            losses.append(float(loss.detach()))
        zeroed_early = factor != 0.0
        if zeroed_early:
            with torch.no_grad():
                for p, keep in zip(params, tracked_masks, strict=True):
                    p.mul_(keep)
    finally:
        model.train(was_training)
    return _record(model, weights, {
        "method": "dropback", "variant": "Procrustes (decaying initial values, exact global top-k)",
        "target_sparsity": sparsity, "tracked_weights": k, "steps": steps, "lr": lr, "momentum": momentum,
        "decay": decay, "zero_below": zero_below, "initial_values_zeroed_early": zeroed_early,
        "final_loss": round(float(np.mean(losses[-10:])), 6)})


def _cycle(batches: Iterable) -> Iterator:
    items = list(batches)
    if not items:
        raise AccelsimError("dropback needs at least one batch")
    while True:
        yield from items


def apply(model: nn.Module, spec: PruneSpec | str, sparsity: float | None = None, **kwargs: Any) -> dict[str, Any]:
    """Apply a parsed ``--prune`` spec (all methods but dropback, which needs data: call :func:`dropback`)."""
    spec = PruneSpec.parse(spec) if isinstance(spec, str) else spec
    if spec.method == "none":
        weights = prunable_weights(model)
        return _record(model, weights, {"method": "none", "target_sparsity": 0.0})
    if spec.method == "nm":
        return nm(model, spec.n, spec.m, **kwargs)
    if sparsity is None:
        raise AccelsimError(f"pruning {spec.method} needs a sparsity")
    if spec.method == "unstructured":
        return magnitude(model, sparsity, scope=spec.scope, **kwargs)
    if spec.method == "block":
        return block(model, sparsity, spec.block, **kwargs)
    if spec.method == "channel":
        return channel(model, sparsity, **kwargs)
    if spec.method == "column-combine":
        return column_combine(model, spec.alpha, spec.gamma, sparsity=sparsity, **kwargs)
    raise AccelsimError(f"pruning {spec.method} needs training data; call accelsim.export.prune.dropback")


def finalize(model: nn.Module) -> nn.Module:
    """Make every installed mask permanent (``prune.remove``): plain parameters with real zeros."""
    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return model
