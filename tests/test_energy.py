"""Energy: pricing of action counts, table interpolation, tech-node scaling, ``extends:`` and ert_overrides.

Reference numbers are Horowitz ISSCC 2014 at 45 nm (accelsim/energy/tables/horowitz45.yaml):
int_add {8: 0.03, 16: 0.05, 32: 0.1} pJ, int_mult {8: 0.2, 32: 3.1} pJ, fp_add {16: 0.4, 32: 0.9},
fp_mult {16: 1.1, 32: 3.7}; 64-bit SRAM read {8 KB: 10, 32 KB: 20, 1 MB: 100} pJ; LPDDR4 8 pJ/bit.
"""

from __future__ import annotations

import math

import pytest

from accelsim import EnergyError, load_config
from accelsim.energy import apply_overrides, load_table, price
from accelsim.simulate import energy_reference


@pytest.fixture(scope="module")
def h45():
    return load_table("horowitz45")


# -- pricing ----------------------------------------------------------------------------------


def test_price_hand_computed_example(h45):
    # ERT from the table's primitives:
    #   MAC, 16-bit multiply + 32-bit add: int_mult(16) + int_add(32)
    #     int_mult(16): 16 is the geometric midpoint of 8 and 32, so log-log gives 0.2 * sqrt(3.1 / 0.2)
    #                   = 0.2 * sqrt(15.5) = 0.2 * 3.9370039 = 0.78740079 pJ;  int_add(32) = 0.1 pJ
    #     -> 0.88740079 pJ
    #   16 KB SRAM, 64-bit read: between 8 KB (10 pJ) and 32 KB (20 pJ) the slope is log 2 / log 4 = 0.5,
    #     so 10 * 2 ** 0.5 = 14.1421356 pJ
    #   DRAM (LPDDR4): 8 pJ per bit
    ert = {("pe", "mac"): h45.mac_pj(16, 32), ("glb", "read"): h45.sram_pj(16 * 1024, 64),
           ("dram", "read"): h45.dram_pj(1, "LPDDR4"), ("glb", "write"): 99.0}
    assert ert[("pe", "mac")] == pytest.approx(0.88740079, rel=1e-8)
    assert ert[("glb", "read")] == pytest.approx(14.1421356, rel=1e-8)
    assert ert[("dram", "read")] == 8.0
    counts = {("pe", "mac"): 1000, ("glb", "read"): 50, ("dram", "read"): 2 * 64 * 8, ("glb", "write"): 0}
    energy = price(counts, ert)
    # pe:   1000 x 0.88740079 = 887.40079 pJ
    # glb:  50 x 14.1421356   = 707.10678 pJ   (the zero-count write adds nothing)
    # dram: 1024 bits x 8     = 8192 pJ
    assert set(energy) == {"pe", "glb", "dram"}
    assert energy["pe"] == pytest.approx(887.40079, rel=1e-7)
    assert energy["glb"] == pytest.approx(707.10678, rel=1e-7)
    assert energy["dram"] == 8192.0
    assert sum(energy.values()) == pytest.approx(9786.50757, rel=1e-7)


def test_price_sums_actions_of_one_component():
    ert = {("pe", "mac"): 0.5, ("pe", "reg"): 0.1, ("buf", "read"): 2.0}
    energy = price({("pe", "mac"): 10, ("pe", "reg"): 30, ("buf", "read"): 4}, ert)
    assert energy == {"pe": 10 * 0.5 + 30 * 0.1, "buf": 8.0}


def test_missing_price_raises_energy_error():
    ert = {("pe", "mac"): 0.5}
    with pytest.raises(EnergyError, match="no energy price for action glb:write"):
        price({("pe", "mac"): 1, ("glb", "write"): 3}, ert)
    # a zero count needs no price
    assert price({("pe", "mac"): 2, ("glb", "write"): 0}, ert) == {"pe": 1.0}


def test_repricing_needs_no_resimulation(h45):
    counts = {("pe", "mac"): 1000}
    at45 = price(counts, {("pe", "mac"): h45.mac_pj(8, 32)})
    at22 = price(counts, {("pe", "mac"): h45.scaled(22).mac_pj(8, 32)})
    assert at45["pe"] == pytest.approx(1000 * (0.2 + 0.1))
    assert at22["pe"] == pytest.approx(at45["pe"] * (22 / 45) * (0.8 / 0.9) ** 2)


