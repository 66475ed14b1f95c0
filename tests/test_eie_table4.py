"""EIE Table IV in CI: the analysis script's table, its ±15% bound per layer, and the AlexNet FC
energy against the paper's power x time.

Alex-8 and VGG-6 miss the bound with the synthetic (uniform-random) pruning; they are strict
xfails, so the test fails loudly if they start passing or if any other layer drifts out. Why they
miss: the paper's own "theoretical" row (workload / peak) is 1.19x (Alex-8) and 1.23x (VGG-6) the
workload of our encoding of uniform-random matrices at Table III's densities; for Alex-8 no padding
is possible (1000 outputs over 64 PEs: at most 16 rows per slice), so the real FC8 has more
effectual MACs per non-zero activation than independent random sparsity gives (see the note in
analysis/eie_table4.py's output: the workload and imbalance decomposition).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[1] / "analysis" / "eie_table4.py"
_spec = importlib.util.spec_from_file_location("eie_table4", _SCRIPT)
eie_table4 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eie_table4)

KNOWN_MISSES = {"Alex-8": "synthetic workload is 0.84x the paper's theoretical (no padding possible at K=1000)",
                "VGG-6": "synthetic workload is 0.82x the paper's theoretical, paper imbalance 1.22x vs 1.08x"}


@pytest.fixture(scope="module")
def table():
    return eie_table4.table4(seed=0)


@pytest.mark.parametrize("layer", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n]))
                                   if n in KNOWN_MISSES else n for n in eie_table4.LAYERS])
def test_table4_within_15_percent(table, layer):
    row = table.loc[layer]
    assert abs(row.error) <= eie_table4.TOLERANCE, f"{layer}: {row.sim_us:.2f} us vs paper {row.paper_us} us"


def test_table4_is_functional_and_sane(table):
    assert table.functional_ok.all()
    # padding appears only where a PE's slice has more than 16 rows (K=4096: 64 rows per PE)
    assert (table.loc[["Alex-8", "VGG-8"], "padding_share"] == 0).all()
    # 4% density leaves longer gaps than 9%: more padding in VGG-6/7 than in Alex-6/7
    assert table.loc[["VGG-6", "VGG-7"], "padding_share"].min() > table.loc[["Alex-6", "Alex-7"], "padding_share"].max()
    # queueing costs something, but at depth 8 the PEs are busy most of the time
    assert ((table.sim_imbalance > 1.0) & (table.sim_imbalance < 1.2)).all()


def test_alexnet_energy_vs_paper_power_times_time(table):
    en = eie_table4.energy_check(table)
    # eie45 is derived from Table II at the paper's average activity; AlexNet's differs somewhat
    assert 0.7 < en.loc["eie45", "ratio_to_sim_time"] < 1.3
    assert 0.5 < en.loc["horowitz45", "ratio_to_sim_time"] < 2.0
