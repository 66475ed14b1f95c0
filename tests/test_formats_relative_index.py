"""Zero-run (relative index) CSC with padding entries, against EIE's worked example and a plain-Python encoder."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.formats import encode_csc, encode_vector


def reference_column(col, run_bits: int) -> list[tuple[float, int, bool, int]]:
    """Walk one column row by row: (value, run, is_padding, row) per entry.

    Zeros are counted since the last entry; when the count is already at the maximum run (2**bits - 1) and
    another zero comes, that zero becomes a padding entry (value 0, run = max). Paddings are only kept when a
    non-zero follows: trailing zeros need no entry (the column pointer ends the column).
    """
    max_run = (1 << run_bits) - 1
    entries: list[tuple[float, int, bool, int]] = []
    pending: list[tuple[float, int, bool, int]] = []
    zeros = 0
    for row, v in enumerate(col):
        if v == 0:
            if zeros == max_run:
                pending.append((0.0, max_run, True, row))
                zeros = 0
            else:
                zeros += 1
        else:
            entries += pending
            pending = []
            entries.append((float(v), zeros, False, row))
            zeros = 0
    return entries


def check_against_reference(matrix: np.ndarray, run_bits: int) -> None:
    enc = encode_csc(matrix, run_bits)
    ptr = [0]
    got_all: list[tuple] = []
    for j in range(matrix.shape[1]):
        ref = reference_column(matrix[:, j], run_bits)
        ptr.append(ptr[-1] + len(ref))
        got_all += ref
    assert enc.col_ptr.tolist() == ptr
    assert enc.values.tolist() == [np.float32(e[0]) for e in got_all]
    assert enc.runs.tolist() == [e[1] for e in got_all]
    assert enc.padding.tolist() == [e[2] for e in got_all]
    assert enc.row_index.tolist() == [e[3] for e in got_all]
    assert enc.entries == len(got_all)
    assert enc.padding_entries == sum(e[2] for e in got_all)
    np.testing.assert_array_equal(enc.to_dense(), matrix.astype(np.float32))


def test_eie_worked_example():
    # Han et al., ISCA 2016, Fig. 3: [0, 0, 1, 2, 0 x 18, 3] -> v = [1, 2, 0, 3], x = [2, 0, 15, 2]
    col = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=np.float32)
    enc = encode_vector(col)
    assert enc.values.tolist() == [1, 2, 0, 3]
    assert enc.runs.tolist() == [2, 0, 15, 2]
    assert enc.padding.tolist() == [False, False, True, False]
    # the padding entry covers 16 positions after row 3 (15 zeros + itself): it sits on row 19
    assert enc.row_index.tolist() == [2, 3, 19, 22]
    assert enc.col_ptr.tolist() == [0, 4]
    assert (enc.n_rows, enc.entries, enc.padding_entries) == (23, 4, 1)
    np.testing.assert_array_equal(enc.to_dense()[:, 0], col)
    # storage with EIE's 4-bit weight indices: 4 entries x (4 + 4) bits, of which 1 padding; 2 column pointers
    assert enc.storage_bits(value_bits=4) == {"entries": 32, "padding": 8, "pointers": 32}
    assert enc.storage_bits(value_bits=16, pointer_bits=32) == {"entries": 80, "padding": 20, "pointers": 64}


@pytest.mark.parametrize(("gap", "runs", "rows"), [
    (15, [15], [15]),                 # the longest run that fits: no padding
    (16, [15, 0], [15, 16]),          # one more zero: one padding entry, then run 0
    (31, [15, 15], [15, 31]),
    (32, [15, 15, 0], [15, 31, 32]),
])
def test_padding_boundaries(gap, runs, rows):
    col = np.zeros(gap + 1, np.float32)
    col[gap] = 7.0
    enc = encode_vector(col)
    assert enc.runs.tolist() == runs
    assert enc.row_index.tolist() == rows
    assert enc.padding_entries == len(runs) - 1


def test_trailing_zeros_and_empty_columns_need_no_entries():
    m = np.zeros((40, 3), np.float32)
    m[1, 0] = 5.0                      # column 0: one entry then 38 trailing zeros
    m[39, 2] = -2.0                    # column 2: 39 leading zeros -> 2 paddings + the value
    enc = encode_csc(m)
    assert enc.col_ptr.tolist() == [0, 1, 1, 4]
    assert enc.runs.tolist() == [1, 15, 15, 7]
    assert enc.row_index.tolist() == [1, 15, 31, 39]
    assert enc.values.tolist() == [5.0, 0.0, 0.0, -2.0]
    empty = encode_csc(np.zeros((5, 4)))
    assert empty.entries == 0 and empty.col_ptr.tolist() == [0, 0, 0, 0, 0]
    assert empty.to_dense().shape == (5, 4) and not empty.to_dense().any()


@pytest.mark.parametrize("run_bits", [2, 3, 4])
@pytest.mark.parametrize("density", [0.01, 0.05, 0.3, 0.9])
def test_random_matrices_match_the_python_encoder(run_bits, density):
    rng = np.random.default_rng(int(density * 100) * 10 + run_bits)
    m = rng.standard_normal((97, 13)).astype(np.float32)
    m[rng.random(m.shape) >= density] = 0.0
    check_against_reference(m, run_bits)


def test_random_round_trip_and_padding_counts():
    rng = np.random.default_rng(5)
    total_padding = 0
    for _ in range(20):
        rows, cols = rng.integers(1, 200), rng.integers(1, 12)
        m = rng.integers(-3, 4, size=(rows, cols)).astype(np.float32)
        m[rng.random(m.shape) < rng.uniform(0.5, 0.99)] = 0.0
        enc = encode_csc(m)
        np.testing.assert_array_equal(enc.to_dense(), m)
        ref = [e for j in range(cols) for e in reference_column(m[:, j], 4)]
        assert enc.padding_entries == sum(e[2] for e in ref)
        assert enc.entries == np.count_nonzero(m) + enc.padding_entries
        total_padding += enc.padding_entries
        bits = enc.storage_bits(value_bits=8)
        assert bits == {"entries": 12 * enc.entries, "padding": 12 * enc.padding_entries, "pointers": 16 * (cols + 1)}
    assert total_padding > 0   # the sample does exercise padding


def test_integer_input_and_zero_run_bits():
    m = np.array([[0, 3], [2, 0], [0, 0], [4, 1]])
    enc = encode_csc(m)
    assert enc.values.dtype == np.float32
    assert enc.values.tolist() == [2, 4, 3, 1] and enc.runs.tolist() == [1, 1, 0, 2]
    # 0-bit runs: every zero before a non-zero is an explicit padding entry: rows 0, 2 of column 0 and 1, 2 of column 1
    check_against_reference(m, 0)
    assert encode_csc(m, 0).padding_entries == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="run_bits must be in 0..8"):
        encode_csc(np.eye(3), run_bits=9)
    with pytest.raises(ValueError, match="2-D"):
        encode_csc(np.ones(3))
