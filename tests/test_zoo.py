"""Checks of the network shape zoo against the published architectures and figures."""

from __future__ import annotations

import pytest

from accelsim.trace.layer import conv_output_hw, dense_macs
from accelsim.trace.zoo import (
    NETWORKS,
    SIGMA_SPARSE_DENSITY,
    UnknownNetworkError,
    network_layers,
)


def _total(name: str, batch: int = 1) -> int:
    return sum(dense_macs(s.kind, s.shape) for s in network_layers(name, batch))


def _by_name(name: str) -> dict:
    return {s.name: s for s in network_layers(name)}


def _out_hw(spec) -> tuple[int, int]:
    return conv_output_hw(spec.shape)


# ------------------------------------------------------------------------------- MAC totals

@pytest.mark.parametrize(
    ("network", "published", "rel"),
    [
        ("alexnet", 724e6, 0.01),  # grouped conv2/4/5: ~666M conv + ~58.6M fc
        ("alexnet-conv", 666e6, 0.01),
        ("vgg16", 15.47e9, 0.01),  # Simonyan & Zisserman config D
        ("vgg16-conv", 15.35e9, 0.01),
        ("resnet18", 1.82e9, 0.02),  # He et al. Table 1: 1.8e9
        ("resnet50", 4.1e9, 0.02),  # torchvision v1.5: 4.09e9
        ("mobilenet_v2", 300e6, 0.02),  # Sandler et al. Table 3: 300M multiply-adds
    ],
)
def test_total_dense_macs_match_published(network: str, published: float, rel: float) -> None:
    assert _total(network) == pytest.approx(published, rel=rel)


def test_googlenet_macs_match_szegedy_table1() -> None:
    layers = network_layers("googlenet")
    # Table 1's ops column sums to ~1.50G, but its conv1 row (34M) is a misprint: a 7x7x3 conv to
    # 112x112x64 is 118M. Everything except conv1 must match the table's remaining 1.468G.
    conv1 = layers[0]
    assert conv1.name == "conv1.7x7_s2"
    assert conv1.macs == 7 * 7 * 3 * 64 * 112 * 112
    table1_rest = (360 + 128 + 304 + 73 + 88 + 100 + 119 + 170 + 54 + 71 + 1) * 1e6
    assert sum(s.macs for s in layers[1:]) == pytest.approx(table1_rest, rel=0.01)
    assert _total("googlenet") == pytest.approx(1.5e9, rel=0.06)


@pytest.mark.parametrize(
    ("module", "table1_ops"),
    [("conv2", 360e6), ("inception_3a", 128e6), ("inception_3b", 304e6), ("inception_4a", 73e6),
     ("inception_4b", 88e6), ("inception_4c", 100e6), ("inception_4d", 119e6), ("inception_4e", 170e6),
     ("inception_5b", 71e6)],
)
def test_googlenet_module_macs(module: str, table1_ops: float) -> None:
    macs = sum(s.macs for s in network_layers("googlenet") if s.name.split(".")[0] == module)
    assert macs == pytest.approx(table1_ops, rel=0.01)


def test_alexnet_grouped_convs() -> None:
    net = _by_name("alexnet")
    assert [net[n].shape["groups"] for n in ("conv1", "conv2", "conv3", "conv4", "conv5")] == [1, 2, 1, 2, 2]
    assert net["conv2"].tensor_shapes["weight"] == (256, 48, 5, 5)
    assert net["conv2"].macs == 256 * 27 * 27 * 48 * 25
    fc = net["fc6"].macs + net["fc7"].macs + net["fc8"].macs
    assert fc == 9216 * 4096 + 4096 * 4096 + 4096 * 1000


