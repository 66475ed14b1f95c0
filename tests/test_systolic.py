"""Dense systolic array: hand-worked 4x4 examples per dataflow, functional output, memory stalls, N:M."""

import numpy as np
import pytest

import accelsim
from accelsim.accelerators.systolic.model import NotNMSparseError, compact_nm, simulate_layer
from accelsim.trace.layer import Layer
from accelsim.trace.lowering import reference_output


def gemm_layer(m, n, k, seed=0, density=1.0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    b[rng.random(b.shape) > density] = 0
    return Layer("g", "matmul", {"M": m, "N": n, "K": k}, b, a)


def cfg(**kw):
    base = dict(rows=4, cols=4, dram_bytes_per_cycle=1e6)
    base.update(kw)
    return accelsim.load_config("systolic", **base)


# Hand-worked on a 4x4 array, GEMM (M=4 x K=3) @ (K=3 x N=4): one fold in every dataflow.
# OS: PE(i,j) owns out[i,j]. Row i's operands enter with i cycles of skew, column j's with j;
# the last PE (3,3) gets its last pair (k=2) at cycle 2+3+3 = 8 (1-based 9 cycles), then the
# outputs shift out: SCALE-Sim's per-fold length is t + rows + cols - 2 = 3 + 4 + 4 - 2 = 9
# cycles and it reports the 0-based cycle of the last write: 9 - 1 = 8.
# WS: 4 cycles to load the weights (rows), rows - 1 = 3 for the first psum to ripple down,
# t = M = 4 streamed input rows, cols - 1 = 3 of column skew: 4 + 3 + 4 + 3 = 14 -> 13.
# IS: the same with inputs stationary and N = 4 filters streamed: 14 -> 13.
@pytest.mark.parametrize("dataflow, cycles", [("os", 8), ("ws", 13), ("is", 13)])
def test_hand_worked_4x4_single_fold(dataflow, cycles):
    layer = gemm_layer(4, 4, 3)
    res = simulate_layer(layer, cfg(dataflow=dataflow))
    assert res.compute_cycles == cycles
    np.testing.assert_allclose(res.output, layer.input @ layer.weight, rtol=1e-5, atol=1e-6)
    assert res.macs_issued == 4 * 4 * 3


# M = 6 does not fit 4 rows: OS needs ceil(6/4) = 2 row folds of 9 cycles -> 2*9 - 1 = 17.
# WS maps K=3 on rows, N=4 on cols (1 fold) and streams M=6: 6 + 8 + 4 - 2 = 16 -> 15.
# IS maps K=3 on rows, M=6 on cols: ceil(6/4) = 2 folds streaming N=4: 2 * 14 - 1 = 27.
@pytest.mark.parametrize("dataflow, cycles", [("os", 17), ("ws", 15), ("is", 27)])
def test_hand_worked_4x4_partial_folds(dataflow, cycles):
    layer = gemm_layer(6, 4, 3, seed=1)
    res = simulate_layer(layer, cfg(dataflow=dataflow))
    assert res.compute_cycles == cycles
    np.testing.assert_allclose(res.output, layer.input @ layer.weight, rtol=1e-5, atol=1e-6)


def test_pe_busy_and_load_balance():
    # OS, M=6 on 4 rows: rows 0-1 hold an output in both row folds, rows 2-3 only in the first;
    # every busy fold lasts t = 3 cycles, so busy = 6 for rows 0-1 and 3 for rows 2-3.
    res = simulate_layer(gemm_layer(6, 4, 3), cfg(dataflow="os"))
    busy = res.pe_busy_cycles.reshape(4, 4)
    assert busy[:2].tolist() == [[6] * 4] * 2 and busy[2:].tolist() == [[3] * 4] * 2
    assert res.load_balance == pytest.approx(4.5 / 6)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_conv_functional_strided_padded_grouped(dataflow):
    rng = np.random.default_rng(3)
    shape = dict(N=2, C=4, H=9, W=7, K=6, R=3, S=3, stride=2, padding=1, groups=2)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    x = np.maximum(rng.standard_normal((2, 4, 9, 7)), 0).astype(np.float32)
    layer = Layer("c", "conv2d", shape, w, x)
    res = simulate_layer(layer, cfg(dataflow=dataflow, rows=8, cols=4))
    np.testing.assert_allclose(res.output, reference_output(layer), rtol=1e-4, atol=1e-5)


def test_memory_stalls_from_dram_bandwidth():
    layer = gemm_layer(64, 64, 64)
    fast = simulate_layer(layer, cfg(rows=8, cols=8, dram_bytes_per_cycle=1e6))
    slow = simulate_layer(layer, cfg(rows=8, cols=8, dram_bytes_per_cycle=0.5))
    assert fast.compute_cycles == slow.compute_cycles
    # only the first load and the last write-back are exposed (one cycle each at this bandwidth)
    assert fast.cycles - fast.compute_cycles == 2
    # at 0.5 B/cycle the operands alone (2 x 64x64 x 2 B = 16 KB) take 32768 cycles
    assert slow.cycles >= 32768 and slow.stall_cycles["dram"] > 0


def test_nm_compaction_and_cycles():
    rng = np.random.default_rng(5)
    b = rng.standard_normal((10, 3)).astype(np.float32)
    # 2:4 pattern by hand in column 0: keep rows 1, 3 of group 0 and 4, 6 of group 1, 8 of group 2
    b[[0, 2, 5, 7, 9], 0] = 0
    b[:, 1:] = 0
    vals, idx = compact_nm(b, 2, 4)
    assert vals.shape == (2 + 2 + 2, 3)  # (10 // 4) * 2 + min(10 % 4, 2)
    assert idx[:, 0].tolist() == [1, 3, 4, 6, 8, 9]
    assert np.allclose(vals[:, 0], b[[1, 3, 4, 6, 8, 9], 0])
    b[0, 0] = 1.0  # three non-zeros in group 0
    with pytest.raises(NotNMSparseError):
        compact_nm(b, 2, 4)


def test_nm_sparse_layer_output_and_cycles():
    trace = accelsim.synth(gemm=(16, 8, 32), structure="nm:2:4", weight_density=0.5, seed=2)
    layer = trace[0]
    dense = simulate_layer(layer, cfg(dataflow="ws"))
    sparse = simulate_layer(layer, cfg(dataflow="ws", sparsity_n=2, sparsity_m=4))
    np.testing.assert_allclose(sparse.output, layer.input @ layer.weight, rtol=1e-4, atol=1e-5)
    # K=32 on 4 rows: dense needs 8 row folds, 2:4 compaction leaves K'=16 -> 4 row folds;
    # each WS fold is M + 2*rows + cols - 2 = 16 + 8 + 4 - 2 = 26 cycles, 2 column folds.
    assert dense.compute_cycles == 8 * 2 * 26 - 1
    assert sparse.compute_cycles == 4 * 2 * 26 - 1


def test_simulate_rows_and_energy_breakdown():
    trace = accelsim.synth(gemm=(8, 8, 8), seed=0)
    df = accelsim.simulate(trace, cfg()).to_frame()
    row = df.iloc[0]
    assert row["functional_ok"] is True or row["functional_ok"] == True  # noqa: E712
    parts = [c for c in df.columns if c.startswith("energy_pj.")]
    assert {"energy_pj.pe", "energy_pj.dram", "energy_pj.ifmap_sram"} <= set(parts)
    assert row["energy_pj"] == pytest.approx(sum(row[c] for c in parts))
    # 512 MACs at a 16-bit int multiply + 32-bit add from the Horowitz table
    from accelsim.energy import load_table

    assert row["energy_pj.pe"] == pytest.approx(512 * load_table("horowitz45").mac_pj(16, 32))


def test_extra_scalars_cannot_replace_standard_columns():
    from accelsim.results import PricedLayer

    res = simulate_layer(gemm_layer(4, 4, 3), cfg())
    res.extra["padding_share"] = 0.25
    row = PricedLayer(res, "t", "systolic", "c", 1e9, {"pe": 1.0}, True).row()
    assert row["padding_share"] == 0.25
    res.extra["cycles"] = 1
    with pytest.raises(ValueError, match="collides"):
        PricedLayer(res, "t", "systolic", "c", 1e9, {"pe": 1.0}, True).row()
