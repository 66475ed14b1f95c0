"""EIE's weight format (accelsim.formats.eie): codebook, interleaving, relative indices, storage.

Naive references first: a row-by-row decoder of the encoded slices and a dense quantiser.
"""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.formats.eie import build_codebook, encode_eie, quantize
from accelsim.formats.relative_index import encode_columns, encode_csc


def decode_naive(enc) -> np.ndarray:
    """Walk every (output batch, PE, column) slice entry by entry, accumulating the relative index."""
    out = np.zeros((enc.n_rows, enc.n_cols), dtype=np.float32)
    ptr, runs, codes = enc.csc.col_ptr, enc.csc.runs, enc.codes
    for b in range(enc.output_batches):
        for p in range(enc.n_pe):
            for j in range(enc.n_cols):
                s = (b * enc.n_pe + p) * enc.n_cols + j
                local = -1
                for k in range(ptr[s], ptr[s + 1]):
                    local += int(runs[k]) + 1
                    assert local < enc.rows_per_batch
                    if codes[k]:  # code 0 is a padding entry: it lands on a zero and adds nothing
                        out[(b * enc.rows_per_batch + local) * enc.n_pe + p, j] = enc.codebook[codes[k]]
    return out


# The plain encoder on the paper's column is tested in test_formats_relative_index.test_eie_worked_example.


def test_paper_example_through_eie_encoding():
    # The same column as PE 0's slice of a one-PE matrix; values are codes 1..3 of a 3-level codebook.
    col = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=np.float32)
    enc = encode_eie(col.reshape(-1, 1), n_pe=1, rows_per_batch=64)
    assert enc.csc.runs.tolist() == [2, 0, 15, 2]
    assert enc.codebook[enc.codes].tolist() == [1.0, 2.0, 0.0, 3.0]  # the padding entry indexes the zero
    assert enc.storage_bits() == {"entries": 4 * 8, "padding": 8, "pointers": 2 * 16}


def test_encode_columns_matches_encode_csc():
    rng = np.random.default_rng(3)
    m = np.where(rng.random((70, 9)) < 0.07, rng.standard_normal((70, 9)), 0.0)
    dense = encode_csc(m)
    cols, rows = np.nonzero(m.T)
    sparse = encode_columns(rows, cols, m[rows, cols], 70, 9)
    for name in ("values", "runs", "padding", "col_ptr", "row_index"):
        np.testing.assert_array_equal(getattr(dense, name), getattr(sparse, name))


def test_interleaving_rows_to_pes():
    # 8 x 2 matrix on 4 PEs: row i must land in PE i mod 4 (EIE Fig. 2)
    w = np.zeros((8, 2), dtype=np.float32)
    w[5, 0] = 1.0   # PE 1, local row 1
    w[2, 1] = 2.0   # PE 2, local row 0
    enc = encode_eie(w, n_pe=4, rows_per_batch=64)
    entries = enc.slice_entries()  # (batch, pe, col)
    assert entries.shape == (1, 4, 2)
    assert entries[0, 1, 0] == 1 and entries[0, 2, 1] == 1 and entries.sum() == 2
    s = (0 * 4 + 1) * 2 + 0
    assert enc.csc.runs[enc.csc.col_ptr[s]] == 1  # one zero (local row 0) before local row 1


@pytest.mark.parametrize("n_pe,rows_per_batch", [(1, 64), (3, 4), (4, 64), (7, 5), (16, 2)])
def test_roundtrip_and_padding_counts(n_pe, rows_per_batch):
    rng = np.random.default_rng(n_pe * 100 + rows_per_batch)
    k, c = 97, 23
    w = np.where(rng.random((k, c)) < 0.08, rng.standard_normal((k, c)), 0.0).astype(np.float32)
    enc = encode_eie(w, n_pe, rows_per_batch=rows_per_batch)
    q = enc.quantized_dense()
    np.testing.assert_array_equal(decode_naive(enc), q)
    assert np.array_equal(q != 0, w != 0)
    # padding: a gap of g zeros before a non-zero inside a slice needs g // 16 padding entries
    expected_pad = 0
    for b in range(enc.output_batches):
        for p in range(n_pe):
            rows = [i for i in range(p, k, n_pe) if b * rows_per_batch <= i // n_pe < (b + 1) * rows_per_batch]
            for j in range(c):
                prev = -1
                for local, i in enumerate(rows):
                    if w[i, j] != 0:
                        expected_pad += (local - prev - 1) // 16
                        prev = local
    assert enc.csc.padding_entries == expected_pad
    assert enc.csc.entries == np.count_nonzero(w) + expected_pad
    assert enc.entries_per_pe().sum() == enc.csc.entries
    bits = enc.storage_bits()
    assert bits["entries"] == 8 * enc.csc.entries and bits["padding"] == 8 * expected_pad
    assert bits["pointers"] == enc.output_batches * n_pe * (c + 1) * 16


def test_codebook_kmeans_is_deterministic_and_better_than_linear():
    rng = np.random.default_rng(0)
    v = rng.standard_normal(20000) * 0.05
    v = v[np.abs(v) > 0.04]  # magnitude-pruned: bimodal
    km = build_codebook(v, 4, "kmeans")
    lin = build_codebook(v, 4, "linear")
    assert km.shape == lin.shape == (16,)
    assert km[0] == 0.0 and lin[0] == 0.0
    assert np.all(np.diff(km[1:]) >= 0)
    np.testing.assert_array_equal(km, build_codebook(v.copy(), 4, "kmeans"))
    err_km = np.mean((km[quantize(v, km)] - v) ** 2)
    err_lin = np.mean((lin[quantize(v, lin)] - v) ** 2)
    assert err_km < err_lin
    codes = quantize(v, km)
    assert codes.min() >= 1 and codes.max() <= 15  # code 0 is reserved for padding


def test_codebook_exact_for_few_values():
    v = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    book = build_codebook(v, 4, "kmeans")
    np.testing.assert_array_equal(book[quantize(v, book)], v)


def test_integer_weights_and_bad_arguments():
    w = np.array([[0, 3], [-2, 0]], dtype=np.int8)
    enc = encode_eie(w, n_pe=2)
    np.testing.assert_array_equal(enc.quantized_dense(), w.astype(np.float32))
    with pytest.raises(ValueError):
        encode_eie(np.zeros((2, 2, 2)), n_pe=2)
    with pytest.raises(ValueError):
        build_codebook(np.ones(3), 4, "huffman")