def test_apply_overrides():
    ert = {("pe", "mac"): 0.5, ("glb", "read"): 10.0}
    out = apply_overrides(ert, {"pe:mac": 0.25, "noc:hop": 1})
    assert out == {("pe", "mac"): 0.25, ("glb", "read"): 10.0, ("noc", "hop"): 1.0}
    assert ert[("pe", "mac")] == 0.5                      # the input is not modified
    with pytest.raises(EnergyError, match="expected 'component:action'"):
        apply_overrides(ert, {"pemac": 1.0})


# -- interpolation ----------------------------------------------------------------------------


def test_exact_at_table_points(h45):
    assert h45.arith_pj("int_add", 8) == 0.03
    assert h45.arith_pj("int_add", 16) == 0.05
    assert h45.arith_pj("int_add", 32) == 0.1
    assert h45.arith_pj("int_mult", 8) == 0.2
    assert h45.arith_pj("int_mult", 32) == 3.1
    assert h45.arith_pj("fp_mult", 32) == 3.7
    assert h45.sram_pj(8192, 64) == 10.0
    assert h45.sram_pj(32768, 64) == 20.0
    assert h45.sram_pj(1048576, 64) == 100.0


def test_multiplier_width_is_log_log_between_8_and_32_bits(h45):
    slope = math.log(3.1 / 0.2) / math.log(32 / 8)          # ~1.98: multipliers grow ~ bits^2
    assert h45.arith_pj("int_mult", 16) == pytest.approx(0.2 * math.sqrt(15.5), rel=1e-12)
    assert h45.arith_pj("int_mult", 12) == pytest.approx(0.2 * 1.5 ** slope, rel=1e-12)
    # beyond the ends the end segment's slope extrapolates
    assert h45.arith_pj("int_mult", 64) == pytest.approx(3.1 * math.sqrt(15.5), rel=1e-12)
    assert h45.arith_pj("int_mult", 4) == pytest.approx(0.2 / math.sqrt(15.5), rel=1e-12)
    # adders: between 16 and 32 bits the slope is log(0.1/0.05)/log 2 = 1, i.e. linear in bits
    assert h45.arith_pj("int_add", 24) == pytest.approx(0.075, rel=1e-12)
    assert 0.2 < h45.arith_pj("int_mult", 16) < 3.1


def test_sram_is_sqrt_ish_in_size_and_linear_in_width(h45):
    assert h45.sram_pj(16384, 64) == pytest.approx(10 * math.sqrt(2), rel=1e-12)       # slope exactly 0.5
    # 32 KB -> 1 MB: slope log 5 / log 32 = 0.464; 128 KB is 4x 32 KB: 20 * 5 ** (log 4 / log 32) = 20 * 5 ** 0.4
    assert h45.sram_pj(131072, 64) == pytest.approx(20 * 5 ** 0.4, rel=1e-12)
    assert h45.sram_pj(2048, 64) == pytest.approx(5.0, rel=1e-12)                        # extrapolated, sqrt
    assert h45.sram_pj(16384, 32) == pytest.approx(5 * math.sqrt(2), rel=1e-12)         # half the width
    assert h45.sram_pj(16384, 128, write=True) == pytest.approx(20 * math.sqrt(2), rel=1e-12)
    assert h45.sram_pj(0, 64) == pytest.approx(10 * math.sqrt(1 / 8192), rel=1e-12)      # clamped at 1 byte


def test_unknown_op_and_dram_type(h45):
    with pytest.raises(EnergyError, match="no arithmetic op 'int_div'"):
        h45.arith_pj("int_div", 8)
    with pytest.raises(EnergyError, match="unknown DRAM type 'DDR9'"):
        h45.dram_pj(8, "DDR9")
    assert h45.dram_pj(64, "HBM2") == pytest.approx(64 * 3.9)


# -- tech-node scaling -------------------------------------------------------------------------


def test_scaling_to_22nm(h45):
    t22 = h45.scaled(22)
    f = (22 / 45) * (0.8 / 0.9) ** 2            # E ~ L * Vdd^2, nominal 0.8 V at 22 nm, 0.9 V at 45 nm = 0.386283
    assert (t22.name, t22.node_nm, t22.vdd) == ("horowitz45@22nm", 22, 0.8)
    assert t22.arith_pj("int_mult", 8) == pytest.approx(0.2 * f, rel=1e-12)
    assert t22.arith_pj("int_mult", 16) == pytest.approx(0.2 * math.sqrt(15.5) * f, rel=1e-12)
    assert t22.sram_pj(32768, 64) == pytest.approx(20 * f, rel=1e-12)
    assert t22.dram_pj(1, "LPDDR4") == 8.0      # off-chip: not scaled
    assert h45.arith_pj("int_mult", 8) == 0.2   # the original is untouched


