"""SCNN / DCNN / DCNN-opt chip models: a hand-worked layer end to end, functional checks on strided,
padded, grouped, batched and DRAM-tiled convs, the mapping rules, presets and energy accounting."""

from __future__ import annotations

import numpy as np
import pytest
from test_scnn_kernels import HAND_OUT, HAND_W, HAND_X

import accelsim
from accelsim.accelerators.registry import ACCELERATORS
from accelsim.accelerators.scnn.common import Conv
from accelsim.accelerators.scnn.dcnn import dense_vectors
from accelsim.accelerators.scnn.tiling import plan_layer
from accelsim.errors import ConfigError
from accelsim.simulate import energy_reference
from accelsim.trace import Layer, Trace
from accelsim.trace.lowering import effectual_macs, reference_output

ONE_PE = {"pe_rows": 1, "pe_cols": 1, "mult_f": 2, "mult_i": 2, "acc_banks": 8, "acc_bank_entries": 4}


def conv_layer(c, k, h, w, r, stride=1, pad=0, groups=1, n=1, wd=0.4, ad=0.5, seed=0) -> Layer:
    rng = np.random.default_rng(seed)
    wt = rng.standard_normal((k, c // groups, r, r)).astype(np.float32)
    wt[rng.random(wt.shape) > wd] = 0
    x = np.abs(rng.standard_normal((n, c, h, w))).astype(np.float32)
    x[rng.random(x.shape) > ad] = 0
    shape = dict(N=n, C=c, H=h, W=w, K=k, R=r, S=r, stride=stride, padding=pad, groups=groups)
    return Layer(f"conv{c}x{k}s{stride}p{pad}g{groups}", "conv2d", shape, wt, x)


def hand_layer() -> Layer:
    shape = dict(N=1, C=2, H=3, W=3, K=2, R=2, S=2, stride=1, padding=0, groups=1)
    return Layer("hand", "conv2d", shape, HAND_W.copy(), HAND_X[None].copy())


def test_hand_worked_layer_end_to_end():
    """The kernel test's hand-worked group, now through the whole chip (tests/test_scnn_kernels.py).

    One PE, one band, Kc = 2 (the 2x2 window holds 2 x 4 = 8 <= 8 x 4 accumulator entries), one
    group. Compute: 3 cycles with queue 1 (1 conflict stall). The group's 4 compressed weights
    (4 x 20 bits = 10 bytes, one 64-byte burst) stream from DRAM in ceil(64 / 50) = 2 cycles, within
    the compute. Drain: 8 owned entries at 4 per cycle = 2 cycles, exposed after the last group.
    Total 3 + 2 = 5 cycles.
    """
    cfg = accelsim.load_config("scnn", acc_queue=1, **ONE_PE)
    r = ACCELERATORS["scnn"].simulate_layer(hand_layer(), cfg)
    np.testing.assert_array_equal(r.output[0], HAND_OUT)
    assert r.compute_cycles == 3
    assert r.cycles == 5
    assert r.stall_cycles["bank_conflict"] == 1
    assert r.stall_cycles["fragmentation"] == pytest.approx(0.5)   # 2 empty slots of 4
    assert r.stall_cycles["ppu_drain"] == 2
    assert r.macs_issued == 6 and r.macs_effectual == 5
    assert r.extra["wasted_products"] == 1
    assert r.extra["kc_max"] == 2 and r.extra["groups"] == 1 and r.extra["halo_entries"] == 0
    a = r.action_counts
    assert a[("multiplier", "mul")] == 6
    assert a[("crossbar", "route")] == 5
    assert a[("accumulator", "rmw")] == 5
    assert a[("ppu", "op")] == 8
    assert a[("weight_fifo", "write")] == 4 and a[("weight_fifo", "read")] == 4
    assert a[("iaram", "read")] == 3
    assert a[("oaram", "write")] == 4                  # ReLU'd output: 4 non-zeros, one entry each
    assert a[("dram", "read")] == 10 * 8               # the weights, in bits
    # with a 2-deep bank queue the conflict disappears
    r2 = ACCELERATORS["scnn"].simulate_layer(hand_layer(), accelsim.load_config("scnn", acc_queue=2, **ONE_PE))
    assert r2.compute_cycles == 2 and r2.stall_cycles.get("bank_conflict", 0) == 0


def test_hand_worked_layer_on_dcnn():
    """DCNN, same PE (F = I = 2): per position, ceil(2/2) channel pairs x ceil(2/2) lanes x 4 taps
    = 4 cycles, 9 positions -> 36 cycles; 9 x 4 x 2 x 2 = 144 product slots, 4 x 4 x 2 x 2 = 64 valid."""
    layer = hand_layer()
    r = ACCELERATORS["dcnn"].simulate_layer(layer, accelsim.load_config("dcnn", **ONE_PE))
    np.testing.assert_array_equal(r.output[0], HAND_OUT)
    assert r.compute_cycles == 36
    assert r.macs_issued == 144
    assert r.extra["wasted_products"] == 144 - 64
    assert r.action_counts[("adder", "add")] == 64 - 32     # 2-channel dot products: 1 add per lane update
    opt = ACCELERATORS["dcnn_opt"].simulate_layer(layer, accelsim.load_config("dcnn_opt", **ONE_PE))
    assert opt.compute_cycles == r.compute_cycles
    zero_act = int((HAND_X == 0).sum())                     # 6 of 9 positions are zero in c0, 8 in c1
    assert opt.action_counts[("multiplier", "gated")] == zero_act * 4 * 2


CASES = [
    dict(c=8, k=12, h=12, w=10, r=3, stride=1, pad=1),
    dict(c=6, k=8, h=13, w=11, r=5, stride=2, pad=2, groups=2),
    dict(c=3, k=16, h=27, w=27, r=11, stride=4, pad=0),
    dict(c=4, k=6, h=9, w=9, r=3, stride=2, pad=1, n=2),
    dict(c=16, k=24, h=7, w=7, r=1),
    dict(c=8, k=8, h=10, w=10, r=2, stride=3, pad=1),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("chip", ["scnn", "dcnn", "dcnn_opt", "scnn-A", "scnn-W", "scnn-nophase"])
def test_functional_against_dense_reference(case, chip):
    layer = conv_layer(**case, seed=sum(case.values()))
    over = {"scnn-A": {"sparse_operands": "activations"}, "scnn-W": {"sparse_operands": "weights"},
            "scnn-nophase": {"stride_phases": False}}.get(chip, {})
    name = chip.split("-")[0]
    cfg = accelsim.load_config(name, **over)
    run = accelsim.simulate(Trace([layer], {}, name="t"), cfg)
    row = run.to_frame().iloc[0]
    assert row.functional_ok
    assert row.macs_effectual == effectual_macs(layer)
    assert row.macs_dense == layer.macs_dense
    assert row.cycles >= row.compute_cycles > 0


def test_functional_breaks_if_a_product_is_skipped(monkeypatch):
    """The functional check can fail: drop one product stream and the runner flags the layer."""
    from accelsim.accelerators.scnn import model

    real = model.weight_streams

    def lossy(*args, **kwargs):
        s = real(*args, **kwargs)
        s.val = s.val.copy()
        s.val[np.flatnonzero(s.val)[:1]] = 0.0
        return s

    monkeypatch.setattr(model, "weight_streams", lossy)
    layer = conv_layer(8, 8, 8, 8, 3, pad=1)
    run = accelsim.simulate(Trace([layer], {}, name="t"), accelsim.load_config("scnn"))
    assert not run.to_frame().iloc[0].functional_ok


def test_dram_bands_spill_partial_sums_and_stay_exact():
    """A layer too big for a 1 KB IARAM is split into bands; outputs stay exact, DRAM moves inputs,
    spilled partial sums and outputs, and more bands mean more DRAM traffic."""
    layer = conv_layer(32, 16, 40, 40, 3, pad=1, ad=0.6)
    small = accelsim.load_config("scnn", iaram_bytes=1024, oaram_bytes=256)
    r = ACCELERATORS["scnn"].simulate_layer(layer, small)
    ref = reference_output(layer)
    np.testing.assert_allclose(r.output, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert r.extra["bands"] > 1 and not r.extra["inputs_on_chip"] and not r.extra["outputs_on_chip"]
    assert r.action_counts[("dram", "write")] > 0 and r.action_counts[("iaram", "write")] > 0
    big = ACCELERATORS["scnn"].simulate_layer(layer, accelsim.load_config("scnn"))
    assert big.extra["bands"] == 1 and big.extra["inputs_on_chip"]
    assert r.bytes_moved["dram"] > big.bytes_moved.get("dram", 0)
    for chip in ("dcnn", "dcnn_opt"):
        d = ACCELERATORS[chip].simulate_layer(layer, accelsim.load_config(chip, iaram_bytes=1024))
        np.testing.assert_allclose(d.output, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
        assert d.extra["bands"] > 1


def test_plan_owns_every_output_once_and_fits_accumulators():
    for case in CASES:
        layer = conv_layer(**case)
        conv = Conv.of(layer)
        for iaram in (1 << 20, 256):
            entries = (layer.input != 0).sum(axis=1).max(axis=0)
            plan = plan_layer(conv.ay, conv.ax, conv.kg, entries, pe_rows=8, pe_cols=8, acc_entries=1024,
                              iaram_entries=iaram)
            cover = np.zeros((conv.p, conv.q), dtype=int)
            for band in plan.bands:
                area = (band.win[:, 1] - band.win[:, 0]) * (band.win[:, 3] - band.win[:, 2])
                assert band.kc * area.max() <= 1024                       # Kc x (outputs + halo) fits
                assert band.kc == min(conv.kg, 1024 // max(1, area.max()))
                for o, w in zip(band.own, band.win, strict=True):
                    cover[o[0]:o[1], o[2]:o[3]] += 1
                    if o[1] > o[0] and o[3] > o[2]:                       # owned outputs lie in the window
                        assert w[0] <= o[0] and o[1] <= w[1] and w[2] <= o[2] and o[3] <= w[3]
            np.testing.assert_array_equal(cover, 1)
            # a band's input rows are disjoint and cover the input
            rows = sorted(b.in_rows for b in plan.bands)
            assert rows[0][0] == 0 and rows[-1][1] == conv.h
            assert all(a[1] == b[0] for a, b in zip(rows, rows[1:], strict=False))


def test_dense_vectors_match_the_datapath_slot_count():
    layer = conv_layer(6, 10, 13, 11, 5, stride=2, pad=2)
    cfg = accelsim.load_config("dcnn")
    r = ACCELERATORS["dcnn"].simulate_layer(layer, cfg)
    conv = Conv.of(layer)
    plan = plan_layer(conv.ay, conv.ax, conv.kg, np.full((conv.h, conv.w), conv.c), pe_rows=8, pe_cols=8,
                      acc_entries=1024, iaram_entries=cfg.iaram_bytes * 8 // 16, min_kc=4)
    slots = sum(int(dense_vectors(conv, b, min(b.kc, conv.kg - k0), cfg)["slots"].sum())
                for b in plan.bands for k0 in range(0, conv.kg, b.kc))
    assert slots == r.macs_issued


def test_sparsity_variants_order_and_energy():
    layer = conv_layer(32, 32, 14, 14, 3, pad=1, wd=0.35, ad=0.45)
    t = Trace([layer], {}, name="t")
    rows = {}
    for label, (name, over) in {"scnn": ("scnn", {}), "A": ("scnn", {"sparse_operands": "activations"}),
                                "W": ("scnn", {"sparse_operands": "weights"}), "dcnn": ("dcnn", {}),
                                "opt": ("dcnn_opt", {})}.items():
        rows[label] = accelsim.simulate(t, accelsim.load_config(name, **over)).to_frame().iloc[0]
    assert rows["scnn"].cycles < rows["W"].cycles < rows["dcnn"].cycles
    assert rows["scnn"].cycles < rows["A"].cycles
    assert rows["scnn"].macs_issued < min(rows["A"].macs_issued, rows["W"].macs_issued)
    assert rows["opt"].cycles == rows["dcnn"].cycles
    assert rows["opt"].energy_pj < rows["dcnn"].energy_pj
    assert rows["scnn"].energy_pj < rows["opt"].energy_pj
    assert rows["scnn"]["energy_pj.crossbar"] > 0 and "energy_pj.crossbar" not in rows["dcnn"]
    assert rows["scnn"].oracle_cycles == -(-rows["scnn"].macs_effectual // 1024)
    for label in ("scnn", "A", "W"):
        assert 0 < rows[label].mult_util <= 1


def test_presets_and_config_validation():
    for name in ("scnn", "dcnn", "dcnn_opt"):
        cfg = accelsim.load_config(name)
        assert cfg.pes == 64 and cfg.multipliers == 1024 and cfg.clock_hz == 1e9
        ert = energy_reference(cfg)
        assert ert[("multiplier", "mul")] > 0 and ert[("dram", "read")] > 0
    assert accelsim.load_config("dcnn_opt").zero_gating and not accelsim.load_config("dcnn").zero_gating
    assert accelsim.load_config("scnn").acc_entries == 1024
    with pytest.raises(ConfigError, match="acc_banks"):
        accelsim.load_config("scnn", acc_banks=24)
    with pytest.raises(ConfigError, match="sparse_operands"):
        accelsim.load_config("scnn", sparse_operands="neither")
    with pytest.raises(ConfigError, match="unknown key"):
        accelsim.load_config("dcnn", sparse_operands="both")


def test_non_conv_layers_are_rejected():
    layer = Layer("fc", "linear", {"N": 1, "C": 8, "K": 4}, np.ones((4, 8), np.float32), np.ones((1, 8), np.float32))
    with pytest.raises(accelsim.AccelsimError, match="conv2d"):
        accelsim.simulate(Trace([layer], {}, name="t"), accelsim.load_config("scnn"))
