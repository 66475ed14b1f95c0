"""EIE model: a hand-worked 4-PE example with exact cycles and queue stalls, the functional check
through the runner, batching (long input and output vectors), and config handling."""

from __future__ import annotations

import numpy as np
import pytest

import accelsim
from accelsim.accelerators.eie import EIEConfig, map_layer, simulate_layer, simulate_mapped
from accelsim.errors import AccelsimError, ConfigError
from accelsim.trace import Layer, Trace
from accelsim.trace.lowering import effectual_macs, reference_output

# ----------------------------------------------------------------------------- hand-worked example
#
# 4 PEs, 80 output rows (20 local rows per PE: output row i = 4 * local + pe), 4 inputs,
# x = [1, 0, 2, 3]: the LNZD broadcasts three items, I0 = (1, j=0), I1 = (2, j=2), I2 = (3, j=3);
# column 1 is skipped (its weight in PE 1 is never touched).
#
# Stored entries per PE and broadcast item (a column slice costs one cycle per entry, at least 1):
#   PE 0: j=0 rows 0,4,8 (3 entries) | j=2 row 12 (1)        | j=3 row 4 (1)
#   PE 1: j=0 row 1 (1)              | j=2 row 9 (1)         | j=3 rows 69,73 = local 17,18: local 17
#                                                                follows 17 zeros > 15, so a padding
#                                                                entry first (3 entries)
#   PE 2: j=0 nothing (empty, 1)     | j=2 row 2 (1)         | j=3 row 18 (1)
#   PE 3: j=0 row 31 (1)             | j=2 row 7 (1)         | j=3 row 11 (1)
# Costs: PE0 [3,1,1], PE1 [1,1,3], PE2 [1,1,1], PE3 [1,1,1].
#
# Queue rules (kernels.py): an activation stays at the head of its PE's queue until its column is
# done (it leaves at the end of its last cycle); the preset's registered full flag means the
# broadcast in cycle t looks at the occupancies at the start of cycle t. occ = entries in a queue.
#
# Queue depth 1 (the PEs run in lock-step, with a one-cycle bubble per activation):
#   c0: occ 0 -> broadcast I0. Nothing to start: all 4 PEs starved.
#   c1: occ 1 = full -> STALL 1. All start I0: PE1-3 finish it (1 cycle); PE0 has 3 entries.
#   c2: PE0's queue still holds I0 -> STALL 2. PE0 busy; PE1-3 idle waiting on the broadcast.
#   c3: STALL 3. PE0 issues its last entry of I0; I0 leaves PE0's queue. PE1-3 wait.
#   c4: all queues empty -> broadcast I1. Nothing to start: all 4 starved.
#   c5: occ 1 -> STALL 4. All start I1 and finish it.
#   c6: broadcast I2 (the last). All 4 starved.
#   c7: all start I2 (PE1: 3 entries, the others 1); PE0, PE2, PE3 finish at 8. Nothing left to send.
#   c8, c9: PE1 busy (rows 69, 73 after the padding entry); finishes at 10.
# => 10 cycles of broadcast/compute, 4 broadcast stalls (c1, c2, c3, c5), busy [5, 5, 3, 3];
#    starved 3 per PE (c0, c4, c6) = 12;
#    waiting on the broadcast [0, 2, 2, 2] = 6 (c2, c3); draining 10 - finish = [2, 0, 2, 2] = 6.
#    The 4-stage pipeline retires the last entry 3 cycles later: 13 cycles, pe_pipeline 4 x 3 = 12.
#    Check: busy 16 + 12 + 6 + 6 + 12 = 52 = 4 PEs x 13 cycles.
#
# Queue depth 2:
#   c0: broadcast I0; all starved.          c1: occ 1 < 2 -> broadcast I1; all start I0; PE1-3 finish.
#   c2: PE0 holds I0 and I1 (occ 2) -> STALL 1. PE1-3 start and finish I1.
#   c3: PE0 still holds I0 -> STALL 2; PE0 finishes I0; PE1-3 wait.
#   c4: occ PE0 = 1 -> broadcast I2; PE0 starts and finishes I1; PE1-3 starved.
#   c5: all start I2; PE0, PE2, PE3 finish at 6.   c6, c7: PE1 busy; finishes at 8.
# => 8 + 3 = 11 cycles, 2 stalls, starved [1, 2, 2, 2] = 7, waiting [0, 1, 1, 1] = 3, drain [2, 0, 2, 2] = 6.
#    Check: 16 + 7 + 3 + 6 + 12 = 44 = 4 x 11.
#
# Queue depth 3: no stall (PE0 can hold I0..I2): c0 broadcast I0, c1 I1, c2 I2; PE1 starts I2 in c3
# and finishes at 6, PE0 works c1..c5 and finishes at 6; PE2, PE3 finish at 4.
# => 6 + 3 = 9 cycles, starved 4 (c0), drain [0, 0, 2, 2] = 4. Check: 16 + 4 + 4 + 12 = 36 = 4 x 9.
#
# Depth 1 with a same-cycle full flag (registered_full: false): a slot freed at the end of cycle t
# takes the push of cycle t, so the bubbles go: c1 STALL (PE0 busy), c2 STALL (PE1-3 wait), c3 PE0
# finishes I0 -> broadcast I1 (PE1-3 starved), c4 all do I1 -> broadcast I2, c5 all start I2, PE1
# finishes at 8. => 8 + 3 = 11 cycles, 2 stalls, starved 4 + 3 = 7, waiting 3, drain 6.
#
# Sparse-matrix words with a 16-bit SRAM word (2 entries per read), PE-local addresses, a one-word
# buffer: PE0 j=0 [0,3) reads words 0,1; j=2 [3,4) is in word 1 (buffered); j=3 [4,5) word 2 -> 3.
# PE1 j=0 [0,1) w0; (j=1 [1,2) unused); j=2 [2,3) w1; j=3 [3,6) w1 (buffered), w2 -> 3.
# PE2 j=2 [0,1) w0; j=3 [1,2) w0 buffered -> 1.  PE3 j=0 [0,1) w0; j=2 [1,2) buffered; j=3 [2,3) w1 -> 2.
# Total 9 words.

