"""Bad input that used to give wrong numbers, tracebacks or hangs (issues 16 "Bad input" and 18).

Each test names the symptom it guards against. CLI cases run in-process through ``accelsim.cli.main``;
an exception escaping it fails the test, so "one line, exit code 2, no traceback" is checked here.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import accelsim
from accelsim import AccelsimError, ConfigError, EnergyError, TraceError, load_config, load_trace
from accelsim.cli import main
from accelsim.energy import load_table
from accelsim.errors import ShapeError
from accelsim.safe_yaml import MAX_EXPANDED_NODES, load_yaml
from accelsim.simulate import energy_reference
from accelsim.trace import Layer, Trace

# -- helpers ------------------------------------------------------------------------------------


def read_raw(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_raw(path: Path, header: dict | str, data: bytes = b"") -> Path:
    blob = (header if isinstance(header, str) else json.dumps(header)).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


def edit_meta(src: Path, dst: Path, edit) -> Path:
    """Copy a trace with ``edit(doc)`` applied to its accelsim metadata document."""
    header, data = read_raw(src)
    doc = json.loads(header["__metadata__"]["accelsim"])
    edit(doc)
    header["__metadata__"]["accelsim"] = json.dumps(doc)
    return write_raw(dst, header, data)


def cli(argv: list, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(rc: int, err: str, fragment: str) -> None:
    lines = err.splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith("accelsim: error:") and fragment in lines[0], lines[0]


def fc_layer(name: str = "fc", w: np.ndarray | None = None, x: np.ndarray | None = None) -> Layer:
    """A 2-input, 3-output linear layer: weight rows (1, 2), (0, 1), (3, 0); input (1, 2)."""
    w = np.array([[1, 2], [0, 1], [3, 0]], np.float32) if w is None else w
    x = np.array([[1, 2]], np.float32) if x is None else x
    return Layer(name, "linear", {"N": 1, "C": 2, "K": 3}, w, x)


def small_conv(name: str = "conv") -> Layer:
    rng = np.random.default_rng(3)
    return Layer(name, "conv2d", {"N": 1, "C": 2, "H": 4, "W": 4, "K": 2, "R": 3, "S": 3, "stride": 1,
                                  "padding": 1, "groups": 1},
                 rng.standard_normal((2, 2, 3, 3)).astype(np.float32),
                 np.abs(rng.standard_normal((1, 2, 4, 4))).astype(np.float32))


# -- YAML: one safe loader everywhere ----------------------------------------------------------

def laughs(levels: int = 7) -> str:
    """'Billion laughs': each level is nine aliases of the previous one, 9**7 = 4.8 million leaves."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_depth_and_recursion_are_refused_small_aliases_kept():
    with pytest.raises(AccelsimError, match=f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes"):
        load_yaml(laughs(), "bomb")
    with pytest.raises(AccelsimError, match="nested deeper than 64 levels"):
        load_yaml("[" * 3000 + "]" * 3000, "deep")
    with pytest.raises(AccelsimError, match="alias refers to a collection that contains it"):
        load_yaml("a: &a [1, *a]", "loop")
    with pytest.raises(AccelsimError, match="huge: YAML value out of range"):  # before: a bare ValueError
        load_yaml("rows: " + "9" * 5000, "huge")
    # an ordinary anchor used twice is fine: 2 + 2 nodes
    assert load_yaml("base: &b {rows: 8}\nother: *b\n", "ok") == {"base": {"rows": 8}, "other": {"rows": 8}}


@pytest.mark.parametrize("where", ["config", "energy_table", "set_value", "sweep_spec", "density_file"])
def test_every_yaml_accelsim_reads_refuses_an_alias_bomb(tmp_path, tiny_trace_path, capsys, where):
    # before: each of these hung for over a minute or took 6-8 GB
    bomb = tmp_path / "bomb.yaml"
    if where == "config":
        bomb.write_text("accelerator: systolic\n" + laughs())
        argv = ["info", bomb]
    elif where == "energy_table":
        bomb.write_text("extends: horowitz45\nsources:\n  " + laughs().replace("\n", "\n  "))
        cfg = tmp_path / "cfg.yaml"
        cfg.write_text(f"accelerator: systolic\nenergy_table: {bomb}\n")
        argv = ["info", cfg]
    elif where == "set_value":
        flow = "{" + laughs().strip().replace("\n", ", ") + "}"
        argv = ["run", tiny_trace_path, "systolic", "--set", f"label={flow}"]
    elif where == "sweep_spec":
        bomb.write_text("traces: []\naccelerators: []\n" + laughs())
        argv = ["sweep", bomb, "-o", tmp_path / "res", "--dry-run"]
    else:
        bomb.write_text(laughs())
        argv = ["synth", "--gemm", "4,4,4", "--weight-density", bomb, "-o", tmp_path / "t.safetensors"]
    rc, _, err = cli(argv, capsys)
    one_line_error(rc, err, "aliases expand to more than")


def test_non_utf8_config_and_a_trace_given_as_config_name_the_file(tmp_path, tiny_trace_path, capsys):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("accelerator: systolic\nlabel: caf\xe9\n".encode("latin-1"))
    rc, _, err = cli(["info", latin], capsys)
    one_line_error(rc, err, f"{latin}: not a UTF-8 text YAML file")
    rc, _, err = cli(["run", tiny_trace_path, tiny_trace_path], capsys)
    one_line_error(rc, err, f"{tiny_trace_path}: not a UTF-8 text YAML file (byte")
    assert "(it looks like a trace file, not YAML)" in err


# -- energy tables --------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "message"), [
    ("sram_read_64b: {1024: .nan, 2048: 1.0}", r"sram_read_64b\[1024\]: nan is not a finite number"),
    ("dram_pj_per_bit: {LPDDR4: -8.0}", r"dram_pj_per_bit.LPDDR4: -8.0 must be positive"),
    ("dram_pj_per_bit: {LPDDR4: .inf}", r"dram_pj_per_bit.LPDDR4: inf is not a finite number"),
    ("sram_read_64b: {}", "sram_read_64b: needs at least one"),
    ("sram_read_64b: {0: 10.0}", r"sram_read_64b\[0\] size: 0.0 must be positive"),
    ("sram_read_64b: {1024: 0.0}", r"sram_read_64b\[1024\]: 0.0 must be positive"),
    ("arith: {int_add: {16: 0.05, 8: 0.03}}", r"arith.int_add: sizes must be listed in increasing order"),
    ("arith: {int_addd: {8: 0.03}}", "arith: unknown op 'int_addd'"),
    ("arith: {int_add: []}", "arith.int_add: expected a mapping, got list"),
    ("vdd: true", "vdd: expected a number, got bool"),
    ("sram_write_facter: 2.0", "unknown key 'sram_write_facter'"),
    ("ert_overrides: {'pe:mac': -1.0}", r"ert_overrides\['pe:mac'\]: -1.0 must be >= 0"),
    ("ert_overrides: {'pe_mac': 1.0}", "ert_overrides: key 'pe_mac' is not 'component:action'"),
])
def test_malformed_energy_tables_raise_energy_error_naming_key_and_reason(tmp_path, body, message):
    # before: NaN priced (per-layer NaN, "0.000 uJ" total), negative totals, IndexError/ZeroDivisionError
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: horowitz45\nname: bad\n{body}\n")
    with pytest.raises(EnergyError, match=f"energy table {path}: {message}"):
        load_table(path)


