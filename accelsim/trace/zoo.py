"""Network shape zoo: the published layer shapes of the networks the papers evaluate.

Every network is a list of :class:`~accelsim.trace.layer.LayerSpec`, one per operator that does
multiply-accumulates (conv, fully connected, LSTM gate GEMV, matmul); pooling, batch norm,
element-wise additions, softmax and activations are left out. Inputs are ImageNet 224x224
(AlexNet 227x227) at batch 1 unless ``batch`` says otherwise.

Choices made here (the papers are silent or ambiguous):

- ``relu_input`` is True where the layer's input is the output of a ReLU (possibly through
  pooling / dropout / concatenation), False for the image input, for linear-bottleneck outputs
  (MobileNet-v2), for LayerNorm / softmax / GELU outputs (BERT) and for EIE's NeuralTalk layers.
- ResNet-50 is the torchvision "v1.5" bottleneck (stride on the 3x3 conv), which gives the
  ~4.1 G MACs usually quoted; He et al.'s original puts the stride on the first 1x1 (~3.9 G).
- GoogLeNet uses true 5x5 convs as in Szegedy et al. Table 1 (torchvision uses 3x3 there) and
  leaves out the two auxiliary classifiers (training only).
- ``batch`` multiplies N for conv2d / linear / lstm. For a shared-weight matmul (the SIGMA GEMMs)
  it multiplies M (more rows of the streamed-in input). BERT's attention matmuls have no shared
  weight (both operands are activations of one sequence and one head), so they are emitted once
  per (sequence, head); see :func:`bert_base`.
"""

from __future__ import annotations

from typing import Protocol

from accelsim.errors import AccelsimError
from accelsim.trace.layer import LayerSpec, conv_output_hw

__all__ = [
    "BERT_BASE",
    "EIE_TABLE3",
    "NETWORKS",
    "SIGMA_GEMMS",
    "SIGMA_SPARSE_DENSITY",
    "VGG16_SCNN_DENSITY",
    "NetworkBuilder",
    "UnknownNetworkError",
    "network_layers",
]


