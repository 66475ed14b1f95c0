"""Every plot kind draws a non-empty image from a small results table, with labels, units and legends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accelsim
from accelsim import plot
from accelsim.cli import main as cli
from accelsim.plot import PlotError, pareto_front
from accelsim.sweep import Store, run_sweep

SPEC = {"traces": [{"synth": {"network": "googlenet", "layers": ["inception_5a.5x5_reduce", "fc"], "seed": 0}}],
        "density": {"weight": [0.01, 0.1, 1.0], "act": [1.0]},
        "accelerators": [{"config": "systolic", "zip": {"rows": [4, 8, 16], "cols": [4, 8, 16]}}]}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("plot") / "res"
    run_sweep(SPEC, out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def table(results):
    """The real systolic table plus a made-up sparse chip whose time and energy follow weight density,
    so the table spans decades and holds two accelerators, as it will once more chips land."""
    df = Store(results).load()
    fake = df.copy()
    fake["accelerator"] = fake["preset"] = "sparsechip"
    fake["config"] = fake["config"].str.replace("systolic", "sparsechip")
    fake["point"] = "x" + fake["point"].str[1:]
    for col in ["cycles", "time_s", "energy_pj"] + [c for c in df.columns if c.startswith("energy_pj.")]:
        fake[col] = fake[col] * fake["weight_density"]
    fake["cycles"] = fake["cycles"].round().astype("int64")
    return pd.concat([df, fake], ignore_index=True)


def _check_png(path):
    from matplotlib.image import imread

    assert path.stat().st_size > 5000
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    assert img[..., :3].std() > 0.02, "blank image"


def _legend_texts(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return [t.get_text() for legend in legends for t in legend.get_texts()]


@pytest.mark.parametrize("kind", [k for k in plot.KINDS if k != "load-heatmap"])
def test_every_kind_from_the_api_gives_a_non_empty_png(kind, table, tmp_path):
    fig = plot.KINDS[kind](table)
    path = plot.save(fig, tmp_path / f"{kind}.png")
    _check_png(path)
    assert fig._suptitle is not None and fig._suptitle.get_text()
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert all(ax.get_ylabel() for ax in axes)
    assert _legend_texts(fig)


def test_load_heatmap_2d_grid_and_1d_bars(results, tmp_path):
    pe = Store(results).load_pe()
    df = Store(results).load()
    fig = plot.load_heatmap(pe, point=pe["point"].iloc[-1], results=df)
    _check_png(plot.save(fig, tmp_path / "heat.png"))
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape == (16, 16)
    assert 0 <= image.min() and image.max() <= 1
    assert "systolic[rows=16,cols=16]" in fig._suptitle.get_text()
    # a 1-D chip (e.g. EIE's PE row) draws one bar per PE
    one_d = pd.DataFrame([{"point": "p", "layer": "l", "cycles": 100, "grid_rows": 1, "grid_cols": 8,
                           "busy_cycles": [100, 90, 50, 20, 100, 80, 10, 60]}])
    fig = plot.load_heatmap(one_d)
    _check_png(plot.save(fig, tmp_path / "bars.png"))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([1.0, 0.9, 0.5, 0.2, 1.0, 0.8, 0.1, 0.6])
    assert "load balance (mean/max busy) 0.637" in fig._suptitle.get_text()


def test_heatmap_of_a_run_result():
    cfg = accelsim.load_config("systolic", rows=4, cols=8)
    run = accelsim.simulate(accelsim.synth(gemm=(10, 6, 16), seed=0), cfg)
    fig = plot.load_heatmap(plot.pe_frame(run, cfg))
    frac = fig.axes[0].get_images()[0].get_array()
    assert frac.shape == (4, 8)
    busy = run.layers[0].result.pe_busy_cycles.reshape(4, 8) / run.layers[0].result.cycles
    assert np.allclose(frac, busy)


def test_density_plot_lines_units_and_log_scales(table):
    fig = plot.latency_vs_density(table)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "weight density (fraction non-zero)"
    assert ax.get_ylabel().startswith("latency per inference (") and ax.get_ylabel().endswith("s)")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # 0.01..1 and the fake chip's 100x range
    assert len(ax.get_lines()) == 6  # 3 systolic sizes + 3 sparsechip sizes
    labels = _legend_texts(fig)
    assert "systolic[rows=4,cols=4]" in labels and "sparsechip[rows=16,cols=16]" in labels
    # the dense array's latency does not depend on density; the fake chip's falls with it
    dense = ax.get_lines()[0].get_ydata()
    assert np.ptp(dense) == 0
    sparse = ax.get_lines()[3].get_ydata()
    assert sparse[0] < sparse[-1]
    fig = plot.energy_vs_density(table[table["accelerator"] == "systolic"])
    assert fig.axes[0].get_ylabel().startswith("energy per inference (")
    assert fig.axes[0].get_yscale() == "linear"


def test_scaling_speedup_starts_at_one_and_has_an_ideal_line(table):
    fig = plot.scaling(table[table["weight_density"] == 1.0])
    ax_s, ax_u = fig.axes[:2]
    labelled = [ln for ln in ax_s.get_lines() if not ln.get_label().startswith("_")]
    series = [ln for ln in labelled if not ln.get_label().startswith("ideal")]
    assert len(series) == 2  # systolic and sparsechip at wd = 1
    for ln in series:
        assert list(ln.get_xdata()) == [16, 64, 256]
        assert ln.get_ydata()[0] == pytest.approx(1.0) and ln.get_ydata()[-1] > 1
    ideals = [ln for ln in ax_s.get_lines() if ln.get_linestyle() == ":" and len(ln.get_xdata()) == 2]
    assert len(ideals) == 2 and all(list(ln.get_ydata()) == [1, 16] for ln in ideals)
    assert ax_s.get_xscale() == "log"
    assert "%" in ax_u.get_ylabel()
    assert all(0 < v <= 100 for ln in ax_u.get_lines() for v in ln.get_ydata())


def test_scaling_needs_two_pe_counts(table):
    with pytest.raises(PlotError, match="at least two PE counts"):
        plot.scaling(table[table["pes"] == 64])


def test_pareto_front_is_the_non_dominated_set():
    lat = [1, 2, 3, 4, 2, 5]
    en = [5, 3, 4, 1, 6, 1]
    assert list(pareto_front(lat, en)) == [True, True, False, True, False, False]
    rng = np.random.default_rng(0)
    lat, en = rng.random(200), rng.random(200)
    front = pareto_front(lat, en)
    for i in range(200):
        dominated = np.any((lat <= lat[i]) & (en <= en[i]) & ((lat < lat[i]) | (en < en[i])))
        assert front[i] == (not dominated)


def test_energy_breakdown_by_layer_sums_to_the_total(table):
    one = table[table["config"] == "systolic[rows=8,cols=8]"]
    fig = plot.energy_breakdown(one, by="layer")
    ax = fig.axes[0]
    first = one.iloc[:2]
    tops = {}
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0), bar.get_y() + bar.get_height())
    unit = ax.get_ylabel().split("(")[1].rstrip(")")
    scale = dict((u, s) for s, u in plot.ENERGY_UNITS)[unit]
    assert [tops[0] * scale, tops[1] * scale] == pytest.approx(list(first["energy_pj"]))
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["inception_5a.5x5_reduce", "fc"]


def test_speedup_against_a_baseline(table):
    fig = plot.speedup(table, baseline="systolic[rows=4,cols=4]")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["inception_5a.5x5_reduce", "fc", "total"]
    assert "baseline: systolic[rows=4,cols=4]" in _legend_texts(fig)
    with pytest.raises(PlotError, match="baseline 'nope'"):
        plot.speedup(table, baseline="nope")


@pytest.mark.parametrize("kind", list(plot.KINDS))
def test_plot_cli_writes_png_and_svg(kind, results, tmp_path, capsys):
    for suffix in ("png", "svg") if kind in ("pareto", "load-heatmap") else ("png",):
        out = tmp_path / f"{kind}.{suffix}"
        assert cli(["plot", str(results), "-k", kind, "-o", str(out), "--where", "act_density=1.0"]) == 0
        assert out.stat().st_size > 3000
        if suffix == "png":
            _check_png(out)
        else:
            assert out.read_text().lstrip().startswith("<?xml")
    assert "wrote" in capsys.readouterr().out


def test_plot_cli_errors_are_one_line(results, tmp_path, capsys):
    assert cli(["plot", str(results), "-k", "pareto", "-o", str(tmp_path / "x.pdf")]) == 2
    assert cli(["plot", str(results), "-k", "pareto", "-o", str(tmp_path / "x.png"), "--where", "nope=1"]) == 2
    assert cli(["plot", str(results), "-k", "pareto", "-o", str(tmp_path / "x.png"), "--where", "trace=vgg"]) == 2
    assert cli(["plot", str(tmp_path / "missing"), "-k", "pareto", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("accelsim: error:") for line in err)
