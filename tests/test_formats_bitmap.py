"""Bitmap encoding (SIGMA's operand format): hand example, round trip, storage bits, the streaming-bitmap OR."""

import numpy as np
import pytest

from accelsim.formats import encode_bitmap


def test_hand_example():
    m = np.array([[0, 3, 0, 0],
                  [1, 0, 0, 2],
                  [0, 0, 0, 0]], dtype=np.float32)
    enc = encode_bitmap(m)
    assert enc.bitmap.astype(int).tolist() == [[0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0]]
    assert enc.values.tolist() == [3, 1, 2]  # row-major
    # 12 positions -> 12 bitmap bits; 3 values x 16 bits (BF16) = 48
    assert enc.storage_bits(16) == {"bitmap": 12, "values": 48}
    assert enc.row_or().tolist() == [True, True, False]
    assert enc.nnz == 3 and enc.shape == (3, 4)


def test_round_trip_random():
    rng = np.random.default_rng(0)
    for density in (0.0, 0.1, 0.5, 1.0):
        m = rng.standard_normal((17, 23)).astype(np.float32)
        m[rng.random(m.shape) >= density] = 0
        enc = encode_bitmap(m)
        np.testing.assert_array_equal(enc.to_dense(), m)
        assert enc.storage_bits(32)["values"] == 32 * np.count_nonzero(m)
        assert enc.storage_bits(32)["bitmap"] == m.size


def test_rejects_non_matrix():
    with pytest.raises(ValueError, match="2-D"):
        encode_bitmap(np.zeros(5))