HAND_WEIGHTS = {  # (output row, input column): value
    (0, 0): 1.0, (4, 0): 2.0, (8, 0): 3.0, (12, 2): 2.0, (4, 3): 1.0,          # PE 0
    (1, 0): 3.0, (21, 1): 2.0, (9, 2): 1.0, (69, 3): 2.0, (73, 3): 3.0,        # PE 1
    (2, 2): 3.0, (18, 3): 1.0,                                                  # PE 2
    (31, 0): 1.0, (7, 2): 2.0, (11, 3): 3.0,                                    # PE 3
}
HAND_X = np.array([[1.0, 0.0, 2.0, 3.0]], dtype=np.float32)


def hand_layer() -> Layer:
    w = np.zeros((80, 4), dtype=np.float32)
    for (i, j), v in HAND_WEIGHTS.items():
        w[i, j] = v
    return Layer("hand", "linear", {"N": 1, "C": 4, "K": 80}, w, HAND_X.copy())


def hand_config(depth: int, registered_full: bool = True) -> EIEConfig:
    return accelsim.load_config("eie", pe_count=4, queue_depth=depth, spmat_word_bits=16,
                                registered_full=registered_full)


def test_hand_worked_depth_1():
    r = simulate_layer(hand_layer(), hand_config(1))
    assert r.cycles == 13
    assert r.pe_busy_cycles.tolist() == [5, 5, 3, 3]
    assert r.stall_cycles == {"broadcast_full": 4, "pe_starved": 12, "pe_broadcast_wait": 6, "pe_drain": 6,
                              "pe_pipeline": 12}
    assert r.extra["pe_idle_starved"].tolist() == [3, 3, 3, 3]
    assert r.extra["pe_idle_broadcast_wait"].tolist() == [0, 2, 2, 2]
    assert r.extra["pe_idle_drain"].tolist() == [2, 0, 2, 2]
    assert r.macs_issued == 15 and r.macs_effectual == 14
    a = r.action_counts
    assert a[("ptr_sram", "read")] == 12 and a[("spmat_sram", "read")] == 9
    assert a[("arith", "mac")] == 14 and a[("arith", "mac_padding")] == 1
    assert a[("lnzd", "broadcast")] == 3 and a[("act_queue", "push")] == 12
    assert a[("pe", "clock")] == 52
    assert r.extra["padding_share"] == pytest.approx(1 / 15)
    assert r.extra["load_efficiency"] == pytest.approx(16 / 52)


def test_hand_worked_depth_2():
    r = simulate_layer(hand_layer(), hand_config(2))
    assert r.cycles == 11
    assert r.pe_busy_cycles.tolist() == [5, 5, 3, 3]
    assert r.stall_cycles == {"broadcast_full": 2, "pe_starved": 7, "pe_broadcast_wait": 3, "pe_drain": 6,
                              "pe_pipeline": 12}


def test_hand_worked_depth_3():
    r = simulate_layer(hand_layer(), hand_config(3))
    assert r.cycles == 9
    assert r.stall_cycles == {"pe_starved": 4, "pe_drain": 4, "pe_pipeline": 12}


