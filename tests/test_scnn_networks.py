"""analysis/scnn_networks.py on a reduced layer set (CI-sized), with its bounds.

The full-size validation (all conv layers of AlexNet, GoogLeNet and VGG-16 against the paper's
2.37x / 2.19x / 3.52x and 2.3x energy) is the script itself; here its functions run on the late
layers of each network, where the checks that do not depend on the whole network hold:
functional correctness of every chip, speedups between 1 and the oracle, the ordering of the
variants (SCNN-SparseA and -SparseW slower than SCNN, DCNN-opt as fast as DCNN and cheaper),
SCNN cheaper than both baselines, and the paper's fragmentation observation (§VI): the late
GoogLeNet 1x1 layers keep fewer than 20% of the multipliers busy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

import scnn_networks as sn  # noqa: E402

REDUCED = {
    "alexnet-conv": ["conv4", "conv5"],
    "googlenet-conv": ["inception_5b.1x1", "inception_5b.3x3_reduce", "inception_5b.5x5_reduce",
                       "inception_5b.pool_proj"],
    "vgg16-conv": ["conv5_3"],
}


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return pd.concat([sn.run(net, layers) for net, layers in REDUCED.items()], ignore_index=True)


def test_every_chip_is_functionally_exact(results):
    assert results.functional_ok.all()
    assert set(results.chip) == set(sn.CHIPS)


def test_speedups_and_energy_bounds(results):
    summary = sn.summarize(results)
    assert list(summary.index) == list(REDUCED)
    for net, r in summary.iterrows():
        assert 1.0 < r["speedup.SCNN"] < r["speedup.oracle"], net
        assert r["speedup.SCNN-SparseA"] < r["speedup.SCNN"], net
        assert r["speedup.SCNN-SparseW"] < r["speedup.SCNN"], net
        assert r["speedup.DCNN-opt"] == pytest.approx(1.0, abs=0.02), net
        assert r["energy_ratio.DCNN-opt"] > 1.0, net
        assert r["energy_ratio.SCNN"] > r["energy_ratio.DCNN-opt"], net
        assert 0.0 < r["mult_util.SCNN"] < 1.0
    text = sn.report(summary)
    assert "2.37x" in text and "2.19x" in text and "3.52x" in text


def test_late_googlenet_1x1_fragmentation(results):
    late = sn.late_googlenet_1x1(results)
    assert len(late) == 4
    assert (late.mult_util < 0.20).all()           # SCNN §VI: below 20% utilisation
    assert (late.fragmentation_frac > 0.5).all()   # mostly partly filled vectors (7x7 plane, 1 position per PE)


def test_densities_are_the_cited_ones():
    wd, ad = sn.densities("alexnet-conv")
    assert wd == {"conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37}
    assert ad["conv1"] == 1.0 and ad["conv3"] == 0.40
    wd, ad = sn.densities("googlenet-conv")
    assert wd["conv1.7x7_s2"] == 0.84 and wd["inception_5b.1x1"] == 0.37
    assert sn.densities("vgg16-conv") == (None, None)
    trace = sn.build_trace("vgg16-conv", ["conv5_3"])
    assert trace[0].weight_density == pytest.approx(0.36, abs=1e-3)
    assert trace[0].act_density == pytest.approx(0.32, abs=1e-3)
