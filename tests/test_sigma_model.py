"""SIGMA model: a hand-worked tiny GEMM in each orientation (exact loading / streaming / add), functional checks
through the chip's own schedule on random layers, action counts, config errors."""

from __future__ import annotations

import numpy as np
import pytest

import accelsim
from accelsim.accelerators.sigma import simulate_layer
from accelsim.errors import ConfigError
from accelsim.trace.layer import Layer
from accelsim.trace.lowering import reference_output

A = np.array([[1, 2, 0, 3],
              [0, 4, 0, 0],
              [5, 0, 6, 0]], dtype=np.float32)   # MK, M = 3, K = 4
B = np.array([[1, 0],
              [2, 1],
              [0, 0],
              [1, 3]], dtype=np.float32)         # KN, K = 4, N = 2 (row k = 2 all zero)


def tiny(**kw):
    base = dict(flex_dpes=1, dpe_size=4, input_words_per_cycle=2)
    base.update(kw)
    return accelsim.load_config("sigma", **base)


def layer(a=A, b=B):
    return Layer("g", "matmul", {"M": a.shape[0], "N": b.shape[1], "K": a.shape[1]}, b, a)


# Hand working, 4 multipliers in one Flex-DPE (FAN adders 0 and 2 at level 0, adder 1 at level 1), 2 words/cycle.
#
# mk (A stationary, B's 2 columns streamed). B's row k=2 is all zero, so A[2, 2] = 6 is not mapped (AND with the
# OR of the streaming bitmap): 5 mapped, k-major (k, r): (0,0) (0,2) (1,0) (1,1) (3,0).
#  fold 1: the first 4 span k = {0, 1}: 2 distinct k <= 2, no alignment cut. Multipliers, VN by VN: r0k0 r0k1 |
#          r1k1 | r2k0. loading ceil(4/2) = 2; 2 words = 1 block per column, 2 columns: streaming 2;
#          add = 1 (multiply) + 1 (VN r0 on multipliers 0-1 leaves after adder 0, level 0 -> 1 level) = 2.   -> 6
#  fold 2: r0k3 alone: loading 1, streaming 2 x 1, add 1 + 0 levels = 1.                                    -> 4
#  total 10 = loading 3 + streaming 4 + add 3.
# kn (B^T stationary, A's 3 rows streamed). A has a non-zero in every column, so all 5 of B's are mapped,
# k-major (k, n): (0,0) (1,0) (1,1) (3,0) (3,1).
#  fold 1: the first 4 span k = {0, 1, 3}: 3 distinct k > 2, so the fold is cut to 2 k (align_folds): elements
#          (0,0) (1,0) (1,1) -> n0k0 n0k1 | n1k1. loading 2; 1 block x 3 columns = 3; add 1 + 1 = 2.              -> 7
#  fold 2: n0k3 | n1k3: loading 1; streaming 3; add 1 + 0 = 1.                                              -> 5
#  total 12 = loading 3 + streaming 6 + add 3. auto keeps mk (10 < 12).
# Output A @ B = [[1+4+3, 2+9], [8, 4], [5, 0]] = [[8, 11], [8, 4], [5, 0]].
EXPECTED_OUT = np.array([[8, 11], [8, 4], [5, 0]], dtype=np.float32)


@pytest.mark.parametrize("stationary, load, stream, add, folds", [("mk", 3, 4, 3, 2), ("kn", 3, 6, 3, 2)])
def test_hand_worked_tiny_gemm(stationary, load, stream, add, folds):
    res = simulate_layer(layer(), tiny(stationary=stationary))
    assert (res.extra["loading_cycles"], res.extra["streaming_cycles"], res.extra["add_cycles"]) == (load, stream, add)
    assert res.compute_cycles == load + stream + add and res.extra["folds"] == folds
    np.testing.assert_array_equal(res.output, EXPECTED_OUT)


def test_auto_keeps_the_faster():
    res = simulate_layer(layer(), tiny())
    assert res.extra["stationary"] == "mk" and res.compute_cycles == 10
    assert res.extra["cycles_mk"] == 10 and res.extra["cycles_kn"] == 12


def test_unaligned_fold_streams_a_part_empty_cycle():
    # kn without alignment: fold 1 takes the first 4 elements, k = {0, 1, 3}: multipliers n0k0 n0k1 n0k3 | n1k1;
    # 3 words = 2 blocks per column: streaming 3 x 2 = 6; the last block holds only n0k3 (a 1-product piece):
    # add = 1 + 0. Fold 1 = 2 + 6 + 1 = 9. Fold 2 = n1k3: 1 + 3 + 1 = 5. Total 14 (aligned: 12).
    res = simulate_layer(layer(), tiny(stationary="kn", align_folds=False))
    assert res.compute_cycles == 14
    np.testing.assert_array_equal(res.output, EXPECTED_OUT)