def test_hand_worked_same_cycle_full_flag():
    r = simulate_layer(hand_layer(), hand_config(1, registered_full=False))
    assert r.cycles == 11
    assert r.stall_cycles == {"broadcast_full": 2, "pe_starved": 7, "pe_broadcast_wait": 3, "pe_drain": 6,
                              "pe_pipeline": 12}


def test_hand_worked_output():
    r = simulate_layer(hand_layer(), hand_config(1))
    expected = np.zeros(80)
    for (i, j), v in HAND_WEIGHTS.items():
        expected[i] += v * HAND_X[0, j]
    assert expected[[0, 4, 8, 12, 1, 9, 69, 73, 2, 18, 31, 7, 11, 21]].tolist() == [
        1, 5, 3, 4, 3, 2, 6, 9, 6, 3, 1, 4, 9, 0]
    np.testing.assert_array_equal(r.output[0], expected.astype(np.float32))
    np.testing.assert_array_equal(r.reference[0], expected)


# ----------------------------------------------------------------------------- functional check

def _random_layer(rng, k, c, wd, ad, n=1, kind="linear", dtype=np.float32) -> Layer:
    w = np.where(rng.random((k, c)) < wd, rng.standard_normal((k, c)), 0.0).astype(dtype)
    x = np.where(rng.random((n, c)) < ad, np.abs(rng.standard_normal((n, c))), 0.0).astype(np.float32)
    shape = {"N": n, "C": c, "K": k}
    if kind == "lstm":
        shape["hidden"] = k // 4
    return Layer(f"{kind}-{k}x{c}", kind, shape, w, x)


def test_functional_check_through_the_runner():
    rng = np.random.default_rng(5)
    layers = [_random_layer(rng, 300, 200, 0.1, 0.4), _random_layer(rng, 96, 150, 0.2, 1.0, n=3, kind="lstm")]
    trace = Trace(layers, {"seed": 5}, name="rand")
    cfg = accelsim.load_config("eie", pe_count=8)
    df = accelsim.simulate(trace, cfg).to_frame()
    assert df["functional_ok"].tolist() == [True, True]
    assert (df["energy_pj"] > 0).all() and (df["cycles"] > 0).all()
    for col in ("energy_pj.spmat_sram", "energy_pj.pe", "energy_pj.arith",
                "stall.broadcast_full", "padding_share", "load_efficiency"):
        assert col in df.columns


def test_reference_is_numpy_on_the_quantised_weights():
    rng = np.random.default_rng(6)
    layer = _random_layer(rng, 130, 70, 0.15, 0.5, n=2)
    cfg = accelsim.load_config("eie", pe_count=4, act_regfile_entries=8)
    mapping = map_layer(layer, cfg)
    r = simulate_mapped(layer, cfg, mapping)
    wq = mapping.encoding.quantized_dense()
    np.testing.assert_allclose(r.reference, reference_output(layer, weight=wq), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.output, r.reference, rtol=1e-5, atol=1e-5)
    assert r.macs_effectual == effectual_macs(layer)
    # the quantisation really changed the weights (the dense reference would not match exactly)
    assert not np.array_equal(wq, layer.weight)


def test_a_chip_that_skips_work_fails_the_check():
    rng = np.random.default_rng(7)
    layer = _random_layer(rng, 64, 64, 0.2, 0.5)
    cfg = accelsim.load_config("eie", pe_count=4)
    mapping = map_layer(layer, cfg)
    broken = type(mapping)(mapping.encoding, mapping.codes.copy(), mapping.runs, mapping.sram_shift, mapping.key)
    broken.codes[np.flatnonzero(broken.codes)[::7]] = 0  # drop every 7th non-zero, as if skipped
    r = simulate_mapped(layer, cfg, broken)
    from accelsim.simulate import functional_ok
    assert functional_ok(r, layer) is False


# ----------------------------------------------------------------------------- batching

@pytest.mark.parametrize("barrier", [True, False])
def test_long_vectors_run_in_batches(barrier):
    # 4 PEs x 4 register entries = 16-entry batches: 50 outputs -> 4 output batches, 37 inputs -> 3 input batches
    rng = np.random.default_rng(8)
    layer = _random_layer(rng, 50, 37, 0.3, 0.6, n=2)
    cfg = accelsim.load_config("eie", pe_count=4, act_regfile_entries=4, batch_barrier=barrier)
    r = simulate_layer(layer, cfg)
    assert r.extra["output_batches"] == 4 and r.extra["input_batches"] == 3
    assert r.extra["phases"] == (2 * 4 * 3 if barrier else 2)
    np.testing.assert_allclose(r.output, r.reference, rtol=1e-5, atol=1e-5)
    n = cfg.pe_count
    idle = sum(v for k, v in r.stall_cycles.items() if k.startswith("pe_"))
    assert int(r.pe_busy_cycles.sum()) + idle == n * r.cycles
    # every activation is broadcast once per output batch and input row
    assert r.action_counts[("lnzd", "broadcast")] == 4 * np.count_nonzero(layer.input)
    assert r.action_counts[("act_sram", "read")] > 0 and r.action_counts[("act_sram", "write")] > 0


