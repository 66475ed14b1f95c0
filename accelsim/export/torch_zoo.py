"""Model zoo in plain PyTorch (no torchvision), plus real example inputs.

Every model's module names are chosen so that the exporter's layer names and shapes equal the
shape zoo's (:mod:`accelsim.trace.zoo`) for the same network: ``conv1``, ``layer1.0.downsample``,
``block3.dw``, ``attn.scores.h0`` and so on. ``tests/test_export_zoo.py`` checks that layer by layer.

Networks (paper, section):

- ``lenet5``: LeCun et al. 1998, Fig. 2 (C1 6@5x5, S2, C3 16@5x5, S4, F5 120, F6 84, output 10)
  with ReLU and max pooling, on 32x32 inputs; ``digits`` feeds it the 8x8 scikit-learn digits
  upsampled to 32x32 (:mod:`accelsim.export.digits`).
- ``alexnet``: Krizhevsky et al. 2012, Fig. 2, the two-GPU (grouped) Caffe variant on 227x227,
  with local response normalisation after conv1 and conv2.
- ``vgg16``: Simonyan & Zisserman 2015, Table 1 config D.
- ``resnet18`` / ``resnet50``: He et al. 2016, Table 1; torchvision's v1.5 bottleneck (stride on
  the 3x3); the projection shortcut's conv is ``<block>.downsample`` and its BN
  ``<block>.downsample_bn``.
- ``mobilenet_v2``: Sandler et al. 2018, Table 2 (width 1.0).
- ``transformer``: BERT-base-shaped encoder layers (Devlin et al. 2019: H=768, A=12, FFN 3072,
  sequence 128) with a byte-level token embedding (vocabulary 256) and a 2-way classifier on the
  first token. Attention products are explicit :class:`MatMul` modules so that they appear in
  traces as ``matmul`` layers named ``attn.scores`` / ``attn.context`` (one per head).
- ``lstm``: a NeuralTalk-sized LSTM (Karpathy & Fei-Fei 2015; EIE's NT-LSTM is 600 input + 600
  hidden, 2400 gates) reading the rows of a digit image as a sequence: ``embed`` (8 -> 600),
  ``lstm`` (600 -> 600), ``fc`` (600 -> 10) on the last hidden state.

Pretrained weights cannot be downloaded here, so every zoo model is seeded random initialisation
(PyTorch's default init under ``torch.manual_seed(seed)``); only ``lenet5`` is trained, by the
``digits`` task. Example inputs are real data: the scikit-learn sample photos (``china.jpg``,
``flower.jpg``) resized and cropped with torch ops for the image models, a fixed English text as
bytes for ``transformer``, and digit images for ``lenet5`` and ``lstm``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.export.data import load_digits_tensors

# ------------------------------------------------------------------------------------- building blocks


class MatMul(nn.Module):
    """``torch.matmul(a, b)`` as a module, so that the exporter names the product after it."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998, Fig. 2) with ReLU and max pooling; input (N, 1, 32, 32)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class AlexNet(nn.Module):
    """AlexNet, two-GPU Caffe variant (groups=2 on conv2/4/5), 227x227 input (Krizhevsky et al. 2012)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.pool = nn.MaxPool2d(3, 2)
        self.drop = nn.Dropout(0.5)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.norm1(F.relu(self.conv1(x))))
        x = self.pool(self.norm2(F.relu(self.conv2(x))))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = self.pool(F.relu(self.conv5(x)))
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc6(x)))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)


class VGG16(nn.Module):
    """VGG-16 (Simonyan & Zisserman 2015, Table 1 config D); convs named conv<stage>_<i>."""

    STAGES = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv_names: list[list[str]] = []
        c = 3
        for stage, n, k in self.STAGES:
            names = []
            for i in range(1, n + 1):
                name = f"conv{stage}_{i}"
                self.add_module(name, nn.Conv2d(c, k, 3, padding=1))
                names.append(name)
                c = k
            self.conv_names.append(names)
        self.drop = nn.Dropout(0.5)
        self.fc6 = nn.Linear(512 * 7 * 7, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for names in self.conv_names:
            for name in names:
                x = F.relu(getattr(self, name)(x))
            x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc6(x)))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016, Fig. 2 left) with an optional projection shortcut."""

    expansion = 1

    def __init__(self, c: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(c, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = self.downsample_bn = None
        if stride != 1 or c != out:
            self.downsample = nn.Conv2d(c, out, 1, stride=stride, bias=False)
            self.downsample_bn = nn.BatchNorm2d(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample_bn(self.downsample(x))
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet bottleneck block, v1.5 (stride on the 3x3 conv), with an optional projection shortcut."""

    expansion = 4

    def __init__(self, c: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(c, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = self.downsample_bn = None
        if stride != 1 or c != out:
            self.downsample = nn.Conv2d(c, out, 1, stride=stride, bias=False)
            self.downsample_bn = nn.BatchNorm2d(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample_bn(self.downsample(x))
        return F.relu(out + identity)


class ResNet(nn.Module):
    """ResNet-18/50 (He et al. 2016, Table 1)."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], blocks: tuple[int, ...],
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        c = 64
        for stage, n in enumerate(blocks, start=1):
            width = 64 * 2 ** (stage - 1)
            layer = []
            for b in range(n):
                layer.append(block(c, width, 2 if (stage > 1 and b == 0) else 1))
                c = width * block.expansion
            self.add_module(f"layer{stage}", nn.Sequential(*layer))
        self.num_stages = len(blocks)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, padding=1)
        for stage in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    """MobileNet-v2 block (Sandler et al. 2018, Table 1): 1x1 expand, 3x3 depthwise, 1x1 linear project."""

    def __init__(self, c: int, k: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = c * t
        self.expand = self.expand_bn = None
        if t != 1:
            self.expand = nn.Conv2d(c, hidden, 1, bias=False)
            self.expand_bn = nn.BatchNorm2d(hidden)
        self.dw = nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False)
        self.dw_bn = nn.BatchNorm2d(hidden)
        self.project = nn.Conv2d(hidden, k, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(k)
        self.residual = stride == 1 and c == k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else F.relu6(self.expand_bn(self.expand(x)))
        out = F.relu6(self.dw_bn(self.dw(out)))
        out = self.project_bn(self.project(out))
        return x + out if self.residual else out


class MobileNetV2(nn.Module):
    """MobileNet-v2, width 1.0 (Sandler et al. 2018, Table 2); blocks named block0..block16."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        c, i = 32, 0
        for t, k, n, s in self.SETTINGS:
            for j in range(n):
                self.add_module(f"block{i}", InvertedResidual(c, k, s if j == 0 else 1, t))
                c, i = k, i + 1
        self.num_blocks = i
        self.conv_last = nn.Conv2d(c, 1280, 1, bias=False)
        self.bn_last = nn.BatchNorm2d(1280)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.bn1(self.conv1(x)))
        for i in range(self.num_blocks):
            x = getattr(self, f"block{i}")(x)
        x = F.relu6(self.bn_last(self.conv_last(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.drop(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with explicit per-head products (Vaswani et al. 2017, Sec. 3.2.2)."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden {hidden} is not a multiple of heads {heads}")
        self.heads = heads
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.scores = MatMul()
        self.context = MatMul()
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` (B, S) bool marks real tokens; padded keys get no attention."""
        b, s, d = x.shape
        dh = d // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:  # (B, S, D) -> (B, heads, S, dh)
            return t.reshape(b, s, self.heads, dh).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = self.scores(q, k.transpose(-2, -1)) / dh ** 0.5
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        p = torch.softmax(scores, dim=-1)
        ctx = self.context(p, v).transpose(1, 2).reshape(b, s, d)
        return self.out(ctx)


class FeedForward(nn.Module):
    def __init__(self, hidden: int, ffn: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden, ffn)
        self.fc2 = nn.Linear(ffn, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class EncoderLayer(nn.Module):
    """Post-LN Transformer encoder layer as in BERT (Devlin et al. 2019)."""

    def __init__(self, hidden: int, heads: int, ffn: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.attn = SelfAttention(hidden, heads)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.ffn = FeedForward(hidden, ffn)
        self.ffn_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn_norm(x + self.attn(x, mask))
        return self.ffn_norm(x + self.ffn(x))


class TransformerEncoder(nn.Module):
    """BERT-shaped encoder over byte tokens: embedding + position, L layers, classifier on token 0."""

    def __init__(self, layers: int = 2, hidden: int = 768, heads: int = 12, ffn: int = 3072,
                 seq_len: int = 128, vocab: int = 256, num_classes: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(seq_len, hidden)
        self.embed_norm = nn.LayerNorm(hidden)
        self.layers = nn.ModuleList(EncoderLayer(hidden, heads, ffn) for _ in range(layers))
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.embed_norm(self.embed(tokens) + self.position(pos))
        for layer in self.layers:
            x = layer(x)
        return self.classifier(x[:, 0])


class SequenceLSTM(nn.Module):
    """Embed each time step, run an LSTM, classify the last hidden state. Input (N, T, features)."""

    def __init__(self, features: int = 8, hidden: int = 600, num_layers: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Linear(features, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(x))
        return self.fc(out[:, -1])


# ------------------------------------------------------------------------------------- real inputs

#: ImageNet channel statistics used to normalise the photos (the usual torchvision values).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Text fed to the transformer as bytes (a plain description of this project; any real text works).
SAMPLE_TEXT = (
    "A cycle-level simulator of sparse deep neural network accelerators runs pruned models, exported "
    "from PyTorch with their real weights and activations, against accelerator configurations and "
    "reports cycles, energy and load balance for every layer of the network. "
)


def photo_batch(size: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """(batch, 3, size, size) float32 crops of scikit-learn's sample photos, ImageNet-normalised.

    Each photo (427x640) is resized with antialiasing so its short side is ``size * 256 / 224``
    (the usual ImageNet evaluation resize), then cropped: image 0 is the centre crop of
    ``china.jpg``, image 1 of ``flower.jpg``, and further images are seeded random crops of the two.
    """
    from sklearn.datasets import load_sample_images

    photos = [torch.from_numpy(np.array(im, dtype=np.float32)).permute(2, 0, 1).div(255.0)
              for im in load_sample_images().images]
    short = round(size * 256 / 224)
    gen = torch.Generator().manual_seed(seed)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    crops = []
    for i in range(batch):
        im = photos[i % len(photos)]
        h, w = im.shape[1:]
        scale = short / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        im = F.interpolate(im[None], size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0]
        if i < len(photos):
            top, left = (nh - size) // 2, (nw - size) // 2
        else:
            top = int(torch.randint(0, nh - size + 1, (1,), generator=gen))
            left = int(torch.randint(0, nw - size + 1, (1,), generator=gen))
        crops.append((im[:, top:top + size, left:left + size] - mean) / std)
    return torch.stack(crops).contiguous()


def text_tokens(seq_len: int, batch: int = 1) -> torch.Tensor:
    """(batch, seq_len) int64 byte tokens of :data:`SAMPLE_TEXT`; sequence i starts at byte 7*i."""
    data = np.frombuffer(SAMPLE_TEXT.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    rows = [np.resize(np.roll(data, -7 * i), seq_len) for i in range(batch)]
    return torch.from_numpy(np.stack(rows))


def digit_images(batch: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (batch, 1, size, size), labels) from scikit-learn's digits, seeded sample."""
    x, y = load_digits_tensors(size=size)
    idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:batch]
    return x[idx].contiguous(), y[idx].contiguous()


def digit_sequences(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows (batch, 8, 8), labels): each digit as a sequence of its 8 pixel rows, values in [0, 1]."""
    x, y = load_digits_tensors(size=8, normalise=False)
    idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:batch]
    return x[idx, 0].contiguous(), y[idx].contiguous()


# ------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: its builder, its example inputs and where those come from."""

    build: Callable[[], nn.Module]
    #: (batch, seed) -> (inputs, targets); targets are real labels where the data has them
    inputs: Callable[[int, int], tuple[torch.Tensor, torch.Tensor]]
    input_source: str
    #: the shape zoo network whose layer shapes this model reproduces (None: no published shapes)
    shape_zoo: str | None = None


def _photo_inputs(size: int) -> Callable[[int, int], tuple[torch.Tensor, torch.Tensor]]:
    def make(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        # No labels exist for the photos: targets are seeded pseudo-labels (only a loss needs them).
        labels = torch.randint(0, 1000, (batch,), generator=torch.Generator().manual_seed(seed))
        return photo_batch(size, batch, seed), labels
    return make


def _text_inputs(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.randint(0, 2, (batch,), generator=torch.Generator().manual_seed(seed))
    return text_tokens(128, batch), labels


_PHOTO = "scikit-learn sample photos (china.jpg, flower.jpg), resized and cropped to {0}x{0}, ImageNet-normalised"

MODELS: dict[str, ZooEntry] = {
    "lenet5": ZooEntry(LeNet5, lambda b, s: digit_images(b, 32, s),
                       "scikit-learn digits, upsampled 8x8 -> 32x32, standardised"),
    "alexnet": ZooEntry(AlexNet, _photo_inputs(227), _PHOTO.format(227), "alexnet"),
    "vgg16": ZooEntry(VGG16, _photo_inputs(224), _PHOTO.format(224), "vgg16"),
    "resnet18": ZooEntry(lambda: ResNet(BasicBlock, (2, 2, 2, 2)), _photo_inputs(224), _PHOTO.format(224), "resnet18"),
    "resnet50": ZooEntry(lambda: ResNet(Bottleneck, (3, 4, 6, 3)), _photo_inputs(224), _PHOTO.format(224), "resnet50"),
    "mobilenet_v2": ZooEntry(MobileNetV2, _photo_inputs(224), _PHOTO.format(224), "mobilenet_v2"),
    "transformer": ZooEntry(TransformerEncoder, _text_inputs,
                            "bytes of a fixed English sentence (accelsim.export.torch_zoo.SAMPLE_TEXT), 128 tokens",
                            "bert-base"),
    "lstm": ZooEntry(SequenceLSTM, lambda b, s: digit_sequences(b, s),
                     "scikit-learn digits, each image read as a sequence of its 8 pixel rows"),
}


def build(name: str, seed: int = 0) -> nn.Module:
    """A zoo model with seeded random initialisation (``torch.manual_seed(seed)`` before building)."""
    entry = _entry(name)
    torch.manual_seed(seed)
    model = entry.build()
    model.eval()
    return model


def example_inputs(name: str, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Real example inputs for a zoo model and targets for a loss (see :class:`ZooEntry`)."""
    if batch < 1:
        raise AccelsimError(f"batch must be at least 1, got {batch}")
    return _entry(name).inputs(batch, seed)


def _entry(name: str) -> ZooEntry:
    try:
        return MODELS[name]
    except KeyError:
        raise AccelsimError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None