def test_zero_override_is_a_free_action_and_extends_merges_sizes_in_order(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text("extends: horowitz45\nname: child\nsram_read_64b: {4096: 7.0}\nert_overrides: {'pe:mac': 0}\n")
    table = load_table(path)
    assert list(table.sram_read_64b) == [4096.0, 8192.0, 32768.0, 1048576.0]
    assert energy_reference(load_config("systolic", energy_table=str(path)))[("pe", "mac")] == 0.0


def test_override_for_an_action_the_chip_does_not_count_is_refused(tmp_path):
    # before: silently ignored, so a typo'd component kept the default price
    path = tmp_path / "typo.yaml"
    path.write_text("extends: horowitz45\nname: typo\nert_overrides: {'pee:mac': 1.0}\n")
    with pytest.raises(EnergyError, match=r"energy table typo: ert_overrides key 'pee:mac' is not an action "
                                          r"systolic counts \(it counts: .*pe:mac"):
        load_config("systolic", energy_table=str(path))


@pytest.mark.parametrize(("setting", "message"), [
    ("energy_table: nope", "unknown energy table 'nope'"),
    ("dram_type: DDR9", "unknown DRAM type 'DDR9'"),
])
def test_info_config_rejects_what_run_rejects(tmp_path, capsys, setting, message):
    # before: `info` exited 0 for an unknown energy table or DRAM type that `run` refused
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"accelerator: systolic\n{setting}\n")
    rc, _, err = cli(["info", cfg], capsys)
    one_line_error(rc, err, message)


