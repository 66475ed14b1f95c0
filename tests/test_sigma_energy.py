"""sigma28: the per-action prices recomputed from the paper's power and area split (derivation in the YAML)."""

import pytest

import accelsim
from accelsim.accelerators.sigma.model import energy_reference, simulate_layer
from accelsim.energy import load_table
from accelsim.energy.pricing import apply_overrides, price

# Qin et al., HPCA 2020, Fig. 8 table: 22.33 W at 500 MHz; area split of the compute array.
POWER_W, CLOCK_HZ = 22.33, 500e6
SHARE = {"mult": 0.425, "adders": 0.105, "dist": 0.145, "red": 0.030, "ctrl": 0.015 + 0.010}
LOGIC = 1 - 0.27  # layout spread pro rata
MULTS, ADDERS, LEVELS = 128 * 128, 128 * 127, 2 * 7 + 1


def test_overrides_recomputed():
    per_cycle = POWER_W / CLOCK_HZ * 1e12  # pJ per cycle
    expected = {
        "multiplier:mult": per_cycle * SHARE["mult"] / LOGIC / MULTS,
        "fan:add": per_cycle * SHARE["adders"] / LOGIC / ADDERS,
        "benes:switch": per_cycle * SHARE["dist"] / LOGIC / (MULTS * LEVELS),
        "fan:link": per_cycle * SHARE["red"] / LOGIC / (2 * ADDERS),
        "controller:cycle": per_cycle * SHARE["ctrl"] / LOGIC,
    }
    got = load_table("sigma28").ert_overrides
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=2e-3), key


def test_full_activity_gives_the_paper_power():
    # one cycle with every multiplier busy on a unicast path and every FAN adder firing = 22.33 W
    ert = apply_overrides({}, load_table("sigma28").ert_overrides)
    pj = (MULTS * ert[("multiplier", "mult")] + ADDERS * ert[("fan", "add")] + MULTS * LEVELS * ert[("benes", "switch")]
          + 2 * ADDERS * ert[("fan", "link")] + ert[("controller", "cycle")])
    assert pj * 1e-12 * CLOCK_HZ == pytest.approx(POWER_W, rel=1e-3)


def test_every_counted_action_is_priced():
    # a run's actions all have a price (price() raises otherwise), and the logic dominates nothing by accident
    trace = accelsim.synth(gemm=(20, 30, 100), weight_density=0.3, act_density=0.5, seed=1)
    cfg = accelsim.load_config("sigma", flex_dpes=2, dpe_size=16, input_words_per_cycle=16)
    res = simulate_layer(trace[0], cfg)
    energy = price(res.action_counts, energy_reference(cfg, load_table(cfg.energy_table)) | apply_overrides(
        {}, load_table(cfg.energy_table).ert_overrides))
    assert set(energy) >= {"multiplier", "benes", "fan", "acc_sram", "data_sram", "bitmap_sram", "dram", "controller"}
    assert all(v > 0 for v in energy.values())