def test_scaling_with_explicit_vdd_and_unknown_node(h45):
    assert h45.scaled(45, vdd=0.45).arith_pj("fp_add", 32) == pytest.approx(0.9 * 0.25, rel=1e-12)
    t12 = h45.scaled(12)                         # not in the nominal-Vdd list: keeps 0.9 V
    assert t12.vdd == 0.9
    assert t12.sram_pj(8192, 64) == pytest.approx(10 * 12 / 45, rel=1e-12)


# -- tables: extends, overrides, errors --------------------------------------------------------


def test_extends_inherits_and_overrides(tmp_path, monkeypatch):
    (tmp_path / "child.yaml").write_text(
        "extends: horowitz45\nname: child45\nsram_write_factor: 1.5\n"
        "dram_pj_per_bit: {HBM2: 3.0}\nert_overrides: {'pe:mac': 0.25}\n")
    (tmp_path / "grand.yaml").write_text(
        "extends: child.yaml\nname: grand\narith: {int_mult: {16: 1.0}}\nert_overrides: {'glb:read': 5}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)                 # `extends: child.yaml` resolves next to grand.yaml, not in cwd
    child = load_table(tmp_path / "child.yaml")
    assert (child.name, child.node_nm, child.vdd) == ("child45", 45.0, 0.9)
    assert child.arith_pj("int_mult", 32) == 3.1
    assert child.dram_pj_per_bit["HBM2"] == 3.0 and child.dram_pj_per_bit["LPDDR4"] == 8.0
    assert child.sram_pj(8192, 64, write=True) == pytest.approx(15.0)
    assert child.sram_pj(8192, 64) == 10.0
    assert child.ert_overrides == {"pe:mac": 0.25}
    grand = load_table(tmp_path / "grand.yaml")
    assert grand.name == "grand"
    assert grand.ert_overrides == {"pe:mac": 0.25, "glb:read": 5.0}
    assert grand.arith_pj("int_mult", 16) == 1.0
    assert grand.arith_pj("int_add", 16) == 0.05          # untouched ops are inherited
    assert grand.sram_write_factor == 1.5


def test_table_ert_overrides_reach_the_chip_ert(tmp_path, h45):
    path = tmp_path / "paper.yaml"
    path.write_text("extends: horowitz45\nname: paper\nert_overrides: {'pe:mac': 0.25, 'dram:read': 1.5}\n")
    cfg = load_config("systolic")
    default = energy_reference(cfg)
    paper = energy_reference(cfg, load_table(path))
    assert default[("pe", "mac")] == pytest.approx(h45.mac_pj(cfg.mult_bits, cfg.acc_bits))
    assert paper[("pe", "mac")] == 0.25 and paper[("dram", "read")] == 1.5
    assert paper[("dram", "write")] == default[("dram", "write")] == 8.0
    # ert_overrides scale with the node like every other on-chip price
    assert load_table(path).scaled(22).ert_overrides["pe:mac"] == pytest.approx(0.25 * (22 / 45) * (0.8 / 0.9) ** 2)


def test_extends_cycle_is_an_energy_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(EnergyError, match="cycle"):
        load_table(tmp_path / "a.yaml")


def test_bad_tables(tmp_path):
    with pytest.raises(EnergyError, match="unknown energy table 'nope' \\(known: .*horowitz45"):
        load_table("nope")
    missing = tmp_path / "partial.yaml"
    missing.write_text("name: partial\nnode_nm: 45\nvdd: 0.9\narith: {int_add: {8: 0.03}}\ndram_pj_per_bit: {}\n")
    with pytest.raises(EnergyError, match="partial.yaml: missing entry 'sram_read_64b'"):
        load_table(missing)
    negative = tmp_path / "neg.yaml"
    negative.write_text("extends: horowitz45\nname: neg\narith: {int_add: {8: -1.0}}\n")
    with pytest.raises(EnergyError, match=r"arith.int_add\[8\]: -1.0 must be positive"):
        load_table(negative)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(EnergyError, match="expected a mapping"):
        load_table(listy)
