"""Model-level parity of the systolic chip with SCALE-Sim v3 (``scalesim`` 3.0.0), run live.

``tests/test_systolic_timing.py`` checks the closed-form timing functions; this file checks the
chip itself: real :class:`accelsim.trace.layer.Layer` objects (conv2d with padding and stride,
linear, matmul, shapes that are not multiples of the array) go through
``accelsim.accelerators.systolic.model.simulate_layer`` and its ``compute_cycles`` must equal
SCALE-Sim's COMPUTE_REPORT "Total Cycles" for the same array and dataflow. ``compute_cycles`` is
the stall-free count, independent of SRAM sizes and DRAM bandwidth (``cycles`` adds our own
memory model, which SCALE-Sim does differently, so it is not compared). The functional output of
every layer must also equal numpy's.

How each layer is given to SCALE-Sim (``tools/scalesim_runner.py`` cases):

- conv2d: SCALE-Sim has no padding, so it gets the padded ifmap ``(H + 2p) x (W + 2p)``. It also
  rounds the output size *up*, ``P = ceil((H + 2p - R) / stride) + 1``, where a real convolution
  (and accelsim) rounds down, so the conv shapes here are chosen with ``stride`` dividing
  ``H + 2p - R`` and ``W + 2p - S``, where both agree (checked by
  :func:`test_conv_cases_have_exact_output_size`). :func:`test_scalesim_rounds_conv_output_up`
  shows the disagreement live on one shape where the stride does not divide.
  A batch N > 1 (SCALE-Sim fixes N = 1) is given as the GEMM it lowers to,
  ``M = N*P*Q, N = K, K = R*S*C``; SCALE-Sim's cycles depend only on those three sizes.
- linear ``(N, C) -> K``: the GEMM ``M = N, N = K, K = C``. matmul: ``M, N, K`` as is.

N:M weight sparsity (WS): the layer is ``accelsim.synth(gemm=..., structure="nm:N:M")``, whose mask
keeps the N largest of every M weights along the reduction, different per filter. SCALE-Sim does
not read our weights: it builds its own fixed mask (the first N of every M weights, the same in
every filter column) and compacts it. accelsim compacts the layer's real mask. Both compact a
reduction of T to ``(T // M) * N + min(T % M, N)``, and the cycles depend only on that, so they
must agree; the functional output, formed from the compacted weights, must equal numpy's.

The numba datapath ``folded_gemm`` is also checked bit for bit against a plain-numpy reference
with the same summation order (per k-block float32 partial sums, then blocks added in order).

All SCALE-Sim cases run in one subprocess (``run_scalesim``, SCALE-Sim's own venv). Tests that
need it are marked ``scalesim``; deselect them with ``-m "not scalesim"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import accelsim
from accelsim.accelerators.systolic import timing
from accelsim.accelerators.systolic.kernels import folded_gemm
from accelsim.accelerators.systolic.model import simulate_layer
from accelsim.trace.layer import Layer, conv_output_hw
from accelsim.trace.lowering import reference_output

try:
    from scalesim_parity import run_scalesim
except ModuleNotFoundError:  # tests/ imported as a package
    from tests.scalesim_parity import run_scalesim

DATAFLOWS = ("os", "ws", "is")


def conv(n: int, c: int, h: int, w: int, k: int, r: int, s: int, stride: int = 1, padding: int = 0) -> dict[str, int]:
    return {"N": n, "C": c, "H": h, "W": w, "K": k, "R": r, "S": s, "stride": stride, "padding": padding, "groups": 1}


# (name, rows, cols, kind, shape): every one runs in OS, WS and IS.
SHAPES: list[tuple[str, int, int, str, dict[str, int]]] = [
    ("conv3x3_p1", 8, 8, "conv2d", conv(1, 3, 8, 8, 10, 3, 3, padding=1)),
    ("conv3x3_p1_s2", 8, 8, "conv2d", conv(1, 4, 9, 9, 12, 3, 3, stride=2, padding=1)),
    ("conv2x2_s2_rect", 8, 8, "conv2d", conv(1, 6, 8, 6, 7, 2, 2, stride=2)),
    ("conv5x5_p2_rect", 16, 16, "conv2d", conv(1, 2, 7, 9, 6, 5, 5, padding=2)),
    ("conv1x1", 16, 16, "conv2d", conv(1, 24, 7, 7, 17, 1, 1)),
    ("conv7x7_p3_s2", 16, 16, "conv2d", conv(1, 3, 11, 11, 16, 7, 7, stride=2, padding=3)),
    ("conv3x3_p1_batch2", 16, 16, "conv2d", conv(2, 4, 5, 5, 8, 3, 3, padding=1)),
    ("conv1x1_s2", 12, 20, "conv2d", conv(1, 8, 9, 9, 20, 1, 1, stride=2)),
    ("conv3x3_p1_s3", 12, 20, "conv2d", conv(1, 5, 10, 10, 9, 3, 3, stride=3, padding=1)),
    ("conv3x3_c1k1", 12, 20, "conv2d", conv(1, 1, 12, 12, 1, 3, 3, padding=1)),
    ("conv3x3_rect", 32, 32, "conv2d", conv(1, 3, 6, 11, 33, 3, 3)),
    ("conv3x3_p1_deep", 32, 32, "conv2d", conv(1, 16, 6, 6, 40, 3, 3, padding=1)),
    ("linear_gemv", 8, 8, "linear", {"N": 1, "C": 50, "K": 20}),
    ("linear_n3", 16, 16, "linear", {"N": 3, "C": 70, "K": 45}),
    ("linear_n5", 12, 20, "linear", {"N": 5, "C": 33, "K": 100}),
    ("linear_gemv_wide", 32, 32, "linear", {"N": 1, "C": 200, "K": 64}),
    ("matmul_1x1x1", 8, 8, "matmul", {"M": 1, "N": 1, "K": 1}),
    ("matmul_odd", 8, 8, "matmul", {"M": 10, "N": 7, "K": 13}),
    ("matmul_37x19x45", 16, 16, "matmul", {"M": 37, "N": 19, "K": 45}),
    ("matmul_24x40x12", 12, 20, "matmul", {"M": 24, "N": 40, "K": 12}),
    ("matmul_70x33x20", 32, 32, "matmul", {"M": 70, "N": 33, "K": 20}),
    ("matmul_64_exact", 32, 32, "matmul", {"M": 64, "N": 64, "K": 64}),
]

# (name, rows, cols, gemm (M, N, K), N, M): synth(gemm=..., structure=f"nm:{N}:{M}") on WS.
NM_SHAPES: list[tuple[str, int, int, tuple[int, int, int], int, int]] = [
    ("nm24_8x8", 8, 8, (12, 10, 37), 2, 4),
    ("nm24_16x16", 16, 16, (20, 24, 64), 2, 4),
    ("nm24_12x20", 12, 20, (9, 30, 50), 2, 4),
    ("nm24_32x32", 32, 32, (40, 36, 90), 2, 4),
    ("nm14_8x8", 8, 8, (7, 12, 45), 1, 4),
]

# A conv whose stride does not divide H + 2p - R: SCALE-Sim computes one more output row/column.
CEIL_SHAPE = ("conv3x3_p1_s2_ceil", 8, 8, "conv2d", conv(1, 4, 10, 10, 12, 3, 3, stride=2, padding=1))


def make_layer(name: str, kind: str, shape: dict[str, int], seed: int = 0) -> Layer:
    """A layer with random float32 tensors (ReLU-like input with zeros, signed weights with zeros)."""
    rng = np.random.default_rng(seed)
    if kind == "conv2d":
        wshape = (shape["K"], shape["C"], shape["R"], shape["S"])
        xshape = (shape["N"], shape["C"], shape["H"], shape["W"])
    elif kind == "linear":
        wshape, xshape = (shape["K"], shape["C"]), (shape["N"], shape["C"])
    else:
        wshape, xshape = (shape["K"], shape["N"]), (shape["M"], shape["K"])
    w = rng.standard_normal(wshape).astype(np.float32)
    w[rng.random(wshape) < 0.3] = 0
    x = np.maximum(rng.standard_normal(xshape), 0).astype(np.float32)
    return Layer(name, kind, dict(shape), w, x)


def scalesim_case(kind: str, shape: dict[str, int]) -> dict[str, Any]:
    """The SCALE-Sim case (without array/dataflow) of a layer; see the module docstring."""
    if kind == "conv2d" and shape["N"] == 1:
        p = shape["padding"]
        return {"kind": "conv", "H": shape["H"] + 2 * p, "W": shape["W"] + 2 * p, "R": shape["R"],
                "S": shape["S"], "C": shape["C"], "K": shape["K"], "stride": shape["stride"]}
    if kind == "conv2d":  # batched: the GEMM it lowers to
        pq = conv_output_hw(shape)
        return {"kind": "gemm", "M": shape["N"] * pq[0] * pq[1], "N": shape["K"],
                "K": shape["R"] * shape["S"] * shape["C"]}
    if kind == "linear":
        return {"kind": "gemm", "M": shape["N"], "N": shape["K"], "K": shape["C"]}
    return {"kind": "gemm", "M": shape["M"], "N": shape["N"], "K": shape["K"]}


#: SRAM per buffer given to SCALE-Sim, kB. Its default of 64 MB costs about 0.5 s of set-up per
#: case; these layers are tiny, and every test asserts the run was stall-free anyway.
SRAM_KB = 512


def _build_cases() -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for name, rows, cols, kind, shape in [*SHAPES, CEIL_SHAPE]:
        for df in DATAFLOWS:
            cases[f"{name}-{df}"] = {**scalesim_case(kind, shape), "rows": rows, "cols": cols, "dataflow": df,
                                  "sram_kb": SRAM_KB}
    for name, rows, cols, (m, n, k), sn, sm in NM_SHAPES:
        cases[f"{name}-ws"] = {"kind": "gemm", "M": m, "N": n, "K": k, "rows": rows, "cols": cols,
                               "dataflow": "ws", "sparsity": {"N": sn, "M": sm}, "sram_kb": SRAM_KB}
    return cases


CASES = _build_cases()
DENSE_PARAMS = [pytest.param(name, rows, cols, kind, shape, df, id=f"{name}-{df}")
                for name, rows, cols, kind, shape in SHAPES for df in DATAFLOWS]


@pytest.fixture(scope="module")
def scalesim_results() -> dict[str, dict[str, Any]]:
    """Every case through SCALE-Sim once, in one subprocess, indexed by case id."""
    results = run_scalesim(list(CASES.values()))
    return dict(zip(CASES, results, strict=True))


def test_enough_shapes() -> None:
    assert len(SHAPES) >= 20
    assert {(rows, cols) for _, rows, cols, _, _ in SHAPES} >= {(8, 8), (16, 16), (32, 32), (12, 20)}
    assert {kind for *_, kind, _ in SHAPES} == {"conv2d", "linear", "matmul"}


def test_conv_cases_have_exact_output_size() -> None:
    """Every conv case has stride | H+2p-R (and W+2p-S), so SCALE-Sim's rounded-up P, Q are exact."""
    for _, _, _, kind, s in SHAPES:
        if kind == "conv2d":
            assert (s["H"] + 2 * s["padding"] - s["R"]) % s["stride"] == 0
            assert (s["W"] + 2 * s["padding"] - s["S"]) % s["stride"] == 0