# -- config values of the wrong kind -------------------------------------------------------------

@pytest.mark.parametrize(("doc", "message"), [
    ("accelerator: [systolic]\n", "accelerator: ['systolic'] is not a known chip"),
    ("accelerator: {systolic: 1}\n", "accelerator: {'systolic': 1} is not a known chip"),
    ("accelerator: systolic\n64: rows\n", "config keys must be strings, got 64"),
    ("accelerator: scnn\nhalo_words_per_cycle: 1180591620717411303424\n",
     "halo_words_per_cycle: 1180591620717411303424 does not fit in 64 bits"),
    ("accelerator: systolic\nclock_hz: " + "9" * 400 + "\n", "clock_hz: <1329-bit integer> does not fit in 64 bits"),
    ("accelerator: scnn\nrun_bits: 9\n", "run_bits: 9 is above the maximum 8"),
])
def test_config_values_of_the_wrong_kind_are_config_errors(tmp_path, capsys, doc, message):
    # before: TypeError (unhashable accelerator), OverflowError in a kernel, a model error naming no key
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(doc)
    rc, _, err = cli(["info", cfg], capsys)
    one_line_error(rc, err, message)


def test_numpy_scalars_are_accepted_as_config_values():
    cfg = load_config("systolic", rows=np.int64(64), clock_hz=np.float32(5e8), double_buffered=np.bool_(False))
    assert (cfg.rows, cfg.clock_hz, cfg.double_buffered) == (64, 5e8, False)
    assert type(cfg.rows) is int and type(cfg.double_buffered) is bool


# -- trace header and metadata -------------------------------------------------------------------

@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(version=1.0), "unknown trace format version 1.0"),
    (lambda d: d.update(version=True), "unknown trace format version True"),
    (lambda d: d["layers"][2]["shape"].update(K=12, hidden=2), "lstm K=12 must be 4 x hidden = 8"),
    (lambda d: d["layers"][0].update(name=["conv"]), "layer #0: name and kind must be strings"),
    (lambda d: d["layers"][1].update(name="conv"), "layer 'conv': two layers have this name"),
    (lambda d: d.update(provenance=json.loads("[" * 900 + "]" * 900)), "nested deeper than 32 levels"),
])
def test_trace_metadata_of_the_wrong_type_or_shape(tiny_trace_path, tmp_path, edit, message):
    path = edit_meta(tiny_trace_path, tmp_path / "bad.safetensors", edit)
    with pytest.raises(TraceError, match=message):
        load_trace(path)


@pytest.mark.parametrize("entry", [7, [1, 2], {"format": "accelsim-trace"}])
def test_accelsim_entry_that_is_not_a_json_string(tiny_trace_path, tmp_path, entry):
    # before: TypeError from json.loads
    header, data = read_raw(tiny_trace_path)
    header["__metadata__"]["accelsim"] = entry
    path = write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(TraceError, match=f"{path}: corrupt trace metadata \\(the 'accelsim' entry is a "):
        load_trace(path)