def test_bert_base_encoder_gemms() -> None:
    layers = network_layers("bert-base")
    s, d, h, f = 128, 768, 12, 3072
    # 4 projections + per-head QK^T and PV + FFN
    assert _total("bert-base") == 4 * s * d * d + 2 * s * s * d + 2 * s * d * f
    scores = [x for x in layers if x.name.startswith("attn.scores.")]
    context = [x for x in layers if x.name.startswith("attn.context.")]
    assert len(scores) == len(context) == h
    assert scores[0].kind == "matmul" and scores[0].shape == {"M": s, "N": s, "K": d // h}
    assert context[0].shape == {"M": s, "N": d // h, "K": s}
    net = _by_name("bert-base")
    assert net["ffn.fc1"].shape == {"N": s, "C": d, "K": f}
    assert net["ffn.fc2"].shape == {"N": s, "C": f, "K": d}
    assert net["attn.q"].kind == "linear"
    assert not any(x.relu_input for x in layers)


# ------------------------------------------------------------------------------- per-layer shapes

def test_alexnet_feature_map_sizes() -> None:
    net = _by_name("alexnet")
    assert net["conv1"].shape["H"] == 227
    assert _out_hw(net["conv1"]) == (55, 55)
    assert _out_hw(net["conv2"]) == (27, 27)
    assert _out_hw(net["conv5"]) == (13, 13)
    assert net["fc6"].shape["C"] == 256 * 6 * 6


def test_vgg16_feature_map_sizes() -> None:
    net = _by_name("vgg16")
    assert _out_hw(net["conv1_1"]) == (224, 224)
    assert _out_hw(net["conv3_3"]) == (56, 56)
    assert _out_hw(net["conv5_3"]) == (14, 14)
    assert net["fc6"].shape["C"] == 25088


def test_resnet_feature_map_sizes() -> None:
    net = _by_name("resnet50")
    assert _out_hw(net["conv1"]) == (112, 112)
    assert _out_hw(net["layer1.2.conv3"]) == (56, 56)
    assert _out_hw(net["layer2.0.conv2"]) == (28, 28)
    assert _out_hw(net["layer2.0.downsample"]) == (28, 28)
    assert net["layer2.0.downsample"].shape["H"] == 56
    assert _out_hw(net["layer3.5.conv3"]) == (14, 14)
    for b in range(3):
        assert _out_hw(net[f"layer4.{b}.conv3"]) == (7, 7)
    assert net["layer4.2.conv3"].shape["K"] == 2048
    assert net["fc"].shape == {"N": 1, "C": 2048, "K": 1000}
    r18 = _by_name("resnet18")
    assert _out_hw(r18["layer4.1.conv2"]) == (7, 7)
    assert r18["fc"].shape["C"] == 512


def test_googlenet_feature_map_sizes() -> None:
    net = _by_name("googlenet")
    assert _out_hw(net["conv1.7x7_s2"]) == (112, 112)
    assert _out_hw(net["conv2.3x3"]) == (56, 56)
    assert _out_hw(net["inception_3a.5x5"]) == (28, 28)
    assert net["inception_3a.5x5"].shape["R"] == 5
    assert net["inception_3b.1x1"].shape["C"] == 256
    assert _out_hw(net["inception_4e.pool_proj"]) == (14, 14)
    assert net["inception_4a.1x1"].shape["C"] == 480
    assert _out_hw(net["inception_5b.3x3"]) == (7, 7)
    assert net["fc"].shape["C"] == 1024


def test_mobilenet_v2_depthwise_and_sizes() -> None:
    layers = network_layers("mobilenet_v2")
    dws = [x for x in layers if x.name.endswith(".dw")]
    assert len(dws) == 17
    for dw in dws:
        assert dw.shape["groups"] == dw.shape["C"] == dw.shape["K"]
        assert dw.tensor_shapes["weight"][1] == 1
    net = {x.name: x for x in layers}
    assert "block0.expand" not in net  # t = 1
    assert net["block1.expand"].shape["K"] == 16 * 6
    assert _out_hw(net["conv1"]) == (112, 112)
    assert _out_hw(net["block16.project"]) == (7, 7)
    assert net["conv_last"].shape["K"] == 1280
    assert net["block1.expand"].relu_input is False


# ------------------------------------------------------------------------------- layer counts

def test_layer_counts() -> None:
    vgg = network_layers("vgg16")
    assert len(vgg) == 16
    assert [x.name for x in vgg[:13]] == [x.name for x in network_layers("vgg16-conv")]
    assert [x.name for x in vgg[13:]] == ["fc6", "fc7", "fc8"]

    r50 = network_layers("resnet50")
    convs = [x for x in r50 if x.kind == "conv2d"]
    assert len(convs) == 53
    assert [x.name for x in convs if x.name.endswith("downsample")] == [
        "layer1.0.downsample", "layer2.0.downsample", "layer3.0.downsample", "layer4.0.downsample"]
    assert [x.name for x in r50 if x.kind == "linear"] == ["fc"]

    r18 = network_layers("resnet18")
    assert sum(x.kind == "conv2d" for x in r18) == 20
    assert sum(x.name.endswith("downsample") for x in r18) == 3

    g = network_layers("googlenet")
    assert sum(x.kind == "conv2d" for x in g) == 3 + 9 * 6
    assert len(network_layers("googlenet-conv")) == len(g) - 1

    assert [x.name for x in network_layers("alexnet")] == [
        "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert len(network_layers("alexnet-conv")) == 5
    assert sum(x.kind == "conv2d" for x in network_layers("mobilenet_v2")) == 52


def test_names_unique_and_first_layer_not_relu() -> None:
    for name in NETWORKS:
        layers = NETWORKS[name]()
        assert layers, name
        names = [x.name for x in layers]
        assert len(set(names)) == len(names), name
    for name in ("alexnet", "vgg16", "resnet18", "resnet50", "googlenet", "mobilenet_v2"):
        layers = network_layers(name)
        assert layers[0].relu_input is False
        assert all(x.relu_input for x in layers[1:3])


# ------------------------------------------------------------------------------- densities

EIE_TABLE_III = {  # name: (input, output, weight density, activation density)
    "Alex-6": (9216, 4096, 0.09, 0.351), "Alex-7": (4096, 4096, 0.09, 0.353),
    "Alex-8": (4096, 1000, 0.25, 0.375), "VGG-6": (25088, 4096, 0.04, 0.183),
    "VGG-7": (4096, 4096, 0.04, 0.375), "VGG-8": (4096, 1000, 0.23, 0.411),
    "NT-We": (4096, 600, 0.10, 1.0), "NT-Wd": (600, 8791, 0.11, 1.0), "NT-LSTM": (1201, 2400, 0.10, 1.0),
}


def test_eie_layers_and_densities() -> None:
    layers = network_layers("eie")
    assert [x.name for x in layers] == list(EIE_TABLE_III)
    for x in layers:
        c, k, wd, ad = EIE_TABLE_III[x.name]
        assert (x.shape["N"], x.shape["C"], x.shape["K"]) == (1, c, k)
        assert x.weight_density == pytest.approx(wd)
        assert x.act_density == pytest.approx(ad)
        assert x.relu_input is (not x.name.startswith("NT-"))
        assert x.kind == ("lstm" if x.name == "NT-LSTM" else "linear")
        assert x.macs == c * k
    assert layers[-1].shape["hidden"] == 600


def test_vgg16_scnn_densities() -> None:
    net = _by_name("vgg16")
    assert (net["conv1_1"].weight_density, net["conv1_1"].act_density) == (0.57, 1.00)
    assert (net["conv3_2"].weight_density, net["conv3_2"].act_density) == (0.22, 0.63)
    assert (net["conv4_2"].weight_density, net["conv4_2"].act_density) == (0.26, 0.50)
    assert (net["conv5_3"].weight_density, net["conv5_3"].act_density) == (0.36, 0.32)
    assert all(net[f].weight_density is None and net[f].act_density is None for f in ("fc6", "fc7", "fc8"))
    assert all(x.weight_density is not None for x in network_layers("vgg16-conv"))


def test_sigma_gemms() -> None:
    layers = network_layers("sigma-gemms")
    printed = [(128, 2048, 4096), (320, 3072, 4096), (2048, 4096, 32), (1024, 16, 500000),
               (35, 8457, 2560), (84, 1024, 4096)]
    assert [(x.shape["M"], x.shape["N"], x.shape["K"]) for x in layers] == printed
    assert all(x.kind == "matmul" and not x.relu_input and x.weight_density is None for x in layers)
    assert layers[0].tensor_shapes["input"] == (128, 4096)  # A^T, M x K
    assert layers[0].tensor_shapes["weight"] == (4096, 2048)  # B, K x N
    assert SIGMA_SPARSE_DENSITY == {"stationary": 0.2, "streaming": 0.9}


# ------------------------------------------------------------------------------- batch and errors

@pytest.mark.parametrize("network", ["alexnet", "resnet50", "googlenet", "eie", "bert-base", "sigma-gemms"])
def test_batch_scales_macs(network: str) -> None:
    assert _total(network, batch=3) == 3 * _total(network)


def test_batch_placement() -> None:
    assert all(x.shape["N"] == 4 for x in network_layers("resnet50", batch=4))
    assert network_layers("sigma-gemms", batch=2)[0].shape["M"] == 256
    bert = network_layers("bert-base", batch=2)
    assert _by_name("bert-base")["attn.q"].shape["N"] == 128
    assert {x.name: x for x in bert}["attn.q"].shape["N"] == 256
    scores = [x for x in bert if x.name.startswith("attn.scores.")]
    assert len(scores) == 24 and all(x.shape["M"] == 128 for x in scores)
    assert len({x.name for x in bert}) == len(bert)
    with pytest.raises(ValueError, match="batch"):
        network_layers("alexnet", batch=0)


def test_unknown_network_error() -> None:
    with pytest.raises(UnknownNetworkError) as info:
        network_layers("lenet")
    msg = str(info.value)
    assert "lenet" in msg and "resnet50" in msg and "sigma-gemms" in msg
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