@pytest.mark.scalesim
@pytest.mark.parametrize("name, rows, cols, kind, shape, dataflow", DENSE_PARAMS)
def test_layer_compute_cycles_match_scalesim(name: str, rows: int, cols: int, kind: str, shape: dict[str, int],
                                             dataflow: str, scalesim_results: dict[str, dict[str, Any]]) -> None:
    got = scalesim_results[f"{name}-{dataflow}"]
    assert got["stall_cycles"] == 0, "SCALE-Sim run was not stall-free; raise sram_kb"
    layer = make_layer(name, kind, shape)
    res = simulate_layer(layer, accelsim.load_config("systolic", rows=rows, cols=cols, dataflow=dataflow))
    assert res.compute_cycles == got["total_cycles"]
    np.testing.assert_allclose(res.output, reference_output(layer), rtol=1e-5, atol=1e-5)


@pytest.mark.scalesim
@pytest.mark.parametrize("name, rows, cols, gemm, n, m", [pytest.param(*s, id=s[0]) for s in NM_SHAPES])
def test_nm_sparse_ws_matches_scalesim(name: str, rows: int, cols: int, gemm: tuple[int, int, int], n: int, m: int,
                                       scalesim_results: dict[str, dict[str, Any]]) -> None:
    got = scalesim_results[f"{name}-ws"]
    assert got["stall_cycles"] == 0
    layer = accelsim.synth(gemm=gemm, structure=f"nm:{n}:{m}", weight_density=n / m, seed=3)[0]
    nz = layer.weight != 0  # K x N: the reduction runs along rows
    per_group = np.add.reduceat(nz.astype(np.int64), np.arange(0, gemm[2], m), axis=0)
    assert per_group.max() == n  # the synthetic mask is N:M, but not SCALE-Sim's first N of every M:
    scalesim_mask = np.broadcast_to((np.arange(gemm[2]) % m < n)[:, None], nz.shape)
    assert not np.array_equal(nz, scalesim_mask)
    cfg = accelsim.load_config("systolic", rows=rows, cols=cols, dataflow="ws", sparsity_n=n, sparsity_m=m)
    res = simulate_layer(layer, cfg)
    assert res.compute_cycles == got["total_cycles"]
    dense = timing.compute_cycles(gemm[0], gemm[1], gemm[2], rows, cols, "ws")
    assert res.compute_cycles < dense
    np.testing.assert_allclose(res.output, layer.input.astype(np.float64) @ layer.weight.astype(np.float64),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.scalesim
def test_scalesim_rounds_conv_output_up(scalesim_results: dict[str, dict[str, Any]]) -> None:
    """stride 2 does not divide 10 + 2 - 3 = 9: a real conv has P = 5, SCALE-Sim computes P = 6."""
    name, rows, cols, kind, shape = CEIL_SHAPE
    layer = make_layer(name, kind, shape)
    assert conv_output_hw(shape) == (5, 5)
    ceil_dims = timing.conv_operand_dims(12, 12, 3, 3, 4, 12, 2, ceil_mode=True)
    assert ceil_dims == (36, 12, 36)
    for df in DATAFLOWS:
        got = scalesim_results[f"{name}-{df}"]["total_cycles"]
        assert got == timing.compute_cycles(*ceil_dims, rows, cols, df)
        ours = simulate_layer(layer, accelsim.load_config("systolic", rows=rows, cols=cols, dataflow=df))
        assert ours.compute_cycles == timing.compute_cycles(25, 12, 36, rows, cols, df)
        assert ours.compute_cycles < got


def folded_gemm_reference(a: np.ndarray, b_t: np.ndarray, index_t: np.ndarray, k_block: int) -> np.ndarray:
    """Plain numpy: per k_block, float32 products added one k at a time; blocks added in order."""
    sr, (sc, t) = a.shape[0], b_t.shape
    out = np.zeros((sr, sc), dtype=np.float32)
    for k0 in range(0, t, k_block):
        acc = np.zeros((sr, sc), dtype=np.float32)
        for k in range(k0, min(k0 + k_block, t)):
            acc += a[:, index_t[:, k]] * b_t[:, k][None, :]
        out += acc
    return out


@pytest.mark.parametrize("sr, sc, t, k_block, sparse", [
    (1, 5, 9, 9, False), (15, 3, 7, 4, False), (16, 1, 33, 8, False), (37, 19, 45, 45, False),
    (50, 20, 70, 16, False), (33, 9, 20, 6, True), (64, 4, 31, 31, True),
])
def test_folded_gemm_bit_identical_to_reference(sr: int, sc: int, t: int, k_block: int, sparse: bool) -> None:
    """The numba datapath forms each sum in the same order as the reference, so the bits agree."""
    rng = np.random.default_rng(sr * 1000 + t)
    width = 2 * t if sparse else t
    a = rng.standard_normal((sr, width)).astype(np.float32)
    b_t = rng.standard_normal((sc, t)).astype(np.float32)
    if sparse:
        index_t = np.sort(rng.choice(width, size=(sc, t)), axis=1).astype(np.int64)
    else:
        index_t = np.ascontiguousarray(np.broadcast_to(np.arange(t), (sc, t)))
    got = folded_gemm(a, b_t, index_t, k_block)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, folded_gemm_reference(a, b_t, index_t, k_block))
