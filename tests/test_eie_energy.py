"""EIE energy: the eie45 table's per-action prices recomputed from the paper's Table II (power per
module) and Tables III/IV (activity), and pricing with the default Horowitz table."""

from __future__ import annotations

import numpy as np
import pytest

import accelsim
from accelsim.accelerators.eie import simulate_layer
from accelsim.accelerators.eie.model import energy_reference, lnzd_nodes
from accelsim.energy import apply_overrides, load_table, price
from accelsim.trace import Layer

TABLE2_MW = {"SpmatRead": 4.955, "PtrRead": 1.807, "ArithmUnit": 1.162, "ActRW": 1.122, "Act_queue": 0.112}
PE_MW, CLOCK_MW, GHZ = 9.157, 1.874, 0.8
THEORY_US = {"Alex-6": 28.1, "Alex-7": 11.7, "Alex-8": 8.9, "VGG-6": 28.1, "VGG-7": 7.9, "VGG-8": 7.3}
ACTUAL_US = {"Alex-6": 30.3, "Alex-7": 12.2, "Alex-8": 9.9, "VGG-6": 34.4, "VGG-7": 8.7, "VGG-8": 8.4}
INPUTS = {"Alex-6": 9216, "Alex-7": 4096, "Alex-8": 4096, "VGG-6": 25088, "VGG-7": 4096, "VGG-8": 4096}
ACT_DENSITY = {"Alex-6": 0.351, "Alex-7": 0.353, "Alex-8": 0.375, "VGG-6": 0.183, "VGG-7": 0.375, "VGG-8": 0.411}


def derived_prices() -> dict[str, float]:
    """The derivation written in eie45.yaml, step by step."""
    u = {k: THEORY_US[k] / ACTUAL_US[k] for k in THEORY_US}                       # entries per PE-cycle
    rp = {k: INPUTS[k] * ACT_DENSITY[k] / (ACTUAL_US[k] * 800) for k in THEORY_US}  # pointer reads per PE-cycle
    words = {k: 1 + (u[k] / rp[k] - 1) / 8 - 7 * ACT_DENSITY[k] / 8 for k in THEORY_US}
    u_m, rp_m = np.mean(list(u.values())), np.mean(list(rp.values()))
    rw_m = np.mean([rp[k] * words[k] for k in THEORY_US])
    dyn = (1 - CLOCK_MW / PE_MW) / GHZ
    return {"pe:clock": CLOCK_MW / GHZ, "arith:mac": TABLE2_MW["ArithmUnit"] * dyn / u_m,
            "arith:mac_padding": TABLE2_MW["ArithmUnit"] * dyn / u_m, "codebook:read": 0.0,
            "act_rf:read": TABLE2_MW["ActRW"] * dyn / u_m / 2, "act_rf:write": TABLE2_MW["ActRW"] * dyn / u_m / 2,
            "spmat_sram:read": TABLE2_MW["SpmatRead"] * dyn / rw_m, "ptr_sram:read": TABLE2_MW["PtrRead"] * dyn / rp_m,
            "act_queue:push": TABLE2_MW["Act_queue"] * dyn / rp_m / 2,
            "act_queue:pop": TABLE2_MW["Act_queue"] * dyn / rp_m / 2}


def test_eie45_matches_its_written_derivation():
    table = load_table("eie45")
    assert table.name == "eie45" and table.node_nm == 45
    expected = derived_prices()
    assert set(table.ert_overrides) == set(expected)
    for key, pj in expected.items():
        assert table.ert_overrides[key] == pytest.approx(pj, rel=5e-4, abs=1e-9), key
    # the per-module activity figures add back up to Table II's 9.157 mW per PE
    assert sum(TABLE2_MW.values()) == pytest.approx(PE_MW, abs=2e-3)


def _layer() -> Layer:
    rng = np.random.default_rng(2)
    w = np.where(rng.random((256, 300)) < 0.1, rng.standard_normal((256, 300)), 0.0).astype(np.float32)
    x = np.where(rng.random((1, 300)) < 0.35, rng.random((1, 300)), 0.0).astype(np.float32)
    return Layer("fc", "linear", {"N": 1, "C": 300, "K": 256}, w, x)


@pytest.mark.parametrize("table_name", ["horowitz45", "eie45"])
def test_every_counted_action_is_priced(table_name):
    cfg = accelsim.load_config("eie", pe_count=16, energy_table=table_name)
    r = simulate_layer(_layer(), cfg)
    table = load_table(table_name)
    ert = apply_overrides(energy_reference(cfg, table), table.ert_overrides)
    energy = price(r.action_counts, ert)
    assert sum(energy.values()) > 0
    assert energy["spmat_sram"] > 0 and energy["arith"] > 0
    if table_name == "horowitz45":
        assert energy.get("pe", 0.0) == 0.0  # Horowitz has no clock-tree figure
        # a 128 KB 64-bit read interpolated between Horowitz's 32 KB (20 pJ) and 1 MB (100 pJ)
        assert 20 < ert[("spmat_sram", "read")] < 100
    else:
        assert energy["pe"] == pytest.approx(2.3425 * r.cycles * cfg.pe_count)


def test_lnzd_quadtree_size():
    assert lnzd_nodes(64) == 21  # EIE §IV: 16 + 4 + 1
    assert lnzd_nodes(4) == 1 and lnzd_nodes(256) == 85
