"""SIGMA validation scripts in CI: the paper's GEMMs (TPU column exact, SIGMA within ±10%) and STONNE (±15%).

sigma_gemms runs its --check subset (the five GEMMs without the 500,000-deep one; the full run is
``python analysis/sigma_gemms.py``). The STONNE case at 90% MK sparsity misses: STONNE takes 236 cycles per
fold where our STONNE-matched mode takes 139 (same folds, same 128 streamed columns each); the multiplication
counts agree, so the gap is in how STONNE drains ~10 VNs per fold (see the note in analysis/sigma_stonne.py).
It is a strict xfail so it fails loudly if it starts passing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from accelsim.accelerators.sigma import compress_stationary, simulate_gemm

_ANALYSIS = Path(__file__).resolve().parents[1] / "analysis"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, _ANALYSIS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sigma_gemms = _load("sigma_gemms")
sigma_stonne = _load("sigma_stonne")


@pytest.fixture(scope="module")
def gemms():
    return sigma_gemms.table(sigma_gemms.CHECK_GEMMS, sigma_gemms.SPARSE, seed=0)


def test_tpu_column_exact(gemms):
    assert (gemms.tpu_cycles == gemms.paper_tpu).all()


def test_sigma_within_10_percent(gemms):
    bad = gemms[gemms.sigma_error.abs() > sigma_gemms.SIGMA_TOLERANCE]
    assert bad.empty, bad[["sigma_cycles", "paper_sigma", "sigma_error"]].to_string()


def test_sigma_beats_tpu_where_the_paper_says(gemms):
    # the paper's speedups on these rows range 1.03x .. 16.2x; ours must order the GEMMs the same way
    assert list(gemms.speedup.rank()) == list(gemms.paper_speedup.rank())


@pytest.fixture(scope="module")
def stonne():
    return sigma_stonne.table()


def test_stonne_multiplications_and_function(stonne):
    # STONNE skips only stationary zeros: mults = nnz(MK) x N. The 90% case is one stationary non-zero short
    # of STONNE's count (192,128 vs 192,256 = 1,501 vs 1,502 x 128): our glibc draw has 1,501 non-zeros.
    exact = stonne.iloc[:3]
    assert (exact.mults == exact.stonne_mults).all()
    assert stonne.functional_ok.all()


@pytest.mark.parametrize("case", [
    pytest.param(i, marks=pytest.mark.xfail(strict=True, reason="STONNE drains ~10 VNs/fold 97 cycles slower"))
    if i == 3 else i for i in range(4)])
def test_stonne_within_15_percent(stonne, case):
    row = stonne.iloc[case]
    assert abs(row.error) <= sigma_stonne.TOLERANCE, f"{row.name}: {row.cycles} vs STONNE {row.stonne_cycles}"


def test_chunked_timing_equals_one_chunk(monkeypatch):
    # the folds carried across operand chunks must give the same result as one chunk (same random draws:
    # the mask is generated k by k in the same order whatever the chunk size)
    cfg = sigma_gemms.accelsim.load_config("sigma", flex_dpes=4, dpe_size=32, input_words_per_cycle=16)
    whole = sigma_gemms.timed_orientation(40, 12, 900, 0.3, 0.8, cfg, np.random.default_rng(4))
    monkeypatch.setattr(sigma_gemms, "CHUNK_ELEMENTS", 50)
    chunked = sigma_gemms.timed_orientation(40, 12, 900, 0.3, 0.8, cfg, np.random.default_rng(4))
    assert chunked == whole and whole["folds"] > 5


def test_script_timing_equals_the_model():
    # the script's operand-free path against simulate_gemm on matrices with the same stationary mask and the
    # same streamed per-k counts
    cfg = sigma_gemms.accelsim.load_config("sigma", flex_dpes=4, dpe_size=32, input_words_per_cycle=16)
    r, c, k = 40, 12, 900
    got = sigma_gemms.timed_orientation(r, c, k, 0.3, 0.8, cfg, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    counts = rng.binomial(c, 0.8, size=k)
    s = (rng.random((k, r)) < 0.3).T.astype(np.float32)
    t_t = np.zeros((c, k), dtype=np.float32)
    for kk, n in enumerate(counts):
        t_t[:n, kk] = 1.0
    stationary = compress_stationary(s, (t_t != 0).any(axis=0), kmajor=True)
    run = simulate_gemm(stationary, None, c, int(counts.sum()), cfg)
    assert (run.loading, run.streaming, run.add, run.folds) == (got["loading"], got["streaming"], got["add"],
                                                                got["folds"])
