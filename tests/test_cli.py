"""The `accelsim` command: one-line errors with exit code 2, `run` tables and result files, `info` rows, `synth`.

Error cases run in-process through ``accelsim.cli.main`` (an escaping exception fails the test); a few also run
as real processes (started together, to keep the suite fast) so stderr and the exit code are the real ones.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import accelsim
from accelsim.cli import main
from accelsim.trace import Layer, Trace

DOCUMENTED_COLUMNS = ["trace", "layer", "kind", "accelerator", "config", "cycles", "compute_cycles", "time_s",
                      "energy_pj", "macs_dense", "macs_effectual", "utilization", "load_balance", "dram_bytes",
                      "functional_ok"]


def two_layer_trace() -> Trace:
    """A grouped, strided conv and a linear layer, float32, with hand-placed zeros."""
    rng = np.random.default_rng(42)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    w[w < -0.5] = 0.0
    x = np.abs(rng.standard_normal((1, 4, 5, 5))).astype(np.float32)
    x[x < 0.6] = 0.0
    conv = Layer("conv", "conv2d",
                 {"N": 1, "C": 4, "H": 5, "W": 5, "K": 4, "R": 3, "S": 3, "stride": 2, "padding": 1, "groups": 2},
                 w, x)
    fw = np.arange(1, 25, dtype=np.float32).reshape(4, 6) * np.array([1, 0, 1, 0, 0, 1], np.float32)
    fx = np.array([[1, 0, 2, 0, 3, 0], [0, 0, 0, 0, 0, 5]], np.float32)
    fc = Layer("fc", "linear", {"N": 2, "C": 6, "K": 4}, fw, fx)
    return Trace([conv, fc], {"model": "two", "seed": 5, "pruning": {"method": "hand"}}, name="two")


def loop_effectual(layer: Layer) -> int:
    """Products with both operands non-zero, by explicit loops over the grouped conv."""
    s = layer.shape
    g, cg, kg = s["groups"], s["C"] // s["groups"], s["K"] // s["groups"]
    pad = s["padding"]
    x = np.pad(layer.input, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    p_out = (s["H"] + 2 * pad - s["R"]) // s["stride"] + 1
    q_out = (s["W"] + 2 * pad - s["S"]) // s["stride"] + 1
    count = 0
    for k in range(s["K"]):
        group = k // kg
        for p in range(p_out):
            for q in range(q_out):
                for c in range(cg):
                    for r in range(s["R"]):
                        for t in range(s["S"]):
                            a = x[0, group * cg + c, p * s["stride"] + r, q * s["stride"] + t]
                            count += bool(a != 0 and layer.weight[k, c, r, t] != 0)
    assert g == 2
    return count


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    out = {"trace": two_layer_trace().save(d / "two.safetensors"), "dir": d}
    rng = np.random.default_rng(0)
    out["corrupt"] = d / "corrupt.safetensors"
    out["corrupt"].write_bytes(rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
    out["bad_cfg"] = d / "bad_cfg.yaml"
    out["bad_cfg"].write_text("accelerator: systolic\nrows: 0\n")
    out["list_cfg"] = d / "list_cfg.yaml"
    out["list_cfg"].write_text("- systolic\n")
    out["dens_list"] = d / "dens_list.yaml"
    out["dens_list"].write_text("- 0.5\n- 0.25\n")
    return out


# -- errors: exit code 2, exactly one line on stderr, no traceback ------------------------------

ERROR_CASES = {
    # name: (argv with {placeholders}, fragment of the one stderr line)
    "info_corrupt": (["info", "{corrupt}"], "corrupt.safetensors: not an accelsim trace"),
    "info_missing": (["info", "{dir}/missing.safetensors"], "missing.safetensors: no such trace file"),
    "info_bad_config": (["info", "{bad_cfg}"], "rows: 0 is below the minimum 1"),
    "info_list_config": (["info", "{list_cfg}"], "expected a mapping of config keys"),
    "run_set_no_equals": (["run", "{trace}", "systolic", "--set", "rows"], "--set 'rows': expected key=value"),
    "run_set_out_of_range": (["run", "{trace}", "systolic", "--set", "rows=-1"], "rows: -1 is below the minimum 1"),
    "run_set_unknown_key": (["run", "{trace}", "systolic", "--set", "pe_rows=4"], "unknown key 'pe_rows'"),
    "run_set_wrong_type": (["run", "{trace}", "systolic", "--set", "dataflow=diagonal"],
                           "dataflow: 'diagonal' is not one of os, ws, is"),
    "run_missing_trace": (["run", "{dir}/gone.safetensors", "systolic"], "gone.safetensors: no such trace file"),
    "run_unknown_preset": (["run", "{trace}", "tpu9"], "unknown config 'tpu9'"),
    "run_unknown_layer": (["run", "{trace}", "systolic", "--layers", "nope"], "no layers named nope"),
    "run_corrupt": (["run", "{corrupt}", "systolic"], "not an accelsim trace"),
    "synth_no_source": (["synth", "-o", "{dir}/x.safetensors"], "one of the arguments --network --gemm is required"),
    "synth_bad_gemm": (["synth", "--gemm", "4,4", "-o", "{dir}/x.safetensors"], "expected three positive integers"),
    "synth_bad_density": (["synth", "--gemm", "4,4,4", "--weight-density", "1.5", "-o", "{dir}/x.safetensors"],
                          "weight density 1.5 for layer 'gemm' must be in (0, 1]"),
    "synth_density_file_list": (["synth", "--gemm", "4,4,4", "--weight-density", "{dens_list}", "-o",
                                 "{dir}/x.safetensors"], "expected a mapping of layer name -> density"),
    "synth_density_neither": (["synth", "--gemm", "4,4,4", "--act-density", "dense", "-o", "{dir}/x.safetensors"],
                              "density 'dense' is neither a number nor a YAML file"),
    "synth_unknown_network": (["synth", "--network", "lenet9", "-o", "{dir}/x.safetensors"],
                              "unknown network 'lenet9'"),
    "synth_bad_structure": (["synth", "--gemm", "4,4,4", "--structure", "nm:5:4", "-o", "{dir}/x.safetensors"],
                            "need 0 < N <= M"),
}


def _command() -> list[str]:
    return [sys.executable, "-m", "accelsim.cli"]


@pytest.fixture(scope="module")
def subprocess_runs(files) -> dict[str, subprocess.CompletedProcess]:
    """A few real processes, started together: the module, the console script, and --debug."""
    corrupt = str(files["corrupt"])
    commands = {"module": _command() + ["info", corrupt], "debug": _command() + ["--debug", "info", corrupt]}
    entry = shutil.which("accelsim")
    if entry:
        commands["entry_point"] = [entry, "info", corrupt]
    procs = {name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=files["dir"])
             for name, cmd in commands.items()}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[name] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


def assert_one_line_error(returncode: int, stderr: str, expected: str) -> None:
    assert returncode == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("accelsim"), lines[0]
    assert "error:" in lines[0]
    assert expected in lines[0], lines[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_input_exits_2_with_one_line(files, capsys, case):
    # In-process: an exception escaping main() would fail the test, so "no traceback" is checked here too.
    argv, expected = ERROR_CASES[case]
    fmt = {k: str(v) for k, v in files.items()}
    rc = main([a.format(**fmt) for a in argv])
    assert_one_line_error(rc, capsys.readouterr().err, expected)


@pytest.mark.parametrize(("case", "expected"), [
    ("module", "corrupt.safetensors: not an accelsim trace"),
    ("entry_point", "corrupt.safetensors: not an accelsim trace"),
])
def test_real_process_exits_2_with_one_line(subprocess_runs, case, expected):
    if case not in subprocess_runs:
        pytest.skip("the accelsim console script is not on PATH")
    run = subprocess_runs[case]
    assert_one_line_error(run.returncode, run.stderr, expected)
    assert run.stdout == ""


def test_debug_shows_the_traceback(subprocess_runs):
    run = subprocess_runs["debug"]
    assert run.returncode != 0
    assert "Traceback" in run.stderr and "TraceError" in run.stderr


# -- run ------------------------------------------------------------------------------------------


def test_run_prints_per_layer_table_and_totals_and_writes_parquet_and_csv(files, capsys):
    parquet, csv = files["dir"] / "res.parquet", files["dir"] / "res.csv"
    argv = [str(files["trace"]), "systolic", "--set", "rows=4", "--set", "cols=4"]
    assert main(["run", *argv, "-o", str(parquet)]) == 0
    text = capsys.readouterr().out
    assert main(["run", *argv, "-o", str(csv)]) == 0
    capsys.readouterr()
    lines = text.splitlines()
    assert lines[0] == "two on systolic[rows=4,cols=4] (systolic, 1000 MHz)"
    assert lines[1].split() == ["layer", "kind", "cycles", "time_us", "energy_uJ", "util", "load_bal", "output_ok"]
    assert set(lines[2]) == {"-", " "}
    rows = [ln.split() for ln in lines[3:5]]
    assert [r[0] for r in rows] == ["conv", "fc"] and [r[1] for r in rows] == ["conv2d", "linear"]
    assert [r[-1] for r in rows] == ["True", "True"]

    df = pd.read_parquet(parquet)
    back = pd.read_csv(csv)
    for col in DOCUMENTED_COLUMNS:
        assert col in df.columns and col in back.columns, col
    assert any(c.startswith("energy_pj.") for c in df.columns)
    assert any(c.startswith("stall.") for c in df.columns)
    assert "time_us" not in df.columns and "energy_uj" not in df.columns     # display-only columns are dropped
    assert list(df.columns) == list(back.columns)
    assert len(df) == 2 and df["layer"].tolist() == ["conv", "fc"]
    assert df["trace"].unique().tolist() == ["two"] and df["accelerator"].unique().tolist() == ["systolic"]
    assert df["config"].unique().tolist() == ["systolic[rows=4,cols=4]"]
    assert df["functional_ok"].tolist() == [True, True]
    pd.testing.assert_frame_equal(df, back, check_dtype=False)

    # the printed table and totals agree with the file
    assert [int(r[2].replace(",", "")) for r in rows] == df["cycles"].tolist()
    total = next(ln for ln in lines if ln.startswith("total:"))
    assert total.startswith(f"total: {int(df['cycles'].sum()):,d} cycles")
    assert lines[-1] == f"wrote {parquet}"
    # columns are consistent with each other
    np.testing.assert_allclose(df["time_s"], df["cycles"] / 1e9)
    energy_parts = df[[c for c in df.columns if c.startswith("energy_pj.")]].sum(axis=1)
    np.testing.assert_allclose(df["energy_pj"], energy_parts)
    assert (df["compute_cycles"] <= df["cycles"]).all()
    trace = two_layer_trace()
    assert df["macs_dense"].tolist() == [ly.macs_dense for ly in trace]
    assert df["macs_effectual"].tolist() == [loop_effectual(trace[0]), 12]     # fc: see test_info_rows
    assert df["seed"].tolist() == [5, 5]


def test_run_selected_layers(files, capsys):
    out = files["dir"] / "fc_only.csv"
    assert main(["run", str(files["trace"]), "systolic", "--set", "rows=4", "--layers", "fc", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fc" in text and "conv2d" not in text
    assert pd.read_csv(out)["layer"].tolist() == ["fc"]


def test_run_rejects_an_unknown_output_suffix(files, capsys):
    assert main(["run", str(files["trace"]), "systolic", "-o", str(files["dir"] / "res.xlsx")]) == 2
    assert "output must end in .parquet or .csv" in capsys.readouterr().err


# -- info -------------------------------------------------------------------------------------------


ROW = re.compile(r"^(\S+)\s+(\S+)\s+(.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d,]+)\s+([\d,]+)$")


def test_info_rows(files, capsys):
    assert main(["info", str(files["trace"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{files['trace']}: 2 layers; model two; seed 5; pruning hand"
    assert lines[1].split() == ["layer", "kind", "shape", "w_density", "a_density", "dense_MACs", "effectual_MACs"]
    parsed = {m[1]: m.groups() for m in (ROW.match(ln) for ln in lines[3:]) if m}
    assert set(parsed) == {"conv", "fc"}
    trace = two_layer_trace()
    conv, fc = trace
    _, kind, shape, wd, ad, dense, eff = parsed["conv"]
    assert kind == "conv2d"
    assert shape == "N=1 C=4 H=5 W=5 K=4 R=3 S=3 stride=2 padding=1 groups=2"
    assert float(wd) == pytest.approx(np.count_nonzero(conv.weight) / conv.weight.size, abs=5e-5)
    assert float(ad) == pytest.approx(np.count_nonzero(conv.input) / conv.input.size, abs=5e-5)
    # conv: P = Q = (5 + 2 - 3) // 2 + 1 = 3; dense = N K P Q (C/g) R S = 1 * 4 * 9 * 2 * 9 = 648
    assert int(dense.replace(",", "")) == 648
    assert int(eff.replace(",", "")) == loop_effectual(conv)
    _, kind, shape, wd, ad, dense, eff = parsed["fc"]
    assert (kind, shape) == ("linear", "N=2 C=6 K=4")
    # fc weight columns c = 0, 2, 5 are non-zero in all 4 rows (12 of 24): density 0.5; the input has 4 of 12
    assert (wd, ad) == ("0.5000", "0.3333")
    # effectual: input row 0 is non-zero at c = 0, 2, 4; c = 0 and 2 meet 4 non-zero weights each (c = 4 meets
    # none) = 8; input row 1 is non-zero at c = 5 only, which meets 4 -> 8 + 4 = 12
    assert int(dense.replace(",", "")) == 2 * 6 * 4
    assert int(eff.replace(",", "")) == 12


def test_info_on_a_preset_lists_fields(capsys):
    assert main(["info", "systolic"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "systolic: accelerator systolic"
    fields = {ln.split()[0]: ln for ln in out[1:]}
    assert {"rows", "cols", "dataflow", "clock_hz", "dram_burst_bytes"} <= set(fields)
    assert "= 32" in fields["rows"] and "'os'" in fields["dataflow"]


# -- synth ------------------------------------------------------------------------------------------


def test_synth_gemm_with_density_and_seed(files, capsys):
    path = files["dir"] / "g.safetensors"
    assert main(["synth", "--gemm", "8,6,10", "--weight-density", "0.25", "--act-density", "0.5", "--seed", "3",
                 "-o", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {path}: 1 layers")
    layer = accelsim.load_trace(path)[0]
    assert (layer.kind, layer.shape) == ("matmul", {"M": 8, "N": 6, "K": 10})
    assert np.count_nonzero(layer.weight) == 15 and np.count_nonzero(layer.input) == 40     # 0.25 x 60, 0.5 x 80
    same = accelsim.synth(gemm=(8, 6, 10), weight_density=0.25, act_density=0.5, seed=3)[0]
    assert layer.weight.tobytes() == same.weight.tobytes() and layer.input.tobytes() == same.input.tobytes()
    other = files["dir"] / "g4.safetensors"
    assert main(["synth", "--gemm", "8,6,10", "--weight-density", "0.25", "--seed", "4", "-o", str(other)]) == 0
    assert accelsim.load_trace(other)[0].weight.tobytes() != layer.weight.tobytes()
    assert accelsim.load_trace(other).provenance["seed"] == 4


def test_synth_network_with_a_yaml_density_file(files, capsys):
    dens = files["dir"] / "dens.yaml"
    dens.write_text("block0.dw: 0.5\nblock0.project: 0.25\n")
    path = files["dir"] / "mb.safetensors"
    assert main(["synth", "--network", "mobilenet_v2", "--layers", "block0.dw", "block0.project",
                 "--weight-density", str(dens), "--act-density", "0.5", "-o", str(path)]) == 0
    capsys.readouterr()
    trace = accelsim.load_trace(path)
    assert trace.layer_names == ["block0.dw", "block0.project"]
    assert np.count_nonzero(trace["block0.dw"].weight) == 144          # 0.5 x 32*1*3*3
    assert np.count_nonzero(trace["block0.project"].weight) == 128     # 0.25 x 16*32
    assert np.count_nonzero(trace["block0.project"].input) == 200704   # 0.5 x 32*112*112
    assert trace.provenance["pruning"]["weight_density"] == {"block0.dw": 0.5, "block0.project": 0.25}


def test_synth_structures(files, capsys):
    nm = files["dir"] / "nm.safetensors"
    assert main(["synth", "--gemm", "4,8,32", "--structure", "nm:2:4", "-o", str(nm)]) == 0
    w = accelsim.load_trace(nm)[0].weight                                  # K=32 x N=8
    assert ((w.T.reshape(8, 8, 4) != 0).sum(axis=2) == 2).all()
    ch = files["dir"] / "ch.safetensors"
    assert main(["synth", "--gemm", "4,8,32", "--structure", "channel", "--weight-density", "0.5",
                 "-o", str(ch)]) == 0
    w = accelsim.load_trace(ch)[0].weight
    per_output = (w != 0).sum(axis=0)
    assert sorted(per_output.tolist()) == [0] * 4 + [32] * 4
    blk = files["dir"] / "blk.safetensors"
    assert main(["synth", "--gemm", "4,8,32", "--structure", "block:4x8", "--weight-density", "0.5",
                 "-o", str(blk)]) == 0
    view = accelsim.load_trace(blk)[0].weight.T                            # 8 x 32 -> 2 x 4 blocks of 4x8
    sizes = [np.count_nonzero(view[i:i + 4, j:j + 8]) for i in (0, 4) for j in (0, 8, 16, 24)]
    assert sorted(sizes) == [0] * 4 + [32] * 4
    capsys.readouterr()
