"""Configs: typed, frozen, validated at load; ConfigError names the key and the reason; overrides and labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from accelsim import ConfigError, load_config
from accelsim.accelerators.registry import CONFIG_CLASSES
from accelsim.config import load, parse_overrides


def write_yaml(tmp_path: Path, text: str, name: str = "chip.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def config_error(source, **overrides) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(source, **overrides)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# -- good configs ---------------------------------------------------------------------------


def test_preset_loads_typed_values():
    cfg = load_config("systolic")
    assert cfg.accelerator == "systolic"
    assert cfg.label == "systolic"
    assert (cfg.rows, cfg.cols, cfg.dataflow) == (32, 32, "os")
    # `clock_hz: 1.0e9` is a *string* to PyYAML (YAML 1.1 wants a signed exponent); the loader reads it as a float
    assert cfg.clock_hz == 1e9 and isinstance(cfg.clock_hz, float)
    assert cfg.dram_bytes_per_cycle == 32.0 and cfg.dram_type == "LPDDR4"


def test_yaml_path_label_is_the_file_stem_and_ints_widen_to_float(tmp_path):
    path = write_yaml(tmp_path, "accelerator: systolic\nrows: 8\ncols: 4\nclock_hz: 500000000\n"
                                "description: free text\nsources: {rows: me}\n", "small_array.yaml")
    cfg = load_config(path)
    assert cfg.label == "small_array"
    assert (cfg.rows, cfg.cols) == (8, 4)
    assert cfg.clock_hz == 5e8 and isinstance(cfg.clock_hz, float)
    assert cfg.dataflow == "os"            # class default where the file is silent


def test_mapping_source():
    cfg = load({"accelerator": "systolic", "rows": 16, "dataflow": "ws"}, CONFIG_CLASSES)
    assert (cfg.rows, cfg.dataflow, cfg.label) == (16, "ws", "custom")


def test_configs_are_frozen():
    cfg = load_config("systolic")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rows = 64  # type: ignore[misc]
    assert cfg.rows == 32


def test_presets_come_from_accelsim_configs_env(tmp_path, monkeypatch):
    write_yaml(tmp_path, "accelerator: systolic\nrows: 2\ncols: 2\n", "tiny2x2.yaml")
    monkeypatch.setenv("ACCELSIM_CONFIGS", str(tmp_path))
    cfg = load_config("tiny2x2")
    assert (cfg.label, cfg.rows, cfg.cols) == ("tiny2x2", 2, 2)
    assert "presets: tiny2x2" in config_error("systolic")


# -- overrides -------------------------------------------------------------------------------


def test_overrides_apply_and_tag_the_label():
    cfg = load_config("systolic", rows=64, dataflow="ws")
    assert (cfg.rows, cfg.cols, cfg.dataflow) == (64, 32, "ws")
    assert cfg.label == "systolic[rows=64,dataflow=ws]"
    named = load_config("systolic", rows=64, label="big")
    assert named.label == "big" and named.rows == 64


def test_parse_overrides_reads_yaml_scalars():
    parsed = parse_overrides(["rows=64", "dataflow=ws", "clock_hz=5.0e+8", "double_buffered=false", " cols = 8"])
    assert parsed == {"rows": 64, "dataflow": "ws", "clock_hz": 5e8, "double_buffered": False, "cols": 8}
    assert type(parsed["rows"]) is int
    cfg = load_config("systolic", **parse_overrides(["rows=64"]))
    assert cfg.rows == 64 and cfg.label == "systolic[rows=64]"
    assert parse_overrides(None) == {} and parse_overrides([]) == {}


@pytest.mark.parametrize(("item", "reason"), [
    ("rows", "expected key=value"), ("=64", "expected key=value"), ("rows=[1", "rows=\\[1.*: not valid YAML"),
])
def test_parse_overrides_errors(item, reason):
    with pytest.raises(ConfigError, match=reason):
        parse_overrides([item])


def test_bad_override_names_the_key():
    assert "unknown key 'pe_rows'" in config_error("systolic", pe_rows=64)
    assert "rows: expected int, got str 'many'" in config_error("systolic", **parse_overrides(["rows=many"]))


# -- bad configs: each names the key and the reason --------------------------------------------


@pytest.mark.parametrize(("body", "key", "reason"), [
    ("rows: 8\nbogus_key: 3\n", "'bogus_key'", "unknown key"),
    ("rows: '64'\n", "rows", "expected int, got str '64'"),
    ("rows: true\n", "rows", "expected int, got bool True"),
    ("rows: 8.0\n", "rows", "expected int, got float 8.0"),
    ("double_buffered: 1\n", "double_buffered", "expected bool, got int 1"),
    ("dram_type: 5\n", "dram_type", "expected str, got int 5"),
    ("clock_hz: fast\n", "clock_hz", "expected float, got str 'fast'"),
    ("rows: 0\n", "rows", "below the minimum 1"),
    ("cols: -4\n", "cols", "below the minimum 1"),
    ("rows: 5000\n", "rows", "above the maximum 4096"),
    ("clock_hz: 0\n", "clock_hz", "below the minimum 1.0"),
    ("dram_bytes_per_cycle: -1.0\n", "dram_bytes_per_cycle", "below the minimum"),
    ("clock_hz: .nan\n", "clock_hz", "not a finite number"),
    ("dram_bytes_per_cycle: .inf\n", "dram_bytes_per_cycle", "not a finite number"),
    ("dram_burst_bytes: 48\n", "dram_burst_bytes", "must be a power of two"),
    ("dataflow: xs\n", "dataflow", "'xs' is not one of os, ws, is"),
])
def test_bad_value_raises_config_error_naming_key_and_reason(tmp_path, body, key, reason):
    path = write_yaml(tmp_path, "accelerator: systolic\n" + body)
    msg = config_error(path)
    assert msg.startswith(f"{path}: "), msg
    assert key in msg and reason in msg, msg


def test_power_of_two_burst_is_accepted(tmp_path):
    for burst in (1, 2, 64, 4096):
        assert load_config(write_yaml(tmp_path, f"accelerator: systolic\ndram_burst_bytes: {burst}\n"))\
            .dram_burst_bytes == burst


@pytest.mark.parametrize(("body", "reason"), [
    ("- accelerator\n- systolic\n", "expected a mapping of config keys"),
    ("just a string\n", "expected a mapping of config keys"),
    ("", "expected a mapping of config keys"),
    ("rows: [1, 2\n", "not valid YAML"),
    ("accelerator: tpu9000\nrows: 4\n", "accelerator: 'tpu9000' is not a known chip (known: "),
    ("rows: 4\n", "accelerator: None is not a known chip"),
])
def test_bad_document(tmp_path, body, reason):
    path = write_yaml(tmp_path, body)
    msg = config_error(path)
    assert str(path) in msg and reason in msg, msg
    if "known chip" in msg:
        assert "systolic" in msg.split("known: ")[1]     # the message lists the registered chips


def test_unknown_preset_and_missing_file(tmp_path):
    msg = config_error("systollic")
    assert "unknown config 'systollic'" in msg and "presets:" in msg and "systolic" in msg
    missing = tmp_path / "absent.yaml"
    assert config_error(missing) == f"config file {missing} does not exist"


def test_error_in_override_keeps_the_source_in_the_message():
    msg = config_error("systolic", rows=0)
    assert msg.endswith("rows: 0 is below the minimum 1")
    assert "systolic.yaml" in msg
