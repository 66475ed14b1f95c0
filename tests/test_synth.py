"""Synthetic traces: exact densities, structured sparsity patterns, ReLU inputs, determinism, presets, errors.

Only tiny GEMMs and a few small MobileNet-v2 / EIE layers are generated (``layers=[...]``), never whole networks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import accelsim
from accelsim import AccelsimError
from accelsim.trace.zoo import network_layers

MBV2 = "mobilenet_v2"
DW, PROJ, EXPAND = "block0.dw", "block0.project", "block1.expand"   # (32,1,3,3), (16,32,1,1), (96,16,1,1)


def nnz(a: np.ndarray) -> int:
    return int(np.count_nonzero(a))


# -- exact densities --------------------------------------------------------------------------


@pytest.mark.parametrize(("wd", "ad"), [(0.25, 0.5), (0.3, 0.4), (0.05, 0.77), (1.0, 1.0)])
def test_unstructured_gemm_hits_densities_within_one_element(wd, ad):
    layer = accelsim.synth(gemm=(32, 16, 64), weight_density=wd, act_density=ad, seed=3)[0]
    assert layer.weight.shape == (64, 16) and layer.input.shape == (32, 64)   # K x N weight, M x K input
    assert abs(nnz(layer.weight) - wd * 1024) <= 1
    assert abs(nnz(layer.input) - ad * 2048) <= 1


def test_unstructured_exact_counts_when_density_times_size_is_whole():
    layer = accelsim.synth(gemm=(32, 16, 64), weight_density=0.25, act_density=0.5, seed=0)[0]
    assert nnz(layer.weight) == 256       # 0.25 x 64 x 16
    assert nnz(layer.input) == 1024       # 0.5 x 32 x 64


def test_unstructured_conv_layer_densities():
    layer = accelsim.synth(MBV2, layers=[PROJ], weight_density=0.375, act_density=0.6, seed=1)[0]
    assert layer.weight.shape == (16, 32, 1, 1) and layer.input.shape == (1, 32, 112, 112)
    assert nnz(layer.weight) == 192                         # 0.375 x 512
    assert abs(nnz(layer.input) - 0.6 * 401408) <= 1        # 240844.8


def test_weights_are_he_normal_then_magnitude_pruned():
    dense = accelsim.synth(gemm=(4, 64, 256), weight_density=1.0, seed=0)[0].weight
    sigma = math.sqrt(2.0 / 256)                            # He-normal: fan-in = K = 256 for a matmul weight
    assert dense.dtype == np.float32
    assert dense.std() == pytest.approx(sigma, rel=0.05)
    assert abs(float(dense.mean())) < 0.05 * sigma
    pruned = accelsim.synth(gemm=(4, 64, 256), weight_density=0.1, seed=0)[0].weight
    survivors = np.abs(pruned[pruned != 0])
    # keeping the top 10 % of |N(0, s)| leaves nothing below the 90 % quantile of |x|, 1.645 s
    assert survivors.min() > 1.5 * sigma
    assert nnz(pruned) == round(0.1 * 256 * 64)


# -- structured sparsity ----------------------------------------------------------------------


def _blocks(mat: np.ndarray, br: int, bc: int):
    for i in range(0, mat.shape[0], br):
        for j in range(0, mat.shape[1], bc):
            yield mat[i:i + br, j:j + bc]


def test_block_structure_keeps_whole_blocks_including_ragged_edges():
    # matmul weight is K x N = 18 x 10; its output-major view is 10 x 18 -> 3 x 5 blocks of 4x4 (edges ragged)
    w = accelsim.synth(gemm=(4, 10, 18), weight_density=0.4, structure="block:4x4", seed=2)[0].weight
    view = w.T
    kept = 0
    for blk in _blocks(view, 4, 4):
        assert nnz(blk) in (0, blk.size), "a block is partly pruned"
        kept += nnz(blk) > 0
    assert kept == 6                                         # 0.4 x 15 blocks


def test_block_structure_on_a_conv_weight():
    w = accelsim.synth(MBV2, layers=[PROJ], weight_density=0.25, structure="block:2x4", seed=0)[0].weight
    view = w.reshape(16, 32)                                 # filters x (C R S)
    sizes = [nnz(b) for b in _blocks(view, 2, 4)]
    assert len(sizes) == 64 and set(sizes) == {0, 8}
    assert sizes.count(8) == 16                              # 0.25 x 64 blocks


def _nm_groups(view: np.ndarray, m: int) -> np.ndarray:
    """Non-zeros per group of m consecutive reduction elements (ragged last group padded with zeros)."""
    cols = -(-view.shape[1] // m) * m
    padded = np.zeros((view.shape[0], cols), view.dtype)
    padded[:, :view.shape[1]] = view
    return (padded.reshape(view.shape[0], -1, m) != 0).sum(axis=2)


def test_nm_structure_holds_in_every_group():
    w = accelsim.synth(gemm=(4, 8, 32), structure="nm:2:4", seed=0)[0].weight      # K=32 x N=8
    per_group = _nm_groups(w.T, 4)                                                 # groups run along K
    assert per_group.shape == (8, 8)
    assert (per_group == 2).all()
    one = accelsim.synth(gemm=(4, 8, 32), structure="nm:1:4", seed=0)[0].weight
    assert (_nm_groups(one.T, 4) == 1).all()


def test_nm_structure_with_a_ragged_last_group_and_a_conv():
    w = accelsim.synth(gemm=(2, 5, 18), structure="nm:2:4", seed=4)[0].weight     # 18 = 4 groups + 2
    groups = _nm_groups(w.T, 4)
    assert (groups[:, :4] == 2).all() and (groups[:, 4] == 2).all()                # last group: both kept
    conv = accelsim.synth(MBV2, layers=[PROJ], structure="nm:2:8", seed=0)[0].weight
    assert (_nm_groups(conv.reshape(16, 32), 8) == 2).all()


def test_nm_below_n_over_m_hits_the_density_and_keeps_the_pattern():
    w = accelsim.synth(gemm=(4, 8, 32), weight_density=0.25, structure="nm:2:4", seed=1)[0].weight
    assert nnz(w) == 64                                       # 0.25 x 256, not N/M = 0.5
    assert _nm_groups(w.T, 4).max() <= 2


def test_channel_structure_zeroes_whole_filters():
    conv = accelsim.synth(MBV2, layers=[PROJ], weight_density=0.25, structure="channel", seed=0)[0].weight
    per_filter = [nnz(f) for f in conv]
    assert set(per_filter) == {0, 32} and per_filter.count(32) == 4      # 0.25 x 16 filters
    w = accelsim.synth(gemm=(4, 12, 20), weight_density=0.5, structure="channel", seed=0)[0].weight
    per_output = [nnz(w[:, n]) for n in range(12)]                       # output unit n = column n of K x N
    assert set(per_output) == {0, 20} and per_output.count(20) == 6


# -- values -----------------------------------------------------------------------------------


def test_relu_inputs_are_non_negative_and_others_are_signed():
    trace = accelsim.synth(MBV2, layers=[DW, EXPAND], act_density=0.5, seed=0)
    dw, expand = trace[DW], trace[EXPAND]
    assert dw.attrs["relu_input"] is True and expand.attrs["relu_input"] is False
    assert dw.input.min() == 0.0 and nnz(dw.input) == 0.5 * dw.input.size
    assert expand.input.min() < 0 < expand.input.max()
    gemm = accelsim.synth(gemm=(8, 8, 8), act_density=1.0)[0]
    assert nnz(gemm.input) == 64 and (gemm.input < 0).any()


def test_with_output_is_the_dense_product():
    layer = accelsim.synth(gemm=(6, 5, 7), weight_density=0.5, act_density=0.5, seed=9, with_output=True)[0]
    expected = layer.input.astype(np.float64) @ layer.weight.astype(np.float64)
    np.testing.assert_allclose(layer.output, expected, rtol=1e-6, atol=1e-7)


# -- determinism ------------------------------------------------------------------------------


def test_same_seed_is_bit_identical_and_other_seed_differs():
    a = accelsim.synth(gemm=(8, 6, 10), weight_density=0.4, act_density=0.6, seed=11)[0]
    b = accelsim.synth(gemm=(8, 6, 10), weight_density=0.4, act_density=0.6, seed=11)[0]
    c = accelsim.synth(gemm=(8, 6, 10), weight_density=0.4, act_density=0.6, seed=12)[0]
    assert a.weight.tobytes() == b.weight.tobytes() and a.input.tobytes() == b.input.tobytes()
    assert a.weight.tobytes() != c.weight.tobytes() and a.input.tobytes() != c.input.tobytes()
    # different zero positions too, not just different values
    assert not np.array_equal(a.input != 0, c.input != 0)


def test_a_layer_does_not_depend_on_which_other_layers_were_selected():
    both = accelsim.synth(MBV2, layers=[DW, PROJ], weight_density=0.5, seed=3)
    alone = accelsim.synth(MBV2, layers=[PROJ], weight_density=0.5, seed=3)
    assert both[PROJ].weight.tobytes() == alone[PROJ].weight.tobytes()
    assert both[PROJ].input.tobytes() == alone[PROJ].input.tobytes()
    assert both[DW].input.tobytes() != both[PROJ].input.tobytes()       # layers get their own streams


# -- per-layer densities and provenance --------------------------------------------------------


def test_per_layer_density_list_and_dict():
    trace = accelsim.synth(MBV2, layers=[DW, PROJ], weight_density=[0.5, 0.25], act_density={PROJ: 0.125})
    assert nnz(trace[DW].weight) == 144 and nnz(trace[PROJ].weight) == 128     # 0.5 x 288, 0.25 x 512
    assert nnz(trace[DW].input) == trace[DW].input.size                       # not in the dict: 1.0
    assert nnz(trace[PROJ].input) == 50176                                    # 0.125 x 401408
    prov = trace.provenance
    assert prov["model"] == MBV2 and prov["seed"] == 0
    assert prov["pruning"]["weight_density"] == {DW: 0.5, PROJ: 0.25}
    assert prov["pruning"]["act_density"] == {DW: 1.0, PROJ: 0.125}
    assert prov["pruning"]["structure"] == "unstructured"


def test_numpy_scalar_density_is_a_number():
    layer = accelsim.synth(gemm=(4, 4, 16), weight_density=np.float32(0.25))[0]
    assert nnz(layer.weight) == 16


@pytest.mark.parametrize("kwargs", [
    {"weight_density": 0.0}, {"weight_density": 1.5}, {"act_density": -0.1}, {"weight_density": float("nan")},
    {"weight_density": True}, {"weight_density": "0.5"}, {"weight_density": [0.5, 0.5]},
    {"weight_density": {"nope": 0.5}}, {"structure": "block:0x2"}, {"structure": "nm:3:2"},
    {"structure": "diagonal"},
])
def test_bad_density_or_structure_raises_accelsim_error(kwargs):
    with pytest.raises(AccelsimError):
        accelsim.synth(gemm=(4, 4, 4), **kwargs)


def test_bad_network_and_arguments():
    with pytest.raises(AccelsimError, match="unknown network 'lenet9'"):
        accelsim.synth("lenet9")
    with pytest.raises(AccelsimError, match="exactly one of"):
        accelsim.synth()
    with pytest.raises(AccelsimError, match="exactly one of"):
        accelsim.synth("eie", gemm=(2, 2, 2))
    with pytest.raises(AccelsimError, match="has no layers nope"):
        accelsim.synth(MBV2, layers=["nope"])
    with pytest.raises(AccelsimError, match="2 values for 1 layers"):
        accelsim.synth(MBV2, layers=[DW], weight_density=[0.5, 0.5])


# -- EIE preset --------------------------------------------------------------------------------

#: EIE Table III (Han et al., ISCA 2016; shared/reference/eie.md): (input, output, weight %, activation %)
EIE_TABLE3 = {
    "Alex-6": (9216, 4096, 9, 35.1), "Alex-7": (4096, 4096, 9, 35.3), "Alex-8": (4096, 1000, 25, 37.5),
    "VGG-6": (25088, 4096, 4, 18.3), "VGG-7": (4096, 4096, 4, 37.5), "VGG-8": (4096, 1000, 23, 41.1),
    "NT-We": (4096, 600, 10, 100), "NT-Wd": (600, 8791, 11, 100), "NT-LSTM": (1201, 2400, 10, 100),
}


def test_eie_preset_carries_table_iii():
    specs = network_layers("eie")
    assert [s.name for s in specs] == list(EIE_TABLE3)
    for s in specs:
        c, k, wd, ad = EIE_TABLE3[s.name]
        assert (s.shape["C"], s.shape["K"]) == (c, k), s.name
        assert s.weight_density == pytest.approx(wd / 100), s.name
        assert s.act_density == pytest.approx(ad / 100), s.name


def test_eie_synth_uses_table_iii_densities_by_default():
    trace = accelsim.synth("eie", layers=["Alex-8", "NT-We"], seed=0)
    alex8, ntwe = trace["Alex-8"], trace["NT-We"]
    assert alex8.weight.shape == (1000, 4096)
    assert nnz(alex8.weight) == 1024000              # 25 % of 4096 x 1000
    assert nnz(alex8.input) == 1536                  # 37.5 % of 4096
    assert alex8.input.min() == 0.0                  # behind a ReLU
    assert abs(nnz(ntwe.weight) - 0.10 * 4096 * 600) <= 1
    assert nnz(ntwe.input) == 4096 and (ntwe.input < 0).any()   # dense, signed embedding input
    assert trace.provenance["pruning"]["weight_density"] == {"Alex-8": 0.25, "NT-We": 0.1}
