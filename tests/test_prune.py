"""Pruning methods over torch models: each hits its sparsity and its structure."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: threads only add contention on a busy 2-core machine

from torch import nn  # noqa: E402

from accelsim.accelerators.systolic.model import compact_nm  # noqa: E402
from accelsim.errors import AccelsimError  # noqa: E402
from accelsim.export import prune  # noqa: E402
from accelsim.export.exporter import export  # noqa: E402
from accelsim.formats.column_combine import group_conflicts  # noqa: E402
from accelsim.trace.format import load_trace  # noqa: E402
from accelsim.trace.lowering import gemm_operands  # noqa: E402


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 8)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


def _model(seed=0):
    torch.manual_seed(seed)
    return Small()


def _w(module):
    return module.weight.detach().numpy()


def _zeros(a):
    return float((a == 0).mean())


def test_parse_specs():
    P = prune.PruneSpec.parse
    assert P("unstructured") == prune.PruneSpec("unstructured")
    assert P("unstructured:global").scope == "global"
    assert P("block:4x2").block == (4, 2, 1, 1) and P("block:1x16x3x3").block == (1, 16, 3, 3)
    assert P("nm:2:4").implied_sparsity == 0.5
    cc = P("column-combine:8:0.5")
    assert (cc.alpha, cc.gamma) == (8, 0.5) and cc.describe() == {"method": "column-combine", "alpha": 8, "gamma": 0.5}
    for bad in ("nm:5:4", "block:0x2", "column-combine:0:1", "sparse", "block:2x2x2"):
        with pytest.raises(AccelsimError):
            P(bad)


def test_magnitude_layerwise_hits_every_layer_and_keeps_the_largest():
    model = _model()
    dense = {n: _w(getattr(model, n)).copy() for n in ("conv1", "conv2", "fc1", "fc2")}
    rec = prune.magnitude(model, 0.75)
    for name, w0 in dense.items():
        w = _w(getattr(model, name))
        assert (w == 0).sum() == round(0.75 * w.size)
        kept, dropped = np.abs(w0[w != 0]), np.abs(w0[w == 0])
        assert kept.min() >= dropped.max()
        np.testing.assert_array_equal(w[w != 0], w0[w != 0])
    assert rec["achieved_sparsity"] == pytest.approx(0.75, abs=1e-4)
    assert model.accelsim_pruning is rec


def test_magnitude_global_hits_the_total_not_each_layer():
    model = _model()
    rec = prune.magnitude(model, 0.9, scope="global")
    total = sum(_w(getattr(model, n)).size for n in ("conv1", "conv2", "fc1", "fc2"))
    zeros = sum((_w(getattr(model, n)) == 0).sum() for n in ("conv1", "conv2", "fc1", "fc2"))
    assert zeros == round(0.9 * total)
    assert len(set(rec["layer_sparsity"].values())) > 1  # layers end up at different sparsities


def test_iterative_pruning_keeps_pruned_weights_pruned():
    model = _model()
    prune.magnitude(model, 0.5)
    first = _w(model.fc1) == 0
    with torch.no_grad():  # training could regrow weight_orig; the mask must still win
        model.fc1.weight_orig.add_(1.0)
    prune.magnitude(model, 0.8)
    second = _w(model.fc1) == 0
    assert second[first].all() and second.mean() == pytest.approx(0.8, abs=1 / second.size)


@pytest.mark.parametrize(("block", "target"), [((4, 4), 0.5), ((2, 4), 0.75), ((4, 2, 3, 3), 0.5)])
def test_block_pruning_removes_whole_blocks(block, target):
    model = _model()
    prune.block(model, target, block)
    # conv2 (16, 8, 3, 3) and fc1 (32, 256) divide evenly into every block used here
    for name in ("conv2", "fc1"):
        w = _w(getattr(model, name))
        w4 = w.reshape(*w.shape, *([1] * (4 - w.ndim)))
        b = (tuple(block) + (1, 1))[:4] if w.ndim == 4 else (block[0], block[1], 1, 1)
        grid = w4.reshape(w4.shape[0] // b[0], b[0], w4.shape[1] // b[1], b[1],
                          w4.shape[2] // b[2], b[2], w4.shape[3] // b[3], b[3])
        nonzero = (grid != 0).any(axis=(1, 3, 5, 7))
        full = (grid != 0).all(axis=(1, 3, 5, 7))
        np.testing.assert_array_equal(nonzero, full)  # every block is all-zero or untouched
        assert 1 - nonzero.mean() == pytest.approx(target)
        assert _zeros(w) == pytest.approx(target)


def test_block_pruning_removes_the_lowest_mean_blocks():
    lin = nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 1, 9, 0.1], [1, 1, 0.1, 9], [5, 5, 2, 2], [5, 5, 2, 2]]))
    model = nn.Sequential(lin)
    prune.block(model, 0.5, (2, 2))
    # block means: top-left 1, top-right 4.55, bottom-left 5, bottom-right 2 -> the 1 and 2 blocks go
    np.testing.assert_array_equal(_w(lin) != 0, [[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]])


def test_nm_pruning_holds_in_every_group_and_suits_the_systolic_nm_mode():
    model = _model()
    rec = prune.nm(model, 2, 4)
    for name in ("conv1", "conv2", "fc1", "fc2"):
        w = _w(getattr(model, name))
        groups = (w.reshape(w.shape[0], -1) != 0).reshape(w.shape[0], -1, 4).sum(axis=2)
        assert (groups == 2).all()
    assert rec["achieved_sparsity"] == 0.5 and rec["target_sparsity"] == 0.5
    trace = export(model, torch.randn(1, 4, 8, 8))
    for layer in trace:
        _, b = gemm_operands(layer)
        compact_nm(b, 2, 4)  # raises if a group of 4 along the reduction holds more than 2 weights


def test_channel_pruning_removes_whole_filters_but_not_the_classifier():
    model = _model()
    rec = prune.channel(model, 0.5)
    for name in ("conv1", "conv2", "fc1"):
        w = _w(getattr(model, name))
        rows = (w.reshape(w.shape[0], -1) != 0).any(axis=1)
        assert rows.sum() == w.shape[0] // 2
        assert ((w.reshape(w.shape[0], -1) != 0).all(axis=1) == rows).all()
    assert _zeros(_w(model.fc2)) == 0.0 and rec["excluded"] == ["fc2"]
    assert rec["achieved_sparsity"] == pytest.approx(0.5)


def test_column_combine_groups_respect_alpha_and_gamma_and_reach_the_trace(tmp_path):
    model = _model()
    rec = prune.column_combine(model, alpha=4, gamma=0.25, sparsity=0.7)
    assert rec["achieved_sparsity"] >= 0.7
    for name in ("conv1", "conv2", "fc1", "fc2"):
        mod = getattr(model, name)
        attrs = mod.accelsim_attrs["column_combine"]
        mat = _w(mod).reshape(mod.weight.shape[0], -1)
        assert attrs["rows"] == mat.shape[0] and attrs["columns"] == mat.shape[1]
        assert attrs["max_conflicts"] == int(0.25 * mat.shape[0])
        assert all(len(g) <= 4 for g in attrs["groups"])
        assert max(attrs["conflicts"]) <= attrs["max_conflicts"]
        assert group_conflicts(mat, attrs["groups"]) == [0] * len(attrs["groups"])  # one weight per row per group
        grouped = sorted(c for g in attrs["groups"] for c in g)
        assert set(np.flatnonzero((mat != 0).any(axis=0))) <= set(grouped)
        # conflicts removed at most gamma*rows weights per group on top of the magnitude pruning
        assert (mat == 0).sum() <= round(0.7 * mat.size) + sum(attrs["conflicts"])
    assert rec["packing"]["fc1"]["packed_columns"] < rec["packing"]["fc1"]["columns"] / 2
    path = tmp_path / "cc.safetensors"
    export(model, torch.randn(1, 4, 8, 8), path)
    layer = load_trace(path)["fc1"]
    assert layer.attrs["column_combine"]["groups"] == model.fc1.accelsim_attrs["column_combine"]["groups"]


def test_dropback_keeps_a_global_top_k_and_untracked_weights_are_zero():
    model = _model()
    gen = torch.Generator().manual_seed(0)
    data = [(torch.randn(8, 4, 8, 8, generator=gen), torch.randint(0, 8, (8,), generator=gen)) for _ in range(3)]
    w0 = {n: _w(getattr(model, n)).copy() for n in ("conv1", "conv2", "fc1", "fc2")}
    rec = prune.dropback(model, data, sparsity=0.8, steps=80, lr=0.05)
    sizes = {n: w.size for n, w in w0.items()}
    nonzero = sum(int((_w(getattr(model, n)) != 0).sum()) for n in w0)
    assert nonzero == rec["tracked_weights"] == sum(sizes.values()) - round(0.8 * sum(sizes.values()))
    assert rec["achieved_sparsity"] == pytest.approx(0.8, abs=1e-4)
    assert not rec["initial_values_zeroed_early"]  # 0.9^80 < 1e-3: the initial values decayed to zero
    assert len({round(v, 3) for v in rec["layer_sparsity"].values()}) > 1  # a global, not per-layer, budget
    assert rec["final_loss"] < float("inf") and rec["steps"] == 80
    with pytest.raises(AccelsimError, match="at least one"):
        prune.dropback(model, data, sparsity=0.5, steps=0)
    short = _model(1)
    rec = prune.dropback(short, data, sparsity=0.5, steps=3)
    assert rec["initial_values_zeroed_early"] and rec["achieved_sparsity"] == pytest.approx(0.5, abs=1e-4)


def test_apply_finalize_and_lstm_weights():
    model = _model()
    rec = prune.apply(model, "nm:1:4")
    assert rec["achieved_sparsity"] == 0.75
    prune.finalize(model)
    assert not hasattr(model.fc1, "weight_mask") and isinstance(model.fc1.weight, nn.Parameter)
    assert _zeros(_w(model.fc1)) == 0.75
    with pytest.raises(AccelsimError, match="needs a sparsity"):
        prune.apply(_model(), "unstructured")
    with pytest.raises(AccelsimError, match="training data"):
        prune.apply(_model(), "dropback", 0.5)
    lstm = nn.Sequential(nn.LSTM(8, 4))
    prune.apply(lstm, "unstructured", 0.5)
    assert _zeros(lstm[0].weight_ih_l0.detach().numpy()) == 0.5
    layer = export(lstm, torch.randn(3, 1, 8))[0]
    assert _zeros(layer.weight) == 0.5  # the exported cat(W_ih, W_hh) is the masked one