def test_header_nested_thousands_deep_and_huge_integers_name_the_file(tiny_trace_path, tmp_path):
    # before: RecursionError; a bare ValueError (int max_str_digits) naming no file
    deep = write_raw(tmp_path / "deep.safetensors", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", b"")
    with pytest.raises(TraceError, match=f"{deep}: corrupt trace header"):
        load_trace(deep)
    header, data = read_raw(tiny_trace_path)
    meta = header["__metadata__"]
    meta["accelsim"] = meta["accelsim"].replace('"seed": 7', '"seed": ' + "9" * 5000)
    huge = write_raw(tmp_path / "huge.safetensors", header, data)
    with pytest.raises(TraceError, match=f"{huge}: corrupt trace metadata \\(a number is out of range"):
        load_trace(huge)


def test_float16_tensors_are_widened_exactly_to_float32(tmp_path):
    # before: NotImplementedError: float16 inside a chip
    from safetensors.numpy import save_file

    w16 = np.array([[1.5, -2.0], [0.0, 0.333251953125], [65504.0, 0.0]], np.float16)
    x16 = np.array([[2.0, 4.0]], np.float16)
    f32 = Trace([fc_layer(w=w16.astype(np.float32), x=x16.astype(np.float32))], name="half")
    header, _ = read_raw(f32.save(tmp_path / "f32.safetensors"))
    path = tmp_path / "half.safetensors"  # the same trace with its tensors stored as float16
    save_file({"layers.0.weight": w16, "layers.0.input": x16}, str(path), metadata=header["__metadata__"])
    assert read_raw(path)[0]["layers.0.weight"]["dtype"] == "F16"  # stored as float16 ...
    layer = load_trace(path)[0]
    assert layer.weight.dtype == np.float32  # ... read as float32, value for value
    np.testing.assert_array_equal(layer.weight, w16.astype(np.float32))
    # 3 x 2 weight times (2, 4): (1.5*2 - 2*4, 0.333251953125*4, 65504*2) = (-5, 1.3330078125, 131008)
    row = accelsim.simulate(load_trace(path), load_config("systolic")).to_frame().iloc[0]
    assert bool(row["functional_ok"])


def test_absurd_derived_size_is_refused_before_allocating_naming_the_layer(tmp_path):
    # before: a conv with padding 20,000 tried to allocate 95 GiB (MemoryError)
    # P = Q = (4 + 2 * 20000 - 3) // 1 + 1 = 40002; rows N*P*Q = 40002**2 = 1,600,160,004; cols C*R*S = 18
    with pytest.raises(ShapeError, match=r"layer 'conv': the lowered \(im2col\) input would be 1,600,160,004 x 18 "
                                         r"= 28,802,880,072 elements \(output 40002 x 40002 .*padding=20000\)"):
        Trace([Layer("conv", "conv2d", {"N": 1, "C": 2, "H": 4, "W": 4, "K": 2, "R": 3, "S": 3, "stride": 1,
                                         "padding": 20000, "groups": 1},
                     np.ones((2, 2, 3, 3), np.float32), np.ones((1, 2, 4, 4), np.float32))])
    with pytest.raises(ShapeError, match="layer 'gemm': the weight tensor would be 1000000 x 1000000"):
        accelsim.synth(gemm=(10**6, 10**6, 10**6))


def test_finite_but_overflowing_inputs_are_reported_as_such(tmp_path, capsys):
    # before: "output differs from the reference" and exit code 1
    w = np.array([[3.4e38, 3.4e38], [0, 1], [1, 0]], np.float32)
    path = Trace([fc_layer(w=w)], name="big").save(tmp_path / "big.safetensors")
    rc, _, err = cli(["run", path, "systolic"], capsys)
    one_line_error(rc, err, "layer 'fc': the inputs overflow float32 (largest input magnitude 3.4e+38")


# -- one trace, one verdict ----------------------------------------------------------------------

def test_a_nan_layer_is_refused_whatever_the_chip(tmp_path, capsys):
    # before: EIE skipped the conv layer unread and exited 0; systolic and info refused the file
    conv = small_conv()
    conv.input[0, 0, 0, 0] = np.nan
    header_ok = Trace([small_conv(), fc_layer()], name="t").save(tmp_path / "ok.safetensors")
    header, data = read_raw(header_ok)
    start = header["layers.0.input"]["data_offsets"][0]
    data = data[:start] + np.float32(np.nan).tobytes() + data[start + 4:]
    path = write_raw(tmp_path / "nan.safetensors", header, data)
    for chip in ("eie", "systolic"):
        rc, _, err = cli(["run", path, chip], capsys)
        one_line_error(rc, err, "layer 'conv': tensor 'input' contains NaN or Inf")


def test_skip_note_only_after_a_success(tmp_path, capsys):
    # before: the "cannot run ... skipped" note, then the error: two lines for one failure
    path = Trace([small_conv(), fc_layer()], name="t").save(tmp_path / "t.safetensors")
    rc, _, err = cli(["run", path, "eie", "--set", "pe_count=0"], capsys)
    one_line_error(rc, err, "pe_count")
    bad = tmp_path / "nan.safetensors"
    header, data = read_raw(path)
    start = header["layers.1.input"]["data_offsets"][0]
    write_raw(bad, header, data[:start] + np.float32(np.inf).tobytes() + data[start + 4:])
    rc, _, err = cli(["run", bad, "eie"], capsys)
    one_line_error(rc, err, "layer 'fc': tensor 'input' contains NaN or Inf")
    rc, _, err = cli(["run", path, "eie"], capsys)
    assert rc == 0 and err.splitlines() == ["note: eie cannot run conv (kind not supported); skipped"]


def test_layer_names_are_escaped_when_printed(tmp_path, capsys):
    # before: a newline and an ANSI escape in a name reached the terminal raw
    name = "fc\n\x1b[31mred"
    path = Trace([fc_layer(name)], name="t").save(tmp_path / "t.safetensors")
    rc, out, err = cli(["run", path, "systolic"], capsys)
    assert rc == 0 and "\x1b" not in out and r"fc\n\x1b[31mred" in out
    rc, _, err = cli(["run", path, "systolic", "--layers", "x\x1b[2J"], capsys)
    one_line_error(rc, err, r"no layers named x\x1b[2J")


def test_functional_mismatch_contract_exit_1_and_one_named_line(tmp_path, capsys, monkeypatch):
    # the documented contract (README "Exit codes"): table printed, output_ok False, exit code 1
    import importlib

    sim = importlib.import_module("accelsim.simulate")  # the module (accelsim.simulate is the function)

    path = Trace([fc_layer()], name="t").save(tmp_path / "t.safetensors")
    real = sim.ACCELERATORS["systolic"]

    def wrong(layer, cfg):
        result = real.simulate_layer(layer, cfg)
        result.output = result.output + 1.0  # one more than the reference everywhere
        return result

    monkeypatch.setitem(sim.ACCELERATORS, "systolic", type(real)(**{**real.__dict__, "simulate_layer": wrong}))
    rc, out, err = cli(["run", path, "systolic"], capsys)
    assert rc == 1 and out.splitlines()[3].endswith("False")
    assert err.splitlines()[-1] == ("accelsim: output check failed: 'fc' differ from the dense reference "
                                    "(output_ok=False); exit code 1")


# -- writing traces ------------------------------------------------------------------------------

def test_synth_and_save_refuse_a_directory_before_writing(tmp_path, capsys):
    # before: a DIR.tmp file was left next to the directory (at / for /tmp)
    target = tmp_path / "out"
    target.mkdir()
    rc, _, err = cli(["synth", "--gemm", "4,4,4", "-o", target], capsys)
    one_line_error(rc, err, f"{target} is a directory")
    with pytest.raises(TraceError, match="is a directory"):
        Trace([fc_layer()]).save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any(target.iterdir())


# -- the Python API ------------------------------------------------------------------------------

def test_wrong_argument_types_raise_project_errors(tiny_trace):
    cfg = load_config("systolic")
    cases = [
        (lambda: load_trace(None), TraceError, "load_trace: expected a file path, got NoneType"),
        (lambda: load_config(None), ConfigError, "expected a preset name, a YAML path or a mapping, got NoneType"),
        (lambda: load_config(cfg), ConfigError, "got SystolicConfig"),
        (lambda: accelsim.simulate(tiny_trace, "systolic"), ConfigError, "expected a config object, got str"),
        (lambda: accelsim.simulate("t.safetensors", cfg), TraceError, "expected a Trace, got str"),
        (lambda: accelsim.simulate(tiny_trace, cfg, layers="mm"), TraceError, "layers='mm' must be a list"),
        (lambda: accelsim.simulate(tiny_trace, cfg, unsupported="ignore"), AccelsimError, "unsupported='ignore'"),
        (lambda: tiny_trace.select("mm"), TraceError, "layers='mm' must be a list"),
        (lambda: accelsim.simulate(tiny_trace, cfg, seed="7"), AccelsimError, "seed must be an integer or None"),
        (lambda: tiny_trace.select(["nope"]), TraceError, "no layer named 'nope'"),
        (lambda: accelsim.synth(network="alexnet", layers="fc8"), TraceError, "layers='fc8' must be a list"),
        (lambda: accelsim.synth(gemm=(1.9, 2.9, 3.9)), AccelsimError, "gemm M must be an integer, got float 1.9"),
        (lambda: accelsim.synth(gemm=[True, True, True]), AccelsimError, "gemm M must be an integer, got bool"),
        (lambda: accelsim.synth(gemm="4,4,4"), AccelsimError, "gemm must be three integers"),
        (lambda: accelsim.synth(gemm=(4, 4, 4), seed=2**70), AccelsimError, "seed=1180591620717411303424 is out"),
        (lambda: accelsim.synth(gemm=(4, 4, 4), batch=1.5), AccelsimError, "batch must be an integer"),
        (lambda: accelsim.synth(network=7), AccelsimError, "network must be a zoo network name"),
        (lambda: accelsim.sweep(None), AccelsimError, "sweep spec: expected a YAML path or a mapping"),
        (lambda: Trace("fc"), TraceError, "expected a list of Layers, got str"),
        (lambda: Trace([fc_layer(), fc_layer()]), TraceError, "two layers are named 'fc'"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
            call()


def test_numpy_integers_are_accepted_by_synth():
    trace = accelsim.synth(gemm=(np.int64(2), np.int32(3), np.uint8(4)), seed=np.int64(5), batch=np.int16(1))
    assert trace[0].shape == {"M": 2, "N": 3, "K": 4} and trace.provenance["seed"] == 5


def test_in_memory_layers_are_validated_like_loaded_ones():
    # before: stride 0 reached conv_output_hw (ZeroDivisionError) at simulation
    bad = small_conv()
    bad.shape = {**bad.shape, "stride": 0}
    with pytest.raises(ShapeError, match="layer 'conv': shape stride=0 is out of range"):
        Trace([bad])
    nan = fc_layer(x=np.array([[np.nan, 1.0]], np.float32))
    with pytest.raises(TraceError, match="layer 'fc': tensor 'input' contains NaN or Inf"):
        Trace([nan])
    assert issubclass(ShapeError, AccelsimError) and issubclass(ShapeError, ValueError)


def test_the_documented_exit_codes_are_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ("`0`", "`1`", "`2`", "`130`"):
        assert code in section


def test_numpy_values_in_a_sweep_spec_are_accepted():
    # before: TypeError "Object of type int64 is not JSON serializable" while expanding the spec
    from accelsim.sweep.spec import load_spec

    doc, _, _ = load_spec({"traces": [{"synth": {"gemm": [np.int64(8), 8, 8]}}],
                           "density": {"weight": (np.float64(0.5),)},
                           "accelerators": [{"config": "systolic", "grid": {"rows": [np.int32(4)]}}]})
    assert doc["traces"][0]["synth"]["gemm"] == [8, 8, 8] and type(doc["traces"][0]["synth"]["gemm"][0]) is int
    assert doc["density"]["weight"] == (0.5,) and type(doc["accelerators"][0]["grid"]["rows"][0]) is int


def test_sweep_set_key_that_is_not_a_string(tmp_path, capsys):
    # before: TypeError "keywords must be strings" while expanding the spec
    spec = tmp_path / "s.yaml"
    spec.write_text("traces: [{synth: {gemm: [8, 8, 8]}}]\naccelerators: [{config: systolic, set: {1: 2}}]\n")
    rc, _, err = cli(["sweep", spec, "-o", tmp_path / "out", "--dry-run"], capsys)
    one_line_error(rc, err, "accelerators[0].set: config field names must be strings, got 1")