class UnknownNetworkError(AccelsimError, KeyError, ValueError):
    """The requested network is not in the zoo. The message lists the known names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class NetworkBuilder(Protocol):
    """A network builder: called with no argument it returns the batch-1 layer list."""

    def __call__(self, batch: int = 1) -> list[LayerSpec]: ...


# --------------------------------------------------------------------------------------- helpers


class _ConvChain:
    """Builds conv layers while tracking the spatial size of the feature map."""

    def __init__(self, batch: int, hw: int) -> None:
        self.batch = batch
        self.hw = hw
        self.layers: list[LayerSpec] = []

    def conv(
        self,
        name: str,
        c: int,
        k: int,
        r: int,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        relu_input: bool = True,
        hw: int | None = None,
        advance: bool = True,
        weight_density: float | None = None,
        act_density: float | None = None,
    ) -> LayerSpec:
        """Append a square conv on the current (or given) map size; optionally advance the size."""
        h = self.hw if hw is None else hw
        spec = LayerSpec(
            name,
            "conv2d",
            {
                "N": self.batch, "C": c, "H": h, "W": h, "K": k, "R": r, "S": r,
                "stride": stride, "padding": (r // 2) if padding is None else padding,
                "groups": groups,
            },
            relu_input=relu_input,
            weight_density=weight_density,
            act_density=act_density,
        )
        self.layers.append(spec)
        if advance:
            self.hw = conv_output_hw(spec.shape)[0]
        return spec

    def pool(self, kernel: int, stride: int, padding: int = 0, ceil: bool = False) -> None:
        """Shrink the tracked map size as a max/avg pool would (Caffe pools use ceil mode)."""
        span = self.hw + 2 * padding - kernel
        self.hw = (-(-span // stride) if ceil else span // stride) + 1

    def linear(self, name: str, c: int, k: int, relu_input: bool = True) -> LayerSpec:
        """Append a fully connected layer."""
        spec = LayerSpec(name, "linear", {"N": self.batch, "C": c, "K": k}, relu_input=relu_input)
        self.layers.append(spec)
        return spec


def _check_batch(batch: int) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    return batch


# --------------------------------------------------------------------------------------- AlexNet


def _alexnet_convs(net: _ConvChain) -> None:
    # Krizhevsky et al. 2012, Fig. 2 and Sec. 3.5 (Caffe's 227x227 crop). conv2, conv4 and conv5
    # are split over the two GPUs (groups=2); conv3 sees both halves (groups=1).
    net.conv("conv1", 3, 96, 11, stride=4, padding=0, relu_input=False)  # 227 -> 55
    net.pool(3, 2)  # 55 -> 27
    net.conv("conv2", 96, 256, 5, padding=2, groups=2)
    net.pool(3, 2)  # 27 -> 13
    net.conv("conv3", 256, 384, 3, padding=1)
    net.conv("conv4", 384, 384, 3, padding=1, groups=2)
    net.conv("conv5", 384, 256, 3, padding=1, groups=2)
    net.pool(3, 2)  # 13 -> 6


def alexnet(batch: int = 1) -> list[LayerSpec]:
    """AlexNet, 5 conv (grouped conv2/4/5) + fc6..fc8.

    Krizhevsky, Sutskever & Hinton, NeurIPS 2012, Fig. 2 (two-GPU version, groups=2).
    """
    net = _ConvChain(_check_batch(batch), 227)
    _alexnet_convs(net)
    net.linear("fc6", 256 * net.hw * net.hw, 4096)
    net.linear("fc7", 4096, 4096)
    net.linear("fc8", 4096, 1000)
    return net.layers


def alexnet_conv(batch: int = 1) -> list[LayerSpec]:
    """The five conv layers of :func:`alexnet` (Krizhevsky et al. 2012)."""
    net = _ConvChain(_check_batch(batch), 227)
    _alexnet_convs(net)
    return net.layers


# --------------------------------------------------------------------------------------- VGG-16

#: SCNN's per-layer (weight density, activation density) for VGG-16's conv layers.
#: Source: Parashar et al., "SCNN", ISCA 2017 (arXiv 1708.04485), as tabulated in
#: /work/shared/reference/scnn.md ("Per-layer densities for VGG-16"); weight densities agree with
#: Han et al. 2015 ("Learning both weights and connections") within 1-2 points.
VGG16_SCNN_DENSITY: dict[str, tuple[float, float]] = {
    "conv1_1": (0.57, 1.00),
    "conv1_2": (0.21, 0.50),
    "conv2_1": (0.33, 0.89),
    "conv2_2": (0.35, 0.79),
    "conv3_1": (0.53, 0.81),
    "conv3_2": (0.22, 0.63),
    "conv3_3": (0.41, 0.69),
    "conv4_1": (0.32, 0.71),
    "conv4_2": (0.26, 0.50),
    "conv4_3": (0.34, 0.45),
    "conv5_1": (0.35, 0.39),
    "conv5_2": (0.29, 0.33),
    "conv5_3": (0.36, 0.32),
}

# (stage, number of convs, output channels); every conv is 3x3/1 pad 1, a 2x2/2 max pool ends a stage.
_VGG16_STAGES = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))


def _vgg16_convs(net: _ConvChain) -> None:
    c = 3
    for stage, n, k in _VGG16_STAGES:
        for i in range(1, n + 1):
            name = f"conv{stage}_{i}"
            wd, ad = VGG16_SCNN_DENSITY[name]
            net.conv(name, c, k, 3, padding=1, relu_input=c != 3 or i != 1,
                     weight_density=wd, act_density=ad)
            c = k
        net.pool(2, 2)


def vgg16(batch: int = 1) -> list[LayerSpec]:
    """VGG-16: 13 conv (conv1_1..conv5_3, with SCNN's densities) + fc6..fc8.

    Simonyan & Zisserman, ICLR 2015, Table 1 config D.
    """
    net = _ConvChain(_check_batch(batch), 224)
    _vgg16_convs(net)
    net.linear("fc6", 512 * net.hw * net.hw, 4096)  # 7x7x512 = 25088
    net.linear("fc7", 4096, 4096)
    net.linear("fc8", 4096, 1000)
    return net.layers


def vgg16_conv(batch: int = 1) -> list[LayerSpec]:
    """The 13 conv layers of :func:`vgg16` (Simonyan & Zisserman 2015, Table 1 config D)."""
    net = _ConvChain(_check_batch(batch), 224)
    _vgg16_convs(net)
    return net.layers


# --------------------------------------------------------------------------------------- ResNet


def _resnet(batch: int, bottleneck: bool, blocks: tuple[int, int, int, int]) -> list[LayerSpec]:
    net = _ConvChain(_check_batch(batch), 224)
    net.conv("conv1", 3, 64, 7, stride=2, padding=3, relu_input=False)  # -> 112
    net.pool(3, 2, padding=1)  # -> 56
    expansion = 4 if bottleneck else 1
    c = 64
    for stage, n in enumerate(blocks, start=1):
        width = 64 * 2 ** (stage - 1)
        out = width * expansion
        for b in range(n):
            stride = 2 if (stage > 1 and b == 0) else 1
            p = f"layer{stage}.{b}"
            hw_in = net.hw
            if bottleneck:
                net.conv(f"{p}.conv1", c, width, 1)
                net.conv(f"{p}.conv2", width, width, 3, stride=stride)
                net.conv(f"{p}.conv3", width, out, 1)
            else:
                net.conv(f"{p}.conv1", c, width, 3, stride=stride)
                net.conv(f"{p}.conv2", width, width, 3)
            if stride != 1 or c != out:
                # Projection shortcut (option B): 1x1 conv with the block's stride on the block input.
                net.conv(f"{p}.downsample", c, out, 1, stride=stride, hw=hw_in, advance=False)
            c = out
    net.linear("fc", c, 1000)  # after global average pooling
    return net.layers


def resnet18(batch: int = 1) -> list[LayerSpec]:
    """ResNet-18: conv1, 8 basic blocks (3 projection shortcuts), fc.

    He, Zhang, Ren & Sun, CVPR 2016, Table 1 (18-layer).
    """
    return _resnet(batch, bottleneck=False, blocks=(2, 2, 2, 2))


def resnet50(batch: int = 1) -> list[LayerSpec]:
    """ResNet-50: conv1, 16 bottleneck blocks (4 projection shortcuts), fc.

    He, Zhang, Ren & Sun, CVPR 2016, Table 1 (50-layer); stride on the 3x3 conv (torchvision v1.5).
    """
    return _resnet(batch, bottleneck=True, blocks=(3, 4, 6, 3))


# --------------------------------------------------------------------------------------- GoogLeNet

# Szegedy et al. 2015, Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
_INCEPTION: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)


def _googlenet_convs(net: _ConvChain) -> int:
    net.conv("conv1.7x7_s2", 3, 64, 7, stride=2, padding=3, relu_input=False)  # -> 112
    net.pool(3, 2, ceil=True)  # -> 56
    net.conv("conv2.3x3_reduce", 64, 64, 1)
    net.conv("conv2.3x3", 64, 192, 3)
    net.pool(3, 2, ceil=True)  # -> 28
    c = 192
    for tag, (n1, n3r, n3, n5r, n5, pp) in _INCEPTION:
        if tag in ("4a", "5a"):
            net.pool(3, 2, ceil=True)  # 28 -> 14, 14 -> 7
        p = f"inception_{tag}"
        net.conv(f"{p}.1x1", c, n1, 1)
        net.conv(f"{p}.3x3_reduce", c, n3r, 1)
        net.conv(f"{p}.3x3", n3r, n3, 3)
        net.conv(f"{p}.5x5_reduce", c, n5r, 1)
        net.conv(f"{p}.5x5", n5r, n5, 5)
        net.conv(f"{p}.pool_proj", c, pp, 1)  # after a 3x3/1 max pool (same size)
        c = n1 + n3 + n5 + pp
    return c


def googlenet(batch: int = 1) -> list[LayerSpec]:
    """GoogLeNet (Inception v1) without auxiliary classifiers: all convs incl. 1x1 reduces, + fc.

    Szegedy et al., CVPR 2015, Table 1.
    """
    net = _ConvChain(_check_batch(batch), 224)
    c = _googlenet_convs(net)
    net.linear("fc", c, 1000)  # after 7x7 average pooling and dropout
    return net.layers


def googlenet_conv(batch: int = 1) -> list[LayerSpec]:
    """The conv layers of :func:`googlenet` (Szegedy et al. 2015, Table 1)."""
    net = _ConvChain(_check_batch(batch), 224)
    _googlenet_convs(net)
    return net.layers


# --------------------------------------------------------------------------------------- MobileNet-v2

# Sandler et al. 2018, Table 2: expansion t, output channels c, repeats n, first stride s.
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                 (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2(batch: int = 1) -> list[LayerSpec]:
    """MobileNet-v2 (width 1.0): stem, 17 inverted-residual blocks, 1x1 conv to 1280, fc.

    Sandler et al., CVPR 2018, Table 2. Block ``blockI`` has ``.expand`` (1x1, absent when t=1),
    ``.dw`` (3x3 depthwise, groups = channels) and ``.project`` (1x1 linear bottleneck). The
    expand conv and the final 1x1 conv read a linear bottleneck output, so ``relu_input`` is False.
    """
    net = _ConvChain(_check_batch(batch), 224)
    net.conv("conv1", 3, 32, 3, stride=2, padding=1, relu_input=False)  # -> 112
    c = 32
    i = 0
    for t, k, n, s in _MOBILENET_V2:
        for j in range(n):
            p = f"block{i}"
            hidden = c * t
            if t != 1:
                net.conv(f"{p}.expand", c, hidden, 1, relu_input=False)
            net.conv(f"{p}.dw", hidden, hidden, 3, stride=s if j == 0 else 1, padding=1, groups=hidden)
            net.conv(f"{p}.project", hidden, k, 1)
            c = k
            i += 1
    net.conv("conv_last", c, 1280, 1, relu_input=False)
    net.linear("fc", 1280, 1000)  # after global average pooling
    return net.layers


# --------------------------------------------------------------------------------------- EIE

#: EIE benchmark layers: name -> (input length C, output length K, weight density, act density).
#: Source: Han et al., "EIE", ISCA 2016 (arXiv 1602.01528), Table III.
EIE_TABLE3: dict[str, tuple[int, int, float, float]] = {
    "Alex-6": (9216, 4096, 0.09, 0.351),
    "Alex-7": (4096, 4096, 0.09, 0.353),
    "Alex-8": (4096, 1000, 0.25, 0.375),
    "VGG-6": (25088, 4096, 0.04, 0.183),
    "VGG-7": (4096, 4096, 0.04, 0.375),
    "VGG-8": (4096, 1000, 0.23, 0.411),
    "NT-We": (4096, 600, 0.10, 1.0),
    "NT-Wd": (600, 8791, 0.11, 1.0),
    "NT-LSTM": (1201, 2400, 0.10, 1.0),
}


def eie(batch: int = 1) -> list[LayerSpec]:
    """The nine EIE benchmark layers (Han et al., ISCA 2016, Table III).

    Size (input length, output length) is a ``linear`` layer with C = input, K = output,
    N = batch. NT-LSTM is an ``lstm`` gate GEMV: C = 600 input + 600 hidden + 1 bias = 1201,
    K = 4 x 600 = 2400. The NeuralTalk layers have dense (non-ReLU) inputs.
    """
    n = _check_batch(batch)
    layers = []
    for name, (c, k, wd, ad) in EIE_TABLE3.items():
        relu = not name.startswith("NT-")
        if name == "NT-LSTM":
            kind, shape = "lstm", {"N": n, "C": c, "K": k, "hidden": k // 4}
        else:
            kind, shape = "linear", {"N": n, "C": c, "K": k}
        layers.append(LayerSpec(name, kind, shape, relu_input=relu, weight_density=wd, act_density=ad))
    return layers


# --------------------------------------------------------------------------------------- SIGMA

#: The six irregular GEMMs of SIGMA's evaluation as (M, N, K), exactly as printed in its
#: per-GEMM figure (Qin et al., HPCA 2020; reference/sigma.md).
#:
#: Mapping to our matmul convention (input M x K, weight K x N, output M x N): SIGMA's stationary
#: operand A is K x M and its streamed operand B is K x N, output A^T B (M x N). So M, N, K keep
#: their meaning and values; our ``input`` is A^T (the stationary operand) and our ``weight`` is
#: B (the streamed operand).
SIGMA_GEMMS: tuple[tuple[int, int, int], ...] = (
    (128, 2048, 4096),
    (320, 3072, 4096),
    (2048, 4096, 32),
    (1024, 16, 500000),
    (35, 8457, 2560),
    (84, 1024, 4096),
)

#: SIGMA's sparse setting (Qin et al. 2020, per-GEMM results): the stationary operand A (our
#: ``input``) has density 0.2 and the streamed operand B (our ``weight``) density 0.9. Not attached
#: to the layers (their densities stay None) because the paper also runs them dense.
SIGMA_SPARSE_DENSITY: dict[str, float] = {"stationary": 0.2, "streaming": 0.9}


def sigma_gemms(batch: int = 1) -> list[LayerSpec]:
    """SIGMA's six irregular GEMMs as ``matmul`` layers named ``M<m>-N<n>-K<k>``.

    Qin et al., "SIGMA", HPCA 2020. ``batch`` multiplies M (rows of the input; the K x N weight
    is shared). Inputs are not ReLU outputs.
    """
    b = _check_batch(batch)
    return [
        LayerSpec(f"M{m}-N{n}-K{k}", "matmul", {"M": m * b, "N": n, "K": k}, relu_input=False)
        for m, n, k in SIGMA_GEMMS
    ]


# --------------------------------------------------------------------------------------- BERT

#: BERT-base hyper-parameters used by :func:`bert_base` (Devlin et al., NAACL 2019, Sec. 3).
BERT_BASE: dict[str, int] = {"seq_len": 128, "hidden": 768, "heads": 12, "ffn": 3072}


def bert_base(batch: int = 1) -> list[LayerSpec]:
    """The GEMMs of one BERT-base encoder layer at sequence length 128.

    Devlin et al., NAACL 2019 (L=12, H=768, A=12; FFN 4H = 3072); Vaswani et al. 2017, Sec. 3.2.

    - ``attn.q``, ``attn.k``, ``attn.v``, ``attn.out``: ``linear`` 768 -> 768, N = batch x seq.
    - ``attn.scores.hI``: ``matmul`` Q_h K_h^T, M = seq, K = 64, N = seq (input Q_h, weight K_h^T).
    - ``attn.context.hI``: ``matmul`` P_h V_h, M = seq, K = seq, N = 64 (input softmax P_h,
      weight V_h).
    - ``ffn.fc1`` 768 -> 3072 and ``ffn.fc2`` 3072 -> 768: ``linear``, N = batch x seq.

    The two attention products are emitted once per head (12 each), because every head has its
    own operands: folding heads into M (M = 12 x seq) would pretend one K_h^T serves all heads
    and misstate the weight traffic, and one layer "repeated x12" would make the network's MAC
    total wrong by 11/12 of those products. For the same reason, at batch > 1 they are emitted
    per sequence and head (``attn.scores.b<s>.h<h>``) rather than stacked into M. No input is
    a ReLU output (LayerNorm, softmax and GELU outputs).
    """
    b = _check_batch(batch)
    seq, d, heads, ffn = (BERT_BASE[k] for k in ("seq_len", "hidden", "heads", "ffn"))
    dh = d // heads
    rows = b * seq

    def lin(name: str, c: int, k: int) -> LayerSpec:
        return LayerSpec(name, "linear", {"N": rows, "C": c, "K": k}, relu_input=False)

    layers = [lin("attn.q", d, d), lin("attn.k", d, d), lin("attn.v", d, d)]
    tags = [f"h{h}" if b == 1 else f"b{s}.h{h}" for s in range(b) for h in range(heads)]
    layers += [LayerSpec(f"attn.scores.{t}", "matmul", {"M": seq, "N": seq, "K": dh}, relu_input=False)
               for t in tags]
    layers += [LayerSpec(f"attn.context.{t}", "matmul", {"M": seq, "N": dh, "K": seq}, relu_input=False)
               for t in tags]
    layers += [lin("attn.out", d, d), lin("ffn.fc1", d, ffn), lin("ffn.fc2", ffn, d)]
    return layers


# --------------------------------------------------------------------------------------- registry

#: Every network of the zoo; a builder called with no argument gives the batch-1 layers.
NETWORKS: dict[str, NetworkBuilder] = {
    "alexnet": alexnet,
    "alexnet-conv": alexnet_conv,
    "vgg16": vgg16,
    "vgg16-conv": vgg16_conv,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "googlenet": googlenet,
    "googlenet-conv": googlenet_conv,
    "mobilenet_v2": mobilenet_v2,
    "eie": eie,
    "sigma-gemms": sigma_gemms,
    "bert-base": bert_base,
}


def network_layers(name: str, batch: int = 1) -> list[LayerSpec]:
    """Layer shapes of a zoo network at the given batch size.

    Raises
    ------
    UnknownNetworkError
        ``name`` is not in :data:`NETWORKS` (the message lists the known names).
    ValueError
        ``batch`` is not a positive integer.
    """
    try:
        builder = NETWORKS[name]
    except KeyError:
        raise UnknownNetworkError(
            f"unknown network {name!r}; known networks: {', '.join(sorted(NETWORKS))}"
        ) from None
    return builder(batch=batch)
