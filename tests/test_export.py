"""The PyTorch exporter: recorded tensors agree with torch's own forward, gradients with autograd."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: threads only add contention on a busy 2-core machine

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import prune as torch_prune  # noqa: E402

from accelsim.export import export as lazy_export  # noqa: E402
from accelsim.export.exporter import UnsupportedOpError, export, layer_specs  # noqa: E402
from accelsim.export.torch_zoo import MatMul  # noqa: E402
from accelsim.trace.format import load_trace  # noqa: E402
from accelsim.trace.lowering import reference_output  # noqa: E402


def _close(a, b, tol=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    scale = max(1.0, float(np.abs(b).max()))
    assert float(np.abs(a - b).max()) <= tol * scale


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.bn(self.conv2(x)), inplace=True)
        x = F.max_pool2d(x, 2)
        return self.fc(torch.flatten(x, 1))


def _inputs(seed=0, shape=(2, 3, 16, 16)):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_conv_and_linear_tensors_match_torch_forward():
    torch.manual_seed(0)
    model = ConvNet().eval()
    x = _inputs()
    trace = export(model, x)
    assert [ly.name for ly in trace] == ["conv1", "conv2", "fc"]
    conv1, conv2, fc = trace
    assert conv1.shape == {"N": 2, "C": 3, "H": 16, "W": 16, "K": 8, "R": 3, "S": 3, "stride": 2, "padding": 1,
                           "groups": 1}
    assert conv2.shape["groups"] == 4 and conv2.weight.shape == (8, 2, 3, 3)
    np.testing.assert_array_equal(conv1.input, x.numpy())
    np.testing.assert_array_equal(conv1.weight, model.conv1.weight.detach().numpy())
    with torch.no_grad():
        a1 = F.relu(model.conv1(x))
        _close(conv1.output + model.conv1.bias.numpy()[None, :, None, None], model.conv1(x).numpy())
        np.testing.assert_array_equal(conv2.input, a1.numpy())  # post-ReLU activation, zeros included
        assert (conv2.input == 0).mean() > 0.2
        np.testing.assert_array_equal(conv2.output, model.conv2(a1).numpy())
        feat = torch.flatten(F.max_pool2d(F.relu(model.bn(model.conv2(a1))), 2), 1)
        np.testing.assert_array_equal(fc.input, feat.numpy())
        _close(fc.output + model.fc.bias.numpy(), model.fc(feat).numpy())
    for layer in trace:
        _close(layer.output, reference_output(layer))
    assert conv1.attrs["bias"] and not conv2.attrs["bias"]


def test_model_output_is_unchanged_by_recording():
    torch.manual_seed(0)
    model = ConvNet().eval()
    x = _inputs()
    with torch.no_grad():
        before = model(x)
    trace = export(model, x)
    assert trace.provenance["skipped_ops"] == {"BatchNorm2d": 1, "max_pool2d": 1, "relu": 2}
    with torch.no_grad():
        after = model(x)
    np.testing.assert_array_equal(before.numpy(), after.numpy())
    # every hook is removed: no forward (pre-)hooks remain on any module
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_pruned_module_exports_masked_weight_not_weight_orig():
    torch.manual_seed(0)
    model = ConvNet().eval()
    torch_prune.l1_unstructured(model.conv1, "weight", amount=0.5)
    trace = export(model, _inputs())
    w = trace["conv1"].weight
    np.testing.assert_array_equal(w, (model.conv1.weight_orig * model.conv1.weight_mask).detach().numpy())
    assert (w == 0).mean() == pytest.approx(0.5, abs=1 / w.size)


class AttentionNet(nn.Module):
    """Linear with 3-D input, per-head batched matmuls, a shared-weight matmul and an `@` at the root."""

    def __init__(self, d=8, heads=2):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.scores = MatMul()
        self.proj = nn.Parameter(torch.randn(d, 3))

    def forward(self, x):
        b, s, d = x.shape
        q = self.q(x).reshape(b, s, self.heads, -1).transpose(1, 2)
        k = self.k(x).reshape(b, s, self.heads, -1).transpose(1, 2)
        att = torch.softmax(self.scores(q, k.transpose(-2, -1)), -1)  # (b, heads, s, s)
        return att.sum() + (x @ self.proj).sum()


def test_matmul_slices_and_linear_rows_match_torch():
    torch.manual_seed(0)
    model = AttentionNet().eval()
    x = _inputs(1, (2, 5, 8))
    trace = export(model, x)
    names = [ly.name for ly in trace]
    assert names == ["q", "k", "scores.b0.h0", "scores.b0.h1", "scores.b1.h0", "scores.b1.h1", "matmul"]
    with torch.no_grad():
        q = model.q(x).reshape(2, 5, 2, 4).transpose(1, 2)
        k = model.k(x).reshape(2, 5, 2, 4).transpose(1, 2)
    assert trace["q"].shape == {"N": 10, "C": 8, "K": 8}
    np.testing.assert_array_equal(trace["q"].input, x.reshape(10, 8).numpy())
    for b in range(2):
        for h in range(2):
            layer = trace[f"scores.b{b}.h{h}"]
            assert layer.shape == {"M": 5, "N": 5, "K": 4}
            np.testing.assert_array_equal(layer.input, q[b, h].numpy())
            np.testing.assert_array_equal(layer.weight, k[b, h].T.numpy())
            _close(layer.output, (q[b, h] @ k[b, h].T).numpy())
    root = trace["matmul"]
    assert root.shape == {"M": 10, "N": 3, "K": 8}
    np.testing.assert_array_equal(root.weight, model.proj.detach().numpy())
    _close(root.output, (x.reshape(10, 8) @ model.proj).detach().numpy())


def _lstm_reference(mod: nn.LSTM, x: torch.Tensor, layer: int, reverse: bool, layer_input: torch.Tensor):
    """Gate pre-activations per step, straight from the LSTM equations (torch docs), no exporter code."""
    sfx = "_reverse" if reverse else ""
    w_ih, w_hh = getattr(mod, f"weight_ih_l{layer}{sfx}"), getattr(mod, f"weight_hh_l{layer}{sfx}")
    b = getattr(mod, f"bias_ih_l{layer}{sfx}") + getattr(mod, f"bias_hh_l{layer}{sfx}")
    steps, batch = layer_input.shape[:2]
    h = torch.zeros(batch, mod.hidden_size)
    c = torch.zeros(batch, mod.hidden_size)
    rows, pre, hs = [], [], [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        z = layer_input[t] @ w_ih.T + h @ w_hh.T
        i, f, g, o = (z + b).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        rows.append(torch.cat([layer_input[t], hs[t + 1] if reverse and t + 1 < steps else
                               (hs[t - 1] if not reverse and t > 0 else torch.zeros(batch, mod.hidden_size))], 1))
        pre.append(z)
        hs[t] = h
    return torch.cat(rows), torch.cat(pre), torch.stack(hs)


def test_lstm_gate_gemv_rows_match_the_lstm_equations():
    torch.manual_seed(0)
    mod = nn.LSTM(4, 3, num_layers=2, bidirectional=True)
    x = _inputs(2, (5, 2, 4))  # (T, B, features)
    trace = export(mod, x)
    # the LSTM is the root module here, so its layers are named after the op
    assert [ly.name for ly in trace] == ["lstm.l0", "lstm.l0_reverse", "lstm.l1", "lstm.l1_reverse"]
    with torch.no_grad():
        out0 = []
        for d, layer in enumerate(trace[:2]):
            rows, pre, hs = _lstm_reference(mod, x, 0, bool(d), x)
            assert layer.shape == {"N": 10, "C": 7, "K": 12, "hidden": 3}
            np.testing.assert_allclose(layer.input, rows.numpy(), atol=1e-6)
            np.testing.assert_allclose(layer.output, pre.numpy(), atol=1e-5)
            np.testing.assert_array_equal(layer.weight, torch.cat([getattr(mod, f"weight_ih_l0{'_reverse' * d}"),
                                                                   getattr(mod, f"weight_hh_l0{'_reverse' * d}")],
                                                                  1).numpy())
            out0.append(hs)
        layer1_in = torch.cat(out0, -1)
        rows, pre, hs1 = _lstm_reference(mod, x, 1, False, layer1_in)
        np.testing.assert_allclose(trace[2].input, rows.numpy(), atol=1e-6)
        np.testing.assert_allclose(trace[2].output, pre.numpy(), atol=1e-5)
        # the reference equations are nn.LSTM's: its output's forward half is the last layer's h_t
        ref_out, _ = mod(x)
        np.testing.assert_allclose(hs1.numpy(), ref_out[..., :3].numpy(), atol=1e-5)
    for layer in trace:
        _close(layer.output, reference_output(layer))
    assert ref_out.shape == (5, 2, 6)


def test_training_trace_gradients_match_autograd():
    torch.manual_seed(0)
    model = ConvNet()
    torch_prune.l1_unstructured(model.fc, "weight", amount=0.3)
    x, y = _inputs(3), torch.tensor([1, 4])
    trace = export(model, x, training=True, targets=y)
    model.train()
    # autograd on an independent forward pass with hooks that keep the bias-free op outputs
    kept = {}

    def keep(name):
        def hook(module, args, out):
            out.retain_grad()
            kept[name] = out
        return hook

    handles = [getattr(model, n).register_forward_hook(keep(n)) for n in ("conv1", "conv2", "fc")]
    loss = F.cross_entropy(model(x), y)
    w_eff = {n: getattr(model, n).weight for n in ("conv1", "conv2", "fc")}
    for w in w_eff.values():
        if not w.is_leaf:
            w.retain_grad()
    loss.backward()
    for h in handles:
        h.remove()
    assert trace.provenance["loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    for name in ("conv1", "conv2", "fc"):
        layer = trace[name]
        _close(layer.grad_output, kept[name].grad.numpy(), 1e-5)
        _close(layer.grad_weight, w_eff[name].grad.numpy(), 1e-5)
        # and the weight gradient is the weight-gradient GEMM of the recorded input and grad_output
        if layer.kind == "linear":
            _close(layer.grad_weight, layer.grad_output.T.astype(np.float64) @ layer.input, 1e-5)
        else:
            s = layer.shape
            gw = torch.nn.grad.conv2d_weight(torch.from_numpy(layer.input), layer.weight.shape,
                                             torch.from_numpy(layer.grad_output), stride=s["stride"],
                                             padding=s["padding"], groups=s["groups"])
            _close(layer.grad_weight, gw.numpy(), 1e-5)
    # the fc weight gradient is dense (the GEMM), not masked: pruned slots get gradient too
    assert (trace["fc"].grad_weight[trace["fc"].weight == 0] != 0).any()
    # export restored BatchNorm statistics and left parameter .grad alone apart from our backward above
    assert model.bn.num_batches_tracked.item() == 1


def test_training_trace_of_lstm_and_matmul_gradients_match_autograd():
    torch.manual_seed(0)
    model = nn.LSTM(3, 2)
    x = _inputs(4, (4, 1, 3))
    trace = export(model, x, training=True, loss_fn=lambda out: (out[0] ** 2).sum())
    (layer,) = trace
    w_cat = torch.cat([model.weight_ih_l0, model.weight_hh_l0], 1).detach().requires_grad_(True)
    b = (model.bias_ih_l0 + model.bias_hh_l0).detach()
    h = torch.zeros(1, 2)
    c = torch.zeros(1, 2)
    zs, hs = [], []
    for t in range(4):
        z = torch.cat([x[t], h], 1) @ w_cat.T
        z.retain_grad()
        i, f, g, o = (z + b).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        zs.append(z)
        hs.append(h)
    (torch.stack(hs) ** 2).sum().backward()
    _close(layer.grad_output, torch.cat([z.grad for z in zs]).numpy(), 1e-5)
    _close(layer.grad_weight, w_cat.grad.numpy(), 1e-5)

    torch.manual_seed(0)
    att = AttentionNet()
    trace = export(att, _inputs(5, (1, 3, 8)), training=True, loss_fn=lambda out: out)
    layer = trace["scores.h1"]
    _close(layer.grad_weight, layer.input.T.astype(np.float64) @ layer.grad_output, 1e-5)
    _close(layer.grad_output, np.full((3, 3), 0.0), 1e-4)  # d(sum softmax)/d scores == 0


def test_unsupported_ops_raise_or_are_skipped_and_listed():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 3, 3)
            self.gru = nn.GRU(3, 2)
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            y = self.conv(x)  # (1, 3, 4)
            out, _ = self.gru(y.permute(2, 0, 1))
            return self.fc(out)

    model = Odd().eval()
    x = _inputs(6, (1, 2, 6))
    with pytest.raises(UnsupportedOpError, match="conv: conv1d is not supported"):
        export(model, x)
    trace = export(model, x, skip_unsupported=True)
    assert [ly.name for ly in trace] == ["fc"]
    assert trace.provenance["unsupported_skipped"] == ["conv: conv1d", "gru: GRU"]
    dilated = nn.Conv2d(2, 2, 3, dilation=2)
    with pytest.raises(UnsupportedOpError, match="dilation"):
        export(dilated, _inputs(7, (1, 2, 8, 8)))


def test_saved_trace_round_trips_and_reexport_is_bit_identical(tmp_path):
    def make(path):
        torch.manual_seed(3)
        model = ConvNet()
        return export(model, _inputs(8), path, training=True, targets=torch.tensor([0, 2]),
                      provenance={"seed": 3})

    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    mem = make(a)
    make(b)
    assert a.read_bytes() == b.read_bytes()
    loaded = load_trace(a)
    assert loaded.provenance["seed"] == 3 and loaded.provenance["training"] is True
    for x, y in zip(mem, loaded, strict=True):
        assert x.name == y.name and x.shape == y.shape
        for t, arr in x.tensors().items():
            np.testing.assert_array_equal(arr, getattr(y, t))
    # the package-level accelsim.export.export is the same exporter
    assert lazy_export(ConvNet().eval(), _inputs(9)).layer_names == ["conv1", "conv2", "fc"]


def test_old_name_accelsim_trace_export_still_works_and_warns():
    import accelsim.trace

    with pytest.warns(DeprecationWarning, match="moved to accelsim.export.export"):
        old = accelsim.trace.export
    assert old is lazy_export
    with pytest.raises(AttributeError):
        accelsim.trace.no_such_name  # noqa: B018


def test_exported_trace_loads_and_simulates_without_torch(tmp_path):
    torch.manual_seed(0)
    model = ConvNet()
    path = tmp_path / "t.safetensors"
    export(model, _inputs(10, (1, 3, 16, 16)), path, training=True, targets=torch.tensor([1]))
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any attempt to import torch now fails
        from accelsim import load_config, load_trace, simulate
        trace = load_trace({str(path)!r})
        result = simulate(trace, load_config("systolic"))
        df = result.to_frame()
        assert list(df["layer"]) == ["conv1", "conv2", "fc"], list(df["layer"])
        assert bool(df["functional_ok"].all())
        assert trace[0].grad_weight is not None
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules if sys.modules[m] is not None)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_layer_specs_on_meta_device_have_no_tensors():
    with torch.device("meta"):
        model = ConvNet()
    specs = layer_specs(model, torch.empty(4, 3, 16, 16, device="meta"))
    assert [(s.name, s.kind, s.shape["N"]) for s in specs] == [("conv1", "conv2d", 4), ("conv2", "conv2d", 4),
                                                               ("fc", "linear", 4)]