def test_hand_worked_action_counts():
    # mk: 5 mapped x 2 columns = 10 multiplies. FAN: only VN r0 of fold 1 has 2 products: 1 add per column = 2.
    # Benes (4 outputs, 2 log2 4 + 1 = 5 levels): fold 1, per column, word k0 -> multipliers {0, 3}: 5 to the
    # middle + level-3 prefixes {0, 1} + level-4 {0, 3} = 3 + 2 + 2 = 7; word k1 -> {1, 2}: 7; so 14 x 2 columns
    # = 28. Fold 2: k3 -> {0}: 5 x 2 = 10. Loading: 5 unicasts x 5 = 25. Total 63.
    # Accumulation: VN pieces x columns = (3 + 1) x 2 = 8 writes; first writes 3 rows x 2 = 6, so 2 reads / adds.
    res = simulate_layer(layer(), tiny(stationary="mk"))
    c = res.action_counts
    assert c[("multiplier", "mult")] == 10 and res.macs_issued == 10
    assert c[("fan", "add")] == 2 and c[("fan", "link")] == 4
    assert c[("benes", "switch")] == 63
    assert c[("acc_sram", "write")] == 8 and c[("acc_sram", "read")] == 2 and c[("accumulator", "add")] == 2
    # data SRAM reads: 5 stationary loads + streamed words (2 + 1) x 2 columns = 11
    assert c[("data_sram", "read")] == 11


def _random_layer(kind, rng, d_w, d_x):
    if kind == "conv2d":
        shape = {"N": 1, "C": 6, "H": 7, "W": 7, "K": 10, "R": 3, "S": 3, "stride": 1, "padding": 1, "groups": 2}
        w = rng.standard_normal((10, 3, 3, 3)).astype(np.float32)
        x = rng.standard_normal((1, 6, 7, 7)).astype(np.float32)
    else:
        shape = {"N": 9, "C": 150, "K": 37}
        w = rng.standard_normal((37, 150)).astype(np.float32)
        x = rng.standard_normal((9, 150)).astype(np.float32)
    w[rng.random(w.shape) > d_w] = 0
    x[rng.random(x.shape) > d_x] = 0
    return Layer("l", kind, shape, w, x)


@pytest.mark.parametrize("kind", ["conv2d", "linear"])
@pytest.mark.parametrize("stationary", ["mk", "kn", "auto"])
def test_functional_random_layers(kind, stationary):
    rng = np.random.default_rng(11)
    lay = _random_layer(kind, rng, d_w=0.3, d_x=0.6)
    # 3 Flex-DPEs of 8: VNs straddle Flex-DPEs and folds; 4 words per cycle: several blocks per column
    cfg = tiny(flex_dpes=3, dpe_size=8, input_words_per_cycle=4, stationary=stationary)
    res = simulate_layer(lay, cfg)
    np.testing.assert_allclose(res.output, reference_output(lay), rtol=1e-4, atol=1e-4)
    assert res.macs_issued >= res.macs_effectual


def test_functional_rows_packing():
    rng = np.random.default_rng(5)
    lay = _random_layer("linear", rng, d_w=0.1, d_x=0.9)
    cfg = tiny(flex_dpes=1, dpe_size=16, input_words_per_cycle=4, packing="rows", map_by_streaming_bitmap=False,
               stationary="kn")
    res = simulate_layer(lay, cfg)
    np.testing.assert_allclose(res.output, reference_output(lay), rtol=1e-4, atol=1e-4)


def test_rows_packing_hand_case():
    # rows packing, 4 multipliers, no streaming-bitmap AND: A's rows hold 3, 1, 2 non-zeros.
    # fold 1: rows 0 and 1 (3 + 1 = 4 fit), fold 2: row 2. fold 1 words: k {0, 1, 3} -> 2 blocks of 2 words;
    # loading 2, streaming 2 columns x 2 = 4, add: the last block (k3) holds r0k3 alone -> 1 + 0 = 1: 7.
    # fold 2: r2k0 r2k2, 2 words, 1 block: loading 1, streaming 2, add 1 + 1 (adder 0) = 2: 5. Total 12.
    res = simulate_layer(layer(), tiny(stationary="mk", packing="rows", map_by_streaming_bitmap=False))
    assert (res.extra["loading_cycles"], res.extra["streaming_cycles"], res.extra["add_cycles"]) == (3, 6, 3)
    np.testing.assert_array_equal(res.output, EXPECTED_OUT)
    # one FAN sum leaving per cycle (STONNE's rn_bw = 1): fold 1's first block emits 2 sums (VNs r0 and r1)
    # and takes 2 cycles, its second 1: 3 per column, 6 in all; fold 2 (r2, one VN): 2. Streaming 8.
    slow = simulate_layer(layer(), tiny(stationary="mk", packing="rows", map_by_streaming_bitmap=False,
                                        reduction_words_per_cycle=1))
    assert slow.extra["streaming_cycles"] == 8
    np.testing.assert_array_equal(slow.output, EXPECTED_OUT)


def test_config_errors():
    with pytest.raises(ConfigError, match="packing"):
        tiny(flex_dpes=2, packing="rows")
    with pytest.raises(ConfigError, match="dpe_size"):
        tiny(dpe_size=12)
    with pytest.raises(ConfigError, match="stationary"):
        tiny(stationary="both")


def test_runs_through_the_runner():
    trace = accelsim.synth(gemm=(24, 40, 200), weight_density=0.2, act_density=0.6, seed=0)
    run = accelsim.simulate(trace, tiny(flex_dpes=8, dpe_size=32, input_words_per_cycle=32))
    df = run.to_frame()
    assert bool(df["functional_ok"].all()) and (df["energy_pj"] > 0).all()
    assert df["stationary"].iloc[0] in ("mk", "kn")