def test_barrier_costs_cycles_and_streaming_does_not_reorder_results():
    rng = np.random.default_rng(9)
    layer = _random_layer(rng, 200, 120, 0.1, 0.5)
    with_barrier = simulate_layer(layer, accelsim.load_config("eie", pe_count=8, act_regfile_entries=4))
    streaming = simulate_layer(layer, accelsim.load_config("eie", pe_count=8, act_regfile_entries=4,
                                                            batch_barrier=False))
    assert streaming.cycles < with_barrier.cycles
    assert streaming.macs_issued == with_barrier.macs_issued
    np.testing.assert_array_equal(streaming.output, with_barrier.output)


def test_rows_of_a_batch_are_independent_inferences():
    rng = np.random.default_rng(10)
    layer = _random_layer(rng, 64, 48, 0.2, 0.5, n=3)
    cfg = accelsim.load_config("eie", pe_count=4)
    total = simulate_layer(layer, cfg)
    parts = [simulate_layer(Layer("r", "linear", {"N": 1, "C": 48, "K": 64}, layer.weight, layer.input[i:i + 1]),
                            cfg) for i in range(3)]
    assert total.cycles == sum(p.cycles for p in parts)
    np.testing.assert_array_equal(total.output, np.concatenate([p.output for p in parts]))


# ----------------------------------------------------------------------------- config

def test_preset_and_overrides():
    cfg = accelsim.load_config("eie")
    assert (cfg.pe_count, cfg.queue_depth, cfg.clock_hz, cfg.entries_per_word) == (64, 8, 800e6, 8)
    assert cfg.energy_table == "eie45"
    cfg = accelsim.load_config("eie", pe_count=16, queue_depth=2)
    assert (cfg.pe_count, cfg.queue_depth) == (16, 2)
    with pytest.raises(ConfigError, match="queue_depth"):
        accelsim.load_config("eie", queue_depth=0)
    with pytest.raises(ConfigError, match="spmat_word_bits"):
        accelsim.load_config("eie", spmat_word_bits=60)
    with pytest.raises(ConfigError, match="unknown key"):
        accelsim.load_config("eie", fifo=3)


def test_rejects_conv_and_stale_mapping():
    conv = Layer("c", "conv2d", {"N": 1, "C": 1, "H": 3, "W": 3, "K": 1, "R": 1, "S": 1, "stride": 1,
                                 "padding": 0, "groups": 1}, np.ones((1, 1, 1, 1)), np.ones((1, 1, 3, 3)))
    with pytest.raises(AccelsimError, match="linear"):
        simulate_layer(conv, accelsim.load_config("eie"))
    layer = hand_layer()
    mapping = map_layer(layer, hand_config(1))
    with pytest.raises(AccelsimError, match="re-run map_layer"):
        simulate_mapped(layer, accelsim.load_config("eie", pe_count=8), mapping)


# ----------------------------------------------------------------------------- design-space trends

def test_fifo_depth_trend_like_fig8():
    # EIE §VI-B / Fig. 8: about half the cycles idle at depth 1, diminishing returns beyond 8
    rng = np.random.default_rng(12)
    layer = _random_layer(rng, 4096, 512, 0.09, 0.35)  # 64 rows per PE, as Alex-7
    mapping = map_layer(layer, accelsim.load_config("eie"))
    eff = {d: simulate_mapped(layer, accelsim.load_config("eie", queue_depth=d), mapping).extra["load_efficiency"]
           for d in (1, 8, 64)}
    assert 0.35 < eff[1] < 0.65
    assert eff[8] > 0.85 and eff[64] - eff[8] < 0.05


def test_padding_falls_with_more_pes_when_slices_span_all_rows():
    # EIE §VI-B: real work / total work improves with more PEs (shorter slices, fewer long gaps)
    rng = np.random.default_rng(13)
    layer = _random_layer(rng, 1024, 256, 0.04, 0.5)
    ratios = [simulate_layer(layer, accelsim.load_config("eie", pe_count=n, act_regfile_entries=1024 // n))
              .extra["real_work_ratio"] for n in (1, 16, 64)]
    assert ratios[0] < ratios[1] < ratios[2] == 1.0
