"""PyTorch exporter: run a model once and record every conv2d, linear, matmul and LSTM as a trace layer.

How it walks the model
----------------------
The model runs inside a :class:`torch.overrides.TorchFunctionMode` that sees every torch call, plus a
forward pre-hook and hook on every submodule that keep the stack of module names (all removed
afterwards). Recorded calls are ``conv2d`` (``nn.Conv2d`` or ``F.conv2d``), ``linear`` (``nn.Linear`` or
``F.linear``), ``matmul`` / ``@`` / ``mm`` / ``bmm``, and ``nn.LSTM`` modules. This catches functional
calls and attention products that a module walk would miss, and it needs no ``torch.fx`` tracing, so
models with Python control flow work too.

What each layer holds (shapes and layouts of :mod:`accelsim.trace.layer`)
--------------------------------------------------------------------------
- ``weight``: the weight tensor the op really received, i.e. a pruned module's masked weight
  (``weight_orig * weight_mask`` as ``torch.nn.utils.prune`` computes it), never ``weight_orig``.
- ``input``: the activation as it really was (ReLU zeros included). ``linear`` inputs with extra
  leading dimensions (``(B, S, C)``) are flattened to ``(B*S, C)`` rows.
- ``output``: the op's product *without bias*, so it equals
  :func:`accelsim.trace.lowering.reference_output`; ``attrs["bias"]`` says whether a bias followed.
  To make that exact the exporter evaluates the op without bias and adds the bias separately; the
  model's result changes only by float rounding.
- ``matmul`` ``a @ b``: ``input`` is ``a`` (M x K), ``weight`` is ``b`` (K x N). If ``b`` is 2-D, the
  leading dimensions of ``a`` are folded into M (one layer). Batched products are split into one
  layer per batch element, because each has its own operands; with two batch dimensions they are
  read as (batch, heads) and named ``<name>.h<h>`` (batch 1) or ``<name>.b<b>.h<h>``, like the shape
  zoo's BERT; otherwise ``<name>.<i>[.<j>...]``.
- ``lstm`` (one layer per LSTM layer and direction, named ``<name>`` or ``<name>.l<k>[_reverse]``): one
  gate GEMV per row, rows in processing order (time step major, then batch; a reverse direction
  runs from the last step), ``input`` row = ``[x_t; h_{t-1}]``, ``weight`` = ``cat(W_ih, W_hh, dim=1)``,
  ``output`` = the gate pre-activations without bias. The exporter re-runs the recurrence in torch
  ops to get these, checks it against the module's own output, and returns its own result to the
  model so that training gradients flow through the recorded tensors.

Layer ``attrs``: ``bias`` (conv2d, linear, lstm); for lstm also ``time_steps``, ``batch``,
``direction`` and ``input_size``; plus whatever accelsim's pruning left in the module's
``accelsim_attrs`` (column combining: ``column_combine`` with the packing).

Training traces (``training=True``)
-----------------------------------
One forward pass of the minibatch in train mode, then ``torch.autograd.grad`` of the loss gives, per
recorded call, ``grad_output`` (dL/d output, same layout as ``output``) and ``grad_weight`` (dL/d
the weight the call received: the dense weight-gradient GEMM, before any pruning mask is applied
to it). Each call gets its own weight alias, so a module called twice gets each call's share.
Parameter ``.grad`` fields are not touched, and buffers (BatchNorm statistics) are restored.

Everything else (BatchNorm, pooling, activations, element-wise ops, embeddings) is skipped and
counted in the provenance (``skipped_ops``). Ops that do multiply-accumulates the trace format
cannot express (conv1d/3d, transposed or dilated conv, GRU, ``nn.MultiheadAttention``, einsum,
addmm, ...) raise :class:`UnsupportedOpError`, or with ``skip_unsupported=True`` are listed in
``provenance["unsupported_skipped"]`` with a warning.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from accelsim.errors import AccelsimError
from accelsim.trace.format import Trace
from accelsim.trace.layer import Layer, LayerSpec

log = logging.getLogger(__name__)


class UnsupportedOpError(AccelsimError):
    """The model does multiply-accumulates in an op the trace format cannot express."""


_CONV2D = {torch.conv2d}
_LINEAR = {torch._C._nn.linear}
_MATMUL = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.Tensor.mm,
           torch.bmm, torch.Tensor.bmm}
_UNSUPPORTED = {
    torch.conv1d: "conv1d", torch.conv3d: "conv3d", torch.conv_transpose1d: "conv_transpose1d",
    torch.conv_transpose2d: "conv_transpose2d", torch.conv_transpose3d: "conv_transpose3d",
    torch.bilinear: "bilinear", torch.einsum: "einsum", torch.tensordot: "tensordot",
    torch.addmm: "addmm", torch.Tensor.addmm: "addmm", torch.baddbmm: "baddbmm", torch.Tensor.baddbmm: "baddbmm",
    torch.addbmm: "addbmm", torch.addmv: "addmv", torch.mv: "mv", torch.Tensor.mv: "mv",
    F.multi_head_attention_forward: "multi_head_attention_forward",
    F.scaled_dot_product_attention: "scaled_dot_product_attention",
    torch.gru: "gru", torch.rnn_tanh: "rnn_tanh", torch.rnn_relu: "rnn_relu", torch.lstm: "lstm (functional)",
    torch.lstm_cell: "lstm_cell", torch.gru_cell: "gru_cell",
}
#: Modules handled (or refused) as a whole; the calls inside them are not looked at.
_UNSUPPORTED_MODULES = (nn.RNN, nn.GRU, nn.RNNCellBase, nn.MultiheadAttention)

#: Calls that move or describe data without computing; not listed as skipped ops.
_NOT_OPS = {
    "__get__", "__set__", "size", "dim", "view", "view_as", "reshape", "reshape_as", "flatten", "transpose",
    "permute", "contiguous", "unsqueeze", "squeeze", "expand", "expand_as", "chunk", "split", "unbind",
    "__getitem__", "__setitem__", "numel", "t", "to", "type", "float", "double", "half", "detach", "clone",
    "stride", "is_contiguous", "zeros", "ones", "empty", "arange", "full", "zeros_like", "ones_like",
    "empty_like", "tensor", "__len__", "__iter__", "__bool__", "__format__", "__repr__", "__hash__", "item",
    "tolist", "cat", "stack", "narrow", "select", "dtype", "device", "requires_grad_", "copy_", "cpu",
    "new_zeros", "new_empty", "numpy", "broadcast_to", "__reversed__", "__contains__", "is_floating_point",
    "data_ptr", "element_size", "storage_offset", "untyped_storage", "_has_compatible_shallow_copy_type",
}


@dataclass
class _Record:
    """One recorded call, before it becomes one or more trace layers."""

    module: str
    op: str
    kind: str
    shape: dict[str, int]
    suffix: str = ""
    attrs: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    #: tensors kept for the backward pass: the op's output (or the LSTM's per-step outputs) and weight alias
    grad_outputs: list[torch.Tensor] = field(default_factory=list)
    grad_weight: torch.Tensor | None = None
    #: batch shape of a batched matmul (one trace layer per element), () otherwise
    batch: tuple[int, ...] = ()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).contiguous().numpy().copy()


def _bind(args: tuple, kwargs: dict, names: Sequence[str], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    out.update(zip(names, args, strict=False))
    out.update(kwargs)
    return out


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))
    return int(v), int(v)


class _Recorder(TorchFunctionMode):
    """Intercepts the model's torch calls and records the ones the trace format models."""

    def __init__(self, *, shapes_only: bool, training: bool, skip_unsupported: bool) -> None:
        super().__init__()
        self.shapes_only = shapes_only
        self.training = training
        self.skip_unsupported = skip_unsupported
        self.stack: list[tuple[str, bool]] = [("", False)]  # (module name, is leaf)
        self.records: list[_Record] = []
        self.skipped: Counter[str] = Counter()
        self.unsupported: list[str] = []
        self.suspended = 0
        self._marks: list[int] = []

    # -- module hooks ---------------------------------------------------------------------------
    def pre_hook(self, name: str, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.stack.append((name, next(module.children(), None) is None))
        self._marks.append(len(self.records))
        if isinstance(module, nn.LSTM) or isinstance(module, _UNSUPPORTED_MODULES):
            self.suspended += 1

    def post_hook(self, name: str, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        result = None
        if isinstance(module, nn.LSTM) or isinstance(module, _UNSUPPORTED_MODULES):
            try:
                if isinstance(module, nn.LSTM):
                    result = self._lstm(name, module, args, kwargs, output)
                else:
                    self._unsupported(name, type(module).__name__)
            finally:
                self.suspended -= 1
        mark = self._marks.pop()
        _, leaf = self.stack.pop()
        if leaf and len(self.records) == mark and not isinstance(module, _UNSUPPORTED_MODULES) \
                and not self.suspended:
            self.skipped[type(module).__name__] += 1
        return result

    # -- function mode --------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.suspended:
            return func(*args, **kwargs)
        if func in _CONV2D:
            return self._conv2d(func, args, kwargs)
        if func in _LINEAR:
            return self._linear(func, args, kwargs)
        if func in _MATMUL:
            return self._matmul(func, args, kwargs)
        if func in _UNSUPPORTED:
            self._unsupported(self.stack[-1][0], _UNSUPPORTED[func])
            return func(*args, **kwargs)
        name, leaf = self.stack[-1]
        if not leaf:
            fname = getattr(func, "__name__", str(func))
            if fname not in _NOT_OPS:
                self.skipped[fname.strip("_")] += 1
        return func(*args, **kwargs)

    # -- helpers --------------------------------------------------------------------------------
    def _unsupported(self, where: str, what: str) -> None:
        where = where or "<model>"
        if not self.skip_unsupported:
            raise UnsupportedOpError(
                f"{where}: {what} is not supported by the trace format (supported: conv2d, linear, "
                f"matmul/bmm, LSTM); pass skip_unsupported=True (--skip-unsupported) to leave it out")
        entry = f"{where}: {what}"
        if entry not in self.unsupported:
            log.warning("skipping unsupported op %s", entry)
            self.unsupported.append(entry)

    def _alias(self, w: torch.Tensor) -> torch.Tensor:
        # A fresh view per call, so dL/d(alias) is this call's weight gradient only.
        return w.view_as(w) if (self.training and w.requires_grad) else w

    def _keep(self, rec: _Record, inputs: torch.Tensor, weight: torch.Tensor, output: torch.Tensor) -> None:
        if not self.shapes_only:
            rec.arrays = {"input": _np(inputs), "weight": _np(weight), "output": _np(output)}
        if self.training and output.requires_grad:
            rec.grad_outputs = [output]
            rec.grad_weight = weight if weight.requires_grad else None
        self.records.append(rec)

    def _ret(self, out: torch.Tensor) -> torch.Tensor:
        # In training the kept output must not be changed in place by the model (inplace ReLU & co.).
        return out.clone() if (self.training and out.requires_grad) else out

    # -- conv2d ---------------------------------------------------------------------------------
    def _conv2d(self, func, args, kwargs):
        p = _bind(args, kwargs, ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
                  {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1})
        x, w, b = p["input"], p["weight"], p["bias"]
        stride, dilation = _pair(p["stride"]), _pair(p["dilation"])
        r, s = int(w.shape[2]), int(w.shape[3])
        problem = None
        padding = p["padding"]
        if isinstance(padding, str):
            if padding == "valid":
                padding = 0
            elif r == s and r % 2 == 1 and stride == (1, 1) and dilation == (1, 1):
                padding = (r - 1) // 2
            else:
                problem = f"padding='same' with a {r}x{s} kernel"
        if problem is None:
            padding = _pair(padding)
            if stride[0] != stride[1]:
                problem = f"unequal strides {stride}"
            elif padding[0] != padding[1]:
                problem = f"unequal padding {padding}"
            elif dilation != (1, 1):
                problem = f"dilation {dilation}"
            elif x.dim() not in (3, 4):
                problem = f"a {x.dim()}-D input"
        if problem is not None:
            self._unsupported(self.stack[-1][0], f"conv2d with {problem}")
            return func(*args, **kwargs)
        unbatched = x.dim() == 3
        x4 = x.unsqueeze(0) if unbatched else x
        wa = self._alias(w)
        out = torch.conv2d(x4, wa, None, stride[0], padding[0], 1, p["groups"])
        n, c, h, wd = (int(v) for v in x4.shape)
        shape = {"N": n, "C": c, "H": h, "W": wd, "K": int(w.shape[0]), "R": r, "S": s,
                 "stride": stride[0], "padding": padding[0], "groups": int(p["groups"])}
        self._keep(_Record(self.stack[-1][0], "conv2d", "conv2d", shape, attrs={"bias": b is not None}),
                   x4, wa, out)
        result = self._ret(out) if b is None else out + b.view(1, -1, 1, 1)
        return result.squeeze(0) if unbatched else result

    # -- linear ---------------------------------------------------------------------------------
    def _linear(self, func, args, kwargs):
        p = _bind(args, kwargs, ("input", "weight", "bias"), {"bias": None})
        x, w, b = p["input"], p["weight"], p["bias"]
        if w.dim() != 2 or x.dim() < 1:
            self._unsupported(self.stack[-1][0], f"linear with a {w.dim()}-D weight")
            return func(*args, **kwargs)
        c = int(w.shape[1])
        x2 = x.reshape(-1, c)
        wa = self._alias(w)
        out = F.linear(x2, wa)
        shape = {"N": int(x2.shape[0]), "C": c, "K": int(w.shape[0])}
        self._keep(_Record(self.stack[-1][0], "linear", "linear", shape, attrs={"bias": b is not None}),
                   x2, wa, out)
        result = (self._ret(out) if b is None else out + b).reshape(*x.shape[:-1], int(w.shape[0]))
        return result

    # -- matmul ---------------------------------------------------------------------------------
    def _matmul(self, func, args, kwargs):
        p = _bind(args, kwargs, ("input", "other"), {})
        a = p.get("input", p.get("self"))
        b = p.get("other", p.get("mat2"))
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.dim() == 0 or b.dim() == 0 \
                or not (a.is_floating_point() and b.is_floating_point()):
            return func(*args, **kwargs)
        a2 = a.unsqueeze(0) if a.dim() == 1 else a
        b2 = b.unsqueeze(-1) if b.dim() == 1 else b
        k, n = int(b2.shape[-2]), int(b2.shape[-1])
        name = self.stack[-1][0]
        if b2.dim() == 2:
            a_flat = a2.reshape(-1, k)
            wa = self._alias(b2)
            out = torch.mm(a_flat, wa)
            rec = _Record(name, "matmul", "matmul", {"M": int(a_flat.shape[0]), "N": n, "K": k})
            self._keep(rec, a_flat, wa, out)
            result = self._ret(out).reshape(*a2.shape[:-1], n)
        else:
            batch = tuple(int(v) for v in torch.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
            ae = a2.expand(*batch, *a2.shape[-2:])
            be = b2.expand(*batch, *b2.shape[-2:])
            if self.training and be.requires_grad and be is b2:
                be = be.view_as(be)
            out = torch.matmul(ae, be)
            rec = _Record(name, "matmul", "matmul", {"M": int(a2.shape[-2]), "N": n, "K": k}, batch=batch)
            self._keep(rec, ae, be, out)
            result = self._ret(out)
        if a.dim() == 1:
            result = result.squeeze(-2)
        if b.dim() == 1:
            result = result.squeeze(-1)
        return result

    # -- LSTM -----------------------------------------------------------------------------------
    def _lstm(self, name: str, mod: nn.LSTM, args: tuple, kwargs: dict, output: Any) -> Any:
        x = args[0] if args else kwargs.get("input")
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        if not isinstance(x, torch.Tensor):
            self._unsupported(name, "LSTM with a packed sequence")
            return None
        if mod.proj_size > 0:
            self._unsupported(name, "LSTM with proj_size > 0")
            return None
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1 if not mod.batch_first else 0)
        seq = x.transpose(0, 1) if mod.batch_first else x  # (T, B, features)
        steps, batch = int(seq.shape[0]), int(seq.shape[1])
        hidden, layers = mod.hidden_size, mod.num_layers
        dirs = 2 if mod.bidirectional else 1
        if hx is None:
            zeros = seq.new_zeros(layers * dirs, batch, hidden)
            h0, c0 = zeros, zeros
        else:
            h0, c0 = hx
            if unbatched:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        layer_input = seq
        h_n, c_n = [], []
        for layer in range(layers):
            outs = []
            for d in range(dirs):
                sfx = "_reverse" if d else ""
                w_cat = torch.cat([getattr(mod, f"weight_ih_l{layer}{sfx}"), getattr(mod, f"weight_hh_l{layer}{sfx}")],
                                  dim=1)
                bias = (getattr(mod, f"bias_ih_l{layer}{sfx}") + getattr(mod, f"bias_hh_l{layer}{sfx}")
                        if mod.bias else None)
                h, c = h0[layer * dirs + d], c0[layer * dirs + d]
                order = range(steps - 1, -1, -1) if d else range(steps)
                rows, zs, hs = [], [], [None] * steps
                for t in order:
                    row = torch.cat([layer_input[t], h], dim=1)
                    z = torch.mm(row, w_cat.t())
                    gates = z if bias is None else z + bias
                    i, f, g, o = gates.chunk(4, dim=1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                    rows.append(row)
                    zs.append(z)
                    hs[t] = h
                outs.append(torch.stack(hs))
                h_n.append(h)
                c_n.append(c)
                suffix = (f".l{layer}" if layers > 1 else "") + (sfx if dirs > 1 else "")
                c_in = int(w_cat.shape[1])
                rec = _Record(name, "lstm", "lstm", {"N": steps * batch, "C": c_in, "K": 4 * hidden, "hidden": hidden},
                              suffix=suffix, attrs={"bias": bool(mod.bias), "time_steps": steps, "batch": batch,
                                                    "direction": "reverse" if d else "forward",
                                                    "input_size": c_in - hidden})
                if not self.shapes_only:
                    rec.arrays = {"input": _np(torch.cat(rows)), "weight": _np(w_cat), "output": _np(torch.cat(zs))}
                if self.training and zs[0].requires_grad:
                    rec.grad_outputs = zs
                    rec.grad_weight = w_cat if w_cat.requires_grad else None
                self.records.append(rec)
            layer_input = torch.cat(outs, dim=-1) if dirs > 1 else outs[0]
            if mod.dropout and mod.training and layer < layers - 1:
                layer_input = F.dropout(layer_input, mod.dropout, training=True)
        out = layer_input.transpose(0, 1) if mod.batch_first else layer_input
        hn, cn = torch.stack(h_n), torch.stack(c_n)
        if unbatched:
            out = out.squeeze(1 if not mod.batch_first else 0)
            hn, cn = hn.squeeze(1), cn.squeeze(1)
        if not self.shapes_only and not (mod.training and mod.dropout):
            ref = output[0].detach()
            err = float((out.detach() - ref).abs().max()) if ref.numel() else 0.0
            scale = max(1.0, float(ref.abs().max())) if ref.numel() else 1.0
            if err > 1e-4 * scale:
                log.warning("%s: re-run LSTM recurrence differs from the module by %.3g", name, err)
        return out, (hn, cn)


def _layer_names(records: list[_Record]) -> list[str]:
    """Base name per record: the module's name, or module + op (+ index) when a module makes several calls."""
    by_module: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_module[(r.module, r.suffix)].append(i)
    names = [""] * len(records)
    for (module, suffix), idxs in by_module.items():
        if len(idxs) == 1 and module:
            names[idxs[0]] = module + suffix
            continue
        ops = Counter(records[i].op for i in idxs)
        seen: Counter[str] = Counter()
        for i in idxs:
            op = records[i].op
            tag = op if ops[op] == 1 else f"{op}{seen[op]}"
            seen[op] += 1
            names[i] = (f"{module}.{tag}" if module else tag) + suffix
    return names


def _slice_suffixes(batch: tuple[int, ...]) -> list[str]:
    count = int(np.prod(batch)) if batch else 1
    if count == 1:
        return [""]
    idx = np.indices(batch).reshape(len(batch), -1).T
    if len(batch) == 2:
        return [f".h{h}" if batch[0] == 1 else f".b{b}.h{h}" for b, h in idx]
    return ["." + ".".join(str(v) for v in row) for row in idx]


def _unique(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for n in names:
        seen[n] += 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def _as_tuple(example_inputs: Any) -> tuple:
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def _run(model: nn.Module, inputs: tuple, *, shapes_only: bool, training: bool, skip_unsupported: bool,
         loss_fn: Callable | None = None, targets: Any = None) -> tuple[_Recorder, Any]:
    rec = _Recorder(shapes_only=shapes_only, training=training, skip_unsupported=skip_unsupported)
    handles = []
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(
                lambda m, a, k, _n=name: rec.pre_hook(_n, m, a, k), with_kwargs=True, prepend=True))
            handles.append(module.register_forward_hook(
                lambda m, a, k, o, _n=name: rec.post_hook(_n, m, a, k, o), with_kwargs=True))
        with rec:
            out = model(*inputs)
        loss = None
        if training:
            loss = loss_fn(out, targets) if targets is not None else loss_fn(out)
            if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
                raise AccelsimError("loss_fn must return a scalar tensor")
    finally:
        for h in handles:
            h.remove()
    return rec, loss


def _records_to_layers(rec: _Recorder, grads: dict[int, torch.Tensor]) -> list[Layer]:
    layers: list[Layer] = []
    for r, base in zip(rec.records, _layer_names(rec.records), strict=True):
        arrays = dict(r.arrays)
        for key, tensors in (("grad_output", r.grad_outputs), ("grad_weight", [r.grad_weight])):
            if tensors and tensors[0] is not None:
                parts = [grads.get(id(t)) for t in tensors]
                parts = [np.zeros(tuple(t.shape), np.float32) if g is None else _np(g)
                         for t, g in zip(tensors, parts, strict=True)]
                arrays[key] = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if not r.batch:
            layers.append(Layer(base, r.kind, dict(r.shape), attrs=dict(r.attrs), **arrays))
            continue
        flat = {k: v.reshape(-1, *v.shape[len(r.batch):]) for k, v in arrays.items()}
        for i, sfx in enumerate(_slice_suffixes(r.batch)):
            layers.append(Layer(base + sfx, r.kind, dict(r.shape), attrs=dict(r.attrs),
                                **{k: np.ascontiguousarray(v[i]) for k, v in flat.items()}))
    names = _unique([ly.name for ly in layers])
    for ly, n in zip(layers, names, strict=True):
        ly.name = n
    return layers


def _module_attrs(model: nn.Module) -> dict[str, dict]:
    """Per-module extra attributes set by accelsim's pruning (e.g. the column-combining packing)."""
    return {name: dict(m.accelsim_attrs) for name, m in model.named_modules()
            if isinstance(getattr(m, "accelsim_attrs", None), dict)}


def tool_versions() -> dict[str, str]:
    from accelsim.version import __version__

    return {"accelsim": __version__, "torch": torch.__version__, "numpy": np.__version__}


def record(model: nn.Module, example_inputs: Any, *, training: bool = False, loss_fn: Callable | None = None,
           targets: Any = None, skip_unsupported: bool = False) -> tuple[list[Layer], dict[str, Any]]:
    """Run ``model`` once and return its trace layers plus what was skipped (no file written)."""
    inputs = _as_tuple(example_inputs)
    if training and loss_fn is None:
        if targets is None:
            raise AccelsimError("a training trace needs loss_fn or targets (for cross-entropy)")
        loss_fn = F.cross_entropy
    was_training = model.training
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    try:
        model.train(training)
        if training:
            rec, loss = _run(model, inputs, shapes_only=False, training=True, skip_unsupported=skip_unsupported,
                             loss_fn=loss_fn, targets=targets)
            wanted: list[torch.Tensor] = []
            for r in rec.records:
                wanted += [t for t in r.grad_outputs if t.requires_grad]
                if r.grad_weight is not None:
                    wanted.append(r.grad_weight)
            grads = {}
            if wanted:
                values = torch.autograd.grad(loss, wanted, allow_unused=True)
                grads = {id(t): g for t, g in zip(wanted, values, strict=True) if g is not None}
        else:
            with torch.no_grad():
                rec, _ = _run(model, inputs, shapes_only=False, training=False, skip_unsupported=skip_unsupported)
            grads = {}
    finally:
        model.train(was_training)
        with torch.no_grad():
            named = dict(model.named_buffers())
            for k, v in buffers.items():
                if k in named:
                    named[k].copy_(v)
    if not rec.records:
        raise AccelsimError(f"{type(model).__name__} has no conv2d, linear, matmul or LSTM call to export")
    layers = _records_to_layers(rec, grads)
    attrs = _module_attrs(model)
    for r, layer in zip(_expand_records(rec.records), layers, strict=True):
        if r.module in attrs:
            layer.attrs.update(attrs[r.module])
    info = {"skipped_ops": dict(sorted(rec.skipped.items())), "unsupported_skipped": list(rec.unsupported)}
    if training:
        info["loss"] = float(loss.detach())
    return layers, info


def _expand_records(records: list[_Record]) -> list[_Record]:
    out = []
    for r in records:
        out += [r] * (int(np.prod(r.batch)) if r.batch else 1)
    return out


def export(model: nn.Module, example_inputs: Any, path: str | os.PathLike | None = None, *, training: bool = False,
           loss_fn: Callable | None = None, targets: Any = None, provenance: dict[str, Any] | None = None,
           skip_unsupported: bool = False, name: str | None = None) -> Trace:
    """Export a PyTorch model's layers, with real weights and activations, as an accelsim trace.

    Parameters
    ----------
    model
        Any ``nn.Module``; pruned modules (``torch.nn.utils.prune``) export their masked weights.
    example_inputs
        A tensor or a tuple of positional inputs for ``model``.
    path
        If given, the trace is also written there (``.safetensors``).
    training
        Record a training trace: one forward/backward pass in train mode, adding ``grad_output`` and
        ``grad_weight`` per layer. Needs ``loss_fn(output, targets)`` or ``targets`` (cross-entropy).
    provenance
        Extra provenance (model name, pruning, data, seed, ...); merged over what the exporter
        records itself (skipped ops, training flag, the model's ``accelsim_pruning`` record, tool versions).
    skip_unsupported
        Leave out ops the trace format cannot express, with a warning, instead of raising
        :class:`UnsupportedOpError`.

    The model runs in eval mode for an inference trace and in train mode for a training trace; its
    previous mode, buffers and parameter gradients are left as they were.
    """
    layers, info = record(model, example_inputs, training=training, loss_fn=loss_fn, targets=targets,
                          skip_unsupported=skip_unsupported)
    prov: dict[str, Any] = {"model": name or type(model).__name__, "exporter": "accelsim.export.exporter",
                            "training": training, "tools": tool_versions(), **info}
    pruning = getattr(model, "accelsim_pruning", None)
    if pruning is not None:
        prov["pruning"] = pruning
    prov.update(provenance or {})
    trace = Trace(layers, _jsonable(prov), name=name or prov["model"])
    if path is not None:
        trace.save(path)
    return trace


def layer_specs(model: nn.Module, example_inputs: Any, *, skip_unsupported: bool = False) -> list[LayerSpec]:
    """The layer shapes the exporter would record, without tensors.

    Works on the ``meta`` device (build the model under ``with torch.device("meta"):`` and pass meta
    inputs), so even VGG-16 is checked in milliseconds.
    """
    with torch.no_grad():
        rec, _ = _run(model, _as_tuple(example_inputs), shapes_only=True, training=False,
                      skip_unsupported=skip_unsupported)
    specs = []
    for r, base in zip(rec.records, _layer_names(rec.records), strict=True):
        for sfx in _slice_suffixes(r.batch):
            specs.append(LayerSpec(base + sfx, r.kind, dict(r.shape)))
    return specs


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    return obj
