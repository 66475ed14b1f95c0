"""The torch model zoo reproduces the shape zoo's published layer shapes; example inputs are real data."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: threads only add contention on a busy 2-core machine

from accelsim.export import torch_zoo  # noqa: E402
from accelsim.export.exporter import layer_specs  # noqa: E402
from accelsim.trace.zoo import EIE_TABLE3, network_layers  # noqa: E402


def _meta_specs(name: str, batch: int = 1):
    entry = torch_zoo.MODELS[name]
    with torch.device("meta"):
        model = entry.build()
    x, _ = entry.inputs(batch, 0) if name in ("transformer", "lenet5", "lstm") else (None, None)
    if x is None:
        size = 227 if name == "alexnet" else 224
        x = torch.empty(batch, 3, size, size)
    return layer_specs(model, x.to("meta"))


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "transformer"])
@pytest.mark.parametrize("batch", [1, 2])
def test_torch_zoo_layers_equal_the_shape_zoo(name, batch):
    ours = [(s.name, s.kind, s.shape) for s in _meta_specs(name, batch)]
    if name == "transformer":  # compare encoder layer 0 with BERT-base's one layer
        ours = [(n.removeprefix("layers.0."), k, sh) for n, k, sh in ours if n.startswith("layers.0.")]
    theirs = [(s.name, s.kind, s.shape) for s in network_layers(torch_zoo.MODELS[name].shape_zoo, batch)]
    assert ours == theirs


def test_lstm_matches_eie_nt_lstm_without_the_folded_bias():
    specs = {s.name: s for s in _meta_specs("lstm", batch=3)}
    c, k, _, _ = EIE_TABLE3["NT-LSTM"]
    lstm = specs["lstm"]
    assert lstm.kind == "lstm"
    assert lstm.shape == {"N": 8 * 3, "C": c - 1, "K": k, "hidden": k // 4}  # EIE folds the bias in: C = 1201
    assert specs["embed"].shape == {"N": 24, "C": 8, "K": 600} and specs["fc"].shape == {"N": 3, "C": 600, "K": 10}


def test_lenet5_is_lecun_1998():
    specs = [(s.name, s.kind, s.shape) for s in _meta_specs("lenet5", batch=2)]
    assert specs == [
        ("conv1", "conv2d", {"N": 2, "C": 1, "H": 32, "W": 32, "K": 6, "R": 5, "S": 5, "stride": 1, "padding": 0,
                             "groups": 1}),
        ("conv2", "conv2d", {"N": 2, "C": 6, "H": 14, "W": 14, "K": 16, "R": 5, "S": 5, "stride": 1, "padding": 0,
                             "groups": 1}),
        ("fc1", "linear", {"N": 2, "C": 400, "K": 120}),
        ("fc2", "linear", {"N": 2, "C": 120, "K": 84}),
        ("fc3", "linear", {"N": 2, "C": 84, "K": 10}),
    ]


def test_photo_batch_is_the_real_sample_photos():
    x = torch_zoo.photo_batch(224, batch=3, seed=1)
    assert x.shape == (3, 3, 224, 224) and x.dtype == torch.float32
    # normalised photos: roughly zero-mean, unit-ish spread, and the two photos differ
    assert abs(float(x.mean())) < 1.0 and 0.3 < float(x.std()) < 2.0
    assert not torch.equal(x[0], x[1]) and not torch.equal(x[0], x[2])
    np.testing.assert_array_equal(x.numpy(), torch_zoo.photo_batch(224, batch=3, seed=1).numpy())
    tokens = torch_zoo.text_tokens(128, batch=2)
    assert tokens.shape == (2, 128) and bytes(tokens[0, :8].tolist()) == torch_zoo.SAMPLE_TEXT[:8].encode()


def test_build_is_seeded():
    a = torch_zoo.build("lenet5", seed=4)
    b = torch_zoo.build("lenet5", seed=4)
    c = torch_zoo.build("lenet5", seed=5)
    assert torch.equal(a.conv1.weight, b.conv1.weight) and not torch.equal(a.conv1.weight, c.conv1.weight)
