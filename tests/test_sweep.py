"""Sweeps: spec expansion, the resumable store, failing points, `accelsim sweep` / `accelsim results`.

Points are tiny GEMMs on small systolic arrays, run in-process (workers=1) unless a test is about
the process pool.
"""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import accelsim
from accelsim.cli import main as cli
from accelsim.errors import AccelsimError, ConfigError
from accelsim.sweep import Point, SpecError, Store, StoreError, expand, pe_grid, run_point, run_sweep

GEMM = {"synth": {"gemm": [16, 16, 16], "seed": 0}}


def spec(**kw):
    doc = {"traces": [GEMM], "accelerators": [{"config": "systolic", "zip": {"rows": [4, 8], "cols": [4, 8]}}]}
    doc.update(kw)
    return doc


def write_spec(tmp_path, doc, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# ------------------------------------------------------------------------------ expansion
def test_grid_is_the_cartesian_product_in_spec_order():
    doc = {"traces": [{"synth": {"gemm": [8, 8, 8], "seed": [0, 1]}}],
           "density": {"weight": [0.25, 1.0], "act": [0.5]},
           "accelerators": [{"config": "systolic", "set": {"dataflow": "ws"},
                             "grid": {"rows": [4, 8], "cols": [2, 4, 8]}}]}
    points = expand(doc)
    assert len(points) == 2 * 2 * 1 * 2 * 3
    assert len({p.id for p in points}) == len(points)
    first = points[0]
    assert first.trace["seed"] == 0 and first.trace["weight_density"] == 0.25 and first.trace["act_density"] == 0.5
    assert first.overrides == {"dataflow": "ws", "rows": 4, "cols": 2}
    # innermost loop is the config grid, then densities, then seeds
    assert [p.overrides["cols"] for p in points[:3]] == [2, 4, 8]
    assert points[6].trace["weight_density"] == 1.0
    assert points[12].trace["seed"] == 1
    combos = {(p.trace["seed"], p.trace["weight_density"], p.overrides["rows"], p.overrides["cols"]) for p in points}
    assert len(combos) == 24


def test_zip_varies_fields_together_and_multiplies_with_grid():
    doc = {"traces": [GEMM], "accelerators": [
        {"config": "systolic", "zip": {"rows": [4, 8, 16], "cols": [4, 8, 16]}, "grid": {"dataflow": ["os", "ws"]}}]}
    points = expand(doc)
    assert sorted((p.overrides["rows"], p.overrides["cols"], p.overrides["dataflow"]) for p in points) == sorted(
        (n, n, d) for n in (4, 8, 16) for d in ("os", "ws"))


def test_density_per_trace_overrides_top_level_and_files_ignore_it(tmp_path):
    trace = accelsim.synth(gemm=(8, 8, 8), weight_density=0.5, seed=3)
    path = trace.save(tmp_path / "tiny.safetensors")
    doc = {"traces": [{"path": str(path)}, {"synth": {"gemm": [8, 8, 8]}, "density": {"weight": [0.1]}},
                      {"synth": {"gemm": [8, 8, 8]}}],
           "density": {"weight": [0.5, 1.0]},
           "accelerators": [{"config": "systolic"}]}
    points = expand(doc)
    assert [p.trace.get("weight_density") for p in points] == [None, 0.1, 0.5, 1.0]
    assert points[0].trace["path"] == str(path.resolve())


def test_duplicate_points_are_run_once_and_ids_are_stable():
    doc = spec(accelerators=[{"config": "systolic", "grid": {"rows": [4, 4]}}, {"config": "systolic",
                                                                               "set": {"rows": 4}}])
    points = expand(doc)
    assert len(points) == 1
    assert points[0].id == expand(doc)[0].id == Point.from_dict(points[0].to_dict()).id


@pytest.mark.parametrize("doc, message", [
    ({"traces": [GEMM], "accelerators": [{"config": "systolic"}], "trace": []}, "unknown key 'trace'"),
    ({"traces": [GEMM]}, "'accelerators' must be a non-empty list"),
    ({"traces": [{"synth": {"gemm": [8, 8]}}], "accelerators": [{"config": "systolic"}]}, "[M, N, K]"),
    ({"traces": [{"synth": {"network": "alexnet", "layers": ["fc99"]}}], "accelerators": [{"config": "systolic"}]},
     "no layers fc99"),
    ({"traces": [GEMM], "density": {"weight": [0.0]}, "accelerators": [{"config": "systolic"}]}, "(0, 1]"),
    ({"traces": [GEMM], "accelerators": [{"config": "systolic", "zip": {"rows": [4, 8], "cols": [4]}}]},
     "same length"),
    ({"traces": [GEMM], "accelerators": [{"config": "systolic", "set": {"rows": 4}, "grid": {"rows": [8]}}]},
     "both"),
    ({"traces": [{"path": "no/such/file.safetensors"}], "accelerators": [{"config": "systolic"}]}, "does not exist"),
    ({"traces": [GEMM], "accelerators": [{"config": "no-such-chip"}]}, "unknown config 'no-such-chip'"),
])
def test_bad_specs_raise_spec_errors(doc, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("(", r"\(")):
        expand(doc)


def test_bad_config_fields_and_values_are_caught_before_running():
    with pytest.raises(ConfigError, match="unknown key 'pe_count'"):
        expand(spec(accelerators=[{"config": "systolic", "grid": {"pe_count": [16]}}]))
    with pytest.raises(ConfigError, match="rows"):
        expand(spec(accelerators=[{"config": "systolic", "grid": {"rows": [4, 0]}}]))


def test_cli_bad_spec_is_one_line_and_exit_2(tmp_path, capsys):
    path = write_spec(tmp_path, spec(accelerators=[{"config": "systolic", "grid": {"pe_count": [16]}}]))
    assert cli(["sweep", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("accelsim: error:") and "pe_count" in err and "\n" not in err
    assert not (tmp_path / "out").exists()
    assert cli(["sweep", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "out")]) == 2


# ------------------------------------------------------------------------------- running
def test_api_sweep_returns_one_row_per_layer_with_point_columns():
    df = accelsim.sweep(spec(density={"weight": [0.25, 1.0]}), workers=1)
    assert len(df) == 4 and df["point"].nunique() == 4
    assert list(df.columns[:5]) == ["point", "preset", "weight_density", "act_density", "structure"]
    assert set(df["config"]) == {"systolic[rows=4,cols=4]", "systolic[rows=8,cols=8]"}
    assert sorted(df["pes"].unique()) == [16, 64]
    assert (df["param.rows"] ** 2 == df["pes"]).all()
    assert np.allclose(df["layer_weight_density"], df["weight_density"], atol=1 / 256)
    assert df["functional_ok"].all()
    # a sweep point equals a direct simulate() of the same trace and config
    direct = accelsim.simulate(accelsim.synth(gemm=(16, 16, 16), weight_density=1.0, seed=0),
                               accelsim.load_config("systolic", rows=8, cols=8)).to_frame()
    row = df[(df["weight_density"] == 1.0) & (df["pes"] == 64)].iloc[0]
    for col in ("cycles", "energy_pj", "macs_effectual", "utilization"):
        assert row[col] == direct[col].iloc[0]


def test_file_traces_load_from_their_path(tmp_path):
    trace = accelsim.synth("alexnet", weight_density=0.5, act_density=0.5, seed=1, layers=["fc8"])
    path = trace.save(tmp_path / "fc8.safetensors")
    df = accelsim.sweep({"traces": [{"path": str(path)}], "accelerators": [{"config": "systolic"}]}, workers=1)
    assert list(df["layer"]) == ["fc8"] and df["weight_density"].isna().all()
    assert df["layer_weight_density"].iloc[0] == pytest.approx(0.5, abs=1e-3)
    assert df["trace"].iloc[0] == "fc8"


def test_store_layout_and_resume_runs_nothing_twice(tmp_path):
    out = tmp_path / "res"
    doc = spec(density={"weight": [0.5, 1.0]})
    first = run_sweep(doc, out, workers=1, progress=False)
    assert (first.total, first.already_done, first.ran, first.failures) == (4, 0, 4, [])
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["accelsim_version"] == accelsim.__version__ and len(meta["points"]) == 4
    assert meta["spec"]["density"] == {"weight": [0.5, 1.0]}
    files = sorted(p.name for p in (out / "points").iterdir())
    assert files == sorted(f"{p.id}.parquet" for p in expand(doc))
    assert sorted(p.name for p in (out / "pe").iterdir()) == files
    stamps = {f: (out / "points" / f).stat().st_mtime_ns for f in files}
    again = run_sweep(doc, out, workers=1, progress=False)
    assert (again.already_done, again.ran) == (4, 0)
    assert {f: (out / "points" / f).stat().st_mtime_ns for f in files} == stamps
    pd.testing.assert_frame_equal(first.frame, again.frame)


def test_a_partial_store_runs_only_missing_points_and_ignores_stale_temporaries(tmp_path):
    out = tmp_path / "res"
    doc = spec(density={"weight": [0.5, 1.0]})
    full = run_sweep(doc, out, workers=1, progress=False).frame
    victims = sorted((out / "points").iterdir())[:2]
    for v in victims:
        v.unlink()
    (out / "points" / f".{victims[0].name}.999.tmp").write_bytes(b"half a parquet file")
    res = run_sweep(doc, out, workers=1, progress=False)
    assert (res.already_done, res.ran) == (2, 2)
    assert not list((out / "points").glob(".*.tmp"))
    pd.testing.assert_frame_equal(res.frame, full)


def test_a_different_spec_cannot_reuse_a_results_directory(tmp_path):
    out = tmp_path / "res"
    run_sweep(spec(), out, workers=1, progress=False)
    with pytest.raises(StoreError, match="different sweep"):
        run_sweep(spec(density={"weight": [0.5]}), out, workers=1, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a sweep results directory"):
        run_sweep(spec(), tmp_path / "other", workers=1, progress=False)


FAILING = {"traces": [{"synth": {"gemm": [16, 16, 16], "seed": 0}}], "density": {"weight": [0.5]},
           "accelerators": [{"config": "systolic", "set": {"rows": 4, "cols": 4}},
                            # unstructured weights break the 2:4 pattern: this point raises
                            {"config": "systolic", "set": {"rows": 4, "cols": 4, "sparsity_n": 2, "sparsity_m": 4}},
                            {"config": "systolic", "set": {"rows": 8, "cols": 8}}]}


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    path = write_spec(tmp_path, FAILING)
    out = tmp_path / "res"
    assert cli(["sweep", str(path), "-o", str(out), "-j", "1"]) == 1
    stdout = capsys.readouterr().out
    assert "3 points: 0 already done, 3 run now" in stdout and "1 failed" in stdout
    assert "failed points (1" in stdout and "NotNMSparseError" in stdout and "sparsity_n=2" in stdout
    store = Store(out)
    assert len(store.done_ids()) == 2
    [failure] = store.failures()
    assert failure["point"]["overrides"]["sparsity_n"] == 2
    assert failure["error"].startswith("NotNMSparseError: weights have more than 2 non-zeros")
    assert "Traceback" in failure["traceback"]
    assert set(store.load()["config"]) == {"systolic[rows=4,cols=4]", "systolic[rows=8,cols=8]"}
    # a restart retries only the failed point
    res = run_sweep(path, out, workers=1, progress=False)
    assert (res.already_done, res.ran, len(res.failures)) == (2, 1, 1)
    # `accelsim results` lists it
    assert cli(["results", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "3 points, 2 done, 1 failed, 0 not run" in stdout and "NotNMSparseError" in stdout


def test_api_lists_failures_in_attrs():
    df = accelsim.sweep(FAILING, workers=1)
    assert df["config"].nunique() == 2
    [f] = df.attrs["failures"]
    assert "NotNMSparseError" in f["error"] and "sparsity_m=4" in f["label"]


def test_local_process_pool_matches_in_process_run(tmp_path):
    doc = spec(density={"weight": [0.5, 1.0]})
    serial = accelsim.sweep(doc, tmp_path / "serial", workers=1)
    pooled = run_sweep(doc, tmp_path / "pool", workers=2, progress=False)
    assert pooled.ran == 4 and not pooled.failures
    pd.testing.assert_frame_equal(serial, pooled.frame)


def test_results_command_prints_and_exports(tmp_path, capsys):
    out = tmp_path / "res"
    run_sweep(spec(), out, workers=1, progress=False)
    capsys.readouterr()
    assert cli(["results", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 points, 2 done, 0 failed, 0 not run" in text and "systolic[rows=8,cols=8]" in text
    for suffix in ("parquet", "csv"):
        target = tmp_path / f"table.{suffix}"
        assert cli(["results", str(out), "-o", str(target)]) == 0
        back = pd.read_parquet(target) if suffix == "parquet" else pd.read_csv(target)
        assert len(back) == 2 and {"point", "cycles", "energy_pj", "pes"} <= set(back.columns)
    assert cli(["results", str(tmp_path / "nowhere")]) == 2
    assert cli(["results", str(out), "-o", str(tmp_path / "table.xlsx")]) == 2


def test_pe_store_keeps_busy_cycles_and_grid(tmp_path):
    out = tmp_path / "res"
    run_sweep(spec(), out, workers=1, progress=False)
    pe = Store(out).load_pe()
    assert len(pe) == 2
    for _, row in pe.iterrows():
        assert row["grid_rows"] * row["grid_cols"] == len(row["busy_cycles"])
        assert max(row["busy_cycles"]) <= row["cycles"]
    assert sorted(pe["grid_rows"]) == [4, 8]


def test_pe_grid_prefers_the_chips_own_shape():
    from accelsim.results import LayerResult

    def result(n, extra=None):
        return LayerResult("l", "linear", 10, 10, np.zeros(n), {}, 1, 1, 1, n, extra=extra or {})

    cfg = accelsim.load_config("systolic", rows=4, cols=8)
    assert pe_grid(result(32), cfg) == (4, 8)
    assert pe_grid(result(32, {"pe_grid": (2, 16)}), cfg) == (2, 16)
    assert pe_grid(result(12), cfg) == (1, 12)


def test_accelsim_sweep_is_the_function_and_errors_are_accelsim_errors():
    assert callable(accelsim.sweep) and accelsim.sweep.__module__ == "accelsim.sweep"
    assert issubclass(SpecError, AccelsimError) and issubclass(StoreError, AccelsimError)


def _dies_on_rows_8(payload, single_threaded=False):
    """Stands in for a point that crashes its worker (segfault, OOM kill)."""
    import os

    if payload["overrides"].get("rows") == 8:
        os._exit(3)
    return run_point(payload, single_threaded)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the patched worker function needs fork")
def test_a_point_that_kills_its_worker_fails_alone(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.import_module("accelsim.sweep.executors"), "run_point", _dies_on_rows_8)
    doc = {"traces": [{"synth": {"gemm": [16, 16, 16], "seed": [0, 1, 2]}}],
           "accelerators": [{"config": "systolic", "zip": {"rows": [4, 8], "cols": [4, 8]}}]}
    res = run_sweep(doc, tmp_path / "res", workers=2, progress=False)
    assert res.ran == 6
    assert sorted(res.frame["param.rows"]) == [4, 4, 4]
    assert len(res.failures) == 3 and all("worker process died" in f["error"] for f in res.failures)
    assert all(f["point"]["overrides"]["rows"] == 8 for f in res.failures)


def test_unsupported_layer_kinds_run_partially_are_left_out_or_fail_as_asked(monkeypatch, capsys, tmp_path):
    import dataclasses

    from accelsim.accelerators import registry

    no_linear = dataclasses.replace(registry.ACCELERATORS["systolic"], kinds=("conv2d", "matmul"))
    monkeypatch.setitem(registry.ACCELERATORS, "systolic", no_linear)
    mixed = {"synth": {"network": "googlenet", "layers": ["inception_5a.5x5_reduce", "fc"]}}
    doc = {"traces": [GEMM, mixed], "accelerators": [{"config": "systolic", "set": {"rows": 4, "cols": 4}}]}
    # default `layers`: the chip runs the layers it can, the row says what it left out
    res = run_sweep(doc, None, workers=1, progress=False)
    assert (res.total, res.ran, res.partial, res.skipped, res.failures) == (2, 2, 1, [], [])
    assert list(res.frame["layer"]) == ["gemm", "inception_5a.5x5_reduce"]
    assert list(res.frame["skipped_layers"]) == ["", "fc"]
    # `pair`: the pair is left out
    res = run_sweep({**doc, "unsupported": "pair"}, None, workers=1, progress=False)
    assert (res.total, res.ran, len(res.failures)) == (1, 1, 0)
    [(point, why)] = res.skipped
    assert point.trace["synth"]["network"] == "googlenet" and why == "systolic does not run linear layers"
    # `fail`: it runs and fails
    res = run_sweep({**doc, "unsupported": "fail"}, None, workers=1, progress=False)
    assert (res.total, len(res.failures)) == (2, 1)
    assert "UnsupportedLayerError" in res.failures[0]["error"]
    # a trace with no layer the chip runs is always left out
    only_fc = {"traces": [{"synth": {"network": "googlenet", "layers": ["fc"]}}], "accelerators": doc["accelerators"]}
    assert cli(["sweep", str(write_spec(tmp_path, only_fc)), "-o", str(tmp_path / "out")]) == 2
    assert "no runnable points (1 skipped: systolic does not run linear layers)" in capsys.readouterr().err
    with pytest.raises(SpecError, match="layers, pair or fail"):
        expand({**doc, "unsupported": "skip"})


def test_progress_bar_is_quiet_off_a_terminal_and_shows_counts_when_asked(capsys):
    run_sweep(spec(), None, workers=1)  # pytest's stdout is not a terminal
    assert capsys.readouterr().err == ""
    run_sweep(FAILING, None, workers=1, progress=True)
    err = capsys.readouterr().err
    assert "sweep: 100%" in err and "3/3" in err and "failed=1" in err and "left=0" in err


def test_one_sweep_at_a_time_per_results_directory(tmp_path):
    out = tmp_path / "res"
    with Store(out).locked():
        with pytest.raises(StoreError, match="another sweep is writing"):
            run_sweep(spec(), out, workers=1, progress=False)
    assert run_sweep(spec(), out, workers=1, progress=False).ran == 2  # released with its holder


def _threads_after_a_point(payload):
    import numba

    run_point(payload, single_threaded=True)  # the first point may load more BLAS libraries (scipy's)
    run_point(payload, single_threaded=True)
    blas = []
    try:
        from threadpoolctl import threadpool_info

        blas = [info["num_threads"] for info in threadpool_info()]
    except ImportError:
        pass
    return numba.get_num_threads(), blas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses a fork pool")
def test_parallel_workers_run_one_thread_each():
    import multiprocessing

    payload = expand(spec())[0].to_dict()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        numba_threads, blas_threads = pool.apply(_threads_after_a_point, (payload,))
    assert numba_threads == 1
    assert all(n == 1 for n in blas_threads)
