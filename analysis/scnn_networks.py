"""SCNN vs DCNN / DCNN-opt on AlexNet, GoogLeNet and VGG-16 conv layers (Parashar et al., ISCA 2017, §VI).

Builds each network's conv layers with the synthetic generator (magnitude-pruned He-normal weights,
ReLU-like activations with exact densities), runs SCNN, DCNN, DCNN-opt, SCNN-SparseA and
SCNN-SparseW on the presets (no fitted constant), and prints per network:

* SCNN's speedup and energy ratio over DCNN beside the paper's speedups (AlexNet 2.37x, GoogLeNet
  2.19x, VGGNet 3.52x; targets ±20%) and the paper's 2.3x mean energy improvement (target ±25%);
* the oracle speedup (non-zero products / 1,024 multipliers, the paper's "oracle"), DCNN-opt's
  energy ratio (paper: 2.0x mean), SparseA / SparseW speedups;
* multiplier utilisation (effectual products / (cycles x 1,024)) of the late GoogLeNet 1x1 layers,
  checked against the paper's intra-PE fragmentation observation (< 20%, §VI).

Densities (weight density, input-activation density):

* VGG-16: the per-layer densities of ``shared/reference/scnn.md`` (the zoo's defaults).
* AlexNet weights: Han et al., "Learning both weights and connections", NeurIPS 2015, Table 4
  (conv1 84%, conv2 38%, conv3 35%, conv4 37%, conv5 37%).
* GoogLeNet weights: no per-layer pruning of GoogLeNet is published in the sources SCNN cites; we
  take Han et al. 2015's AlexNet figures as the proxy: 84% for the first conv layer, and for every
  other conv layer the mean of AlexNet conv2-conv5, 37%.
* Activations (AlexNet and GoogLeNet): SCNN §II reports that ReLU zeroes 50-70% of activations; we
  use the midpoint, density 0.40, for every layer whose input follows a ReLU, and 1.0 for the first
  layer (the image).

Usage::

    python analysis/scnn_networks.py                       # all three networks, full size
    python analysis/scnn_networks.py --networks vgg16-conv --layers conv5_1 conv5_2
    python analysis/scnn_networks.py --csv analysis/figures/scnn_networks.csv --figures analysis/figures
    python analysis/scnn_networks.py --trace traces/lenet5-digits.safetensors   # a real pruned trace
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import accelsim
from accelsim.config import parse_overrides
from accelsim.trace.zoo import network_layers

PAPER_SPEEDUP = {"alexnet-conv": 2.37, "googlenet-conv": 2.19, "vgg16-conv": 3.52}
PAPER_ENERGY_MEAN = 2.3          # SCNN vs DCNN, mean over the networks (abstract, §VI)
PAPER_ENERGY_DCNN_OPT = 2.0      # DCNN-opt vs DCNN, mean (§VI)
SPEEDUP_TOL = 0.20
ENERGY_TOL = 0.25
NETWORKS = tuple(PAPER_SPEEDUP)

#: Han et al. NeurIPS 2015, Table 4: AlexNet conv weight densities.
ALEXNET_WEIGHT_DENSITY = {"conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37}
FIRST_LAYER_WEIGHT_DENSITY = 0.84                            # Han 2015 AlexNet conv1 (proxy)
OTHER_WEIGHT_DENSITY = round(np.mean([0.38, 0.35, 0.37, 0.37]), 2)  # Han 2015 AlexNet conv2-5 (proxy)
RELU_ACT_DENSITY = 0.40                                      # SCNN §II: 50-70% zeros -> midpoint

#: chip label -> (preset, overrides)
CHIPS: dict[str, tuple[str, dict]] = {
    "SCNN": ("scnn", {}),
    "DCNN": ("dcnn", {}),
    "DCNN-opt": ("dcnn_opt", {}),
    "SCNN-SparseA": ("scnn", {"sparse_operands": "activations"}),
    "SCNN-SparseW": ("scnn", {"sparse_operands": "weights"}),
}


def densities(network: str, relu_act_density: float = RELU_ACT_DENSITY
              ) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """Per-layer (weight, activation) densities of a network (None: the zoo's defaults)."""
    if network == "vgg16-conv":
        return None, None
    specs = network_layers(network)
    if network == "alexnet-conv":
        wd = dict(ALEXNET_WEIGHT_DENSITY)
    else:
        wd = {s.name: FIRST_LAYER_WEIGHT_DENSITY if i == 0 else OTHER_WEIGHT_DENSITY for i, s in enumerate(specs)}
    ad = {s.name: relu_act_density if s.relu_input else 1.0 for s in specs}
    return wd, ad


def build_trace(network: str, layers: list[str] | None = None, seed: int = 0,
                relu_act_density: float = RELU_ACT_DENSITY) -> accelsim.Trace:
    wd, ad = densities(network, relu_act_density)
    if layers:
        wd = {k: v for k, v in wd.items() if k in layers} if wd else None
        ad = {k: v for k, v in ad.items() if k in layers} if ad else None
    return accelsim.synth(network, weight_density=wd, act_density=ad, layers=layers, seed=seed)


def run(network: str, layers: list[str] | None = None, seed: int = 0,
        chips: dict[str, tuple[str, dict]] | None = None, relu_act_density: float = RELU_ACT_DENSITY,
        overrides: dict | None = None) -> pd.DataFrame:
    """Result rows of every chip on the network's conv layers, with a ``chip`` and ``network`` column.

    ``overrides`` are applied to the SCNN configs (e.g. ``{"acc_queue": 1}``)."""
    trace = build_trace(network, layers, seed, relu_act_density)
    frames = []
    for label, (preset, over) in (chips or CHIPS).items():
        extra = overrides if (overrides and preset == "scnn") else {}
        cfg = accelsim.load_config(preset, **over, **extra)
        df = accelsim.simulate(trace, cfg).to_frame()
        df["chip"] = label
        df["network"] = network
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def run_trace(path: Path, chips: dict[str, tuple[str, dict]] | None = None) -> pd.DataFrame:
    """Every chip on the conv layers of a real trace file (e.g. the shipped pruned LeNet-5)."""
    trace = accelsim.load_trace(path)
    convs = [i.name for i in trace.infos if i.kind == "conv2d"]
    trace = trace.select(convs)
    frames = []
    for label, (preset, over) in (chips or CHIPS).items():
        df = accelsim.simulate(trace, accelsim.load_config(preset, **over)).to_frame()
        df["chip"] = label
        df["network"] = Path(path).stem
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def trace_report(df: pd.DataFrame) -> str:
    """Per layer and chip: cycles, speedup and energy ratio over DCNN, utilisation and stalls."""
    cols = ["layer", "chip", "cycles", "speedup", "energy_ratio", "mult_util", "macs_effectual", "macs_dense",
            "fragmentation_frac", "conflict_frac", "barrier_frac", "functional_ok"]
    df = df.copy()
    base = df[df.chip == "DCNN"].set_index("layer")
    df["speedup"] = base.loc[df.layer, "cycles"].to_numpy() / df.cycles
    df["energy_ratio"] = base.loc[df.layer, "energy_pj"].to_numpy() / df.energy_pj
    lines = [df[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    comps = [c for c in df.columns if c.startswith("energy_pj.")]
    energy = df.groupby("chip")[comps].sum()
    energy = (energy.T / energy.sum(axis=1)).T
    lines.append("energy share by component:")
    lines.append(energy.rename(columns=lambda c: c.removeprefix("energy_pj.")).to_string(
        float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per network: speedups and energy ratios over DCNN, the oracle, and the paper's figures."""
    rows = []
    for net, g in df.groupby("network", sort=False):
        tot = g.groupby("chip")[["cycles", "energy_pj"]].sum()
        dcnn = tot.loc["DCNN"]
        scnn_rows = g[g.chip == "SCNN"]
        row = {"network": net, "layers": int(scnn_rows.shape[0])}
        for chip in tot.index:
            if chip == "DCNN":
                continue
            row[f"speedup.{chip}"] = dcnn.cycles / tot.loc[chip, "cycles"]
            row[f"energy_ratio.{chip}"] = dcnn.energy_pj / tot.loc[chip, "energy_pj"]
        row["speedup.oracle"] = dcnn.cycles / scnn_rows["oracle_cycles"].sum()
        row["mult_util.SCNN"] = (scnn_rows["macs_effectual"].sum()
                                 / (scnn_rows["cycles"].sum() * 1024))
        paper = PAPER_SPEEDUP.get(net)
        row["paper_speedup"] = paper
        row["speedup_error"] = row["speedup.SCNN"] / paper - 1 if paper else np.nan
        row["functional_ok"] = bool(g["functional_ok"].all())
        rows.append(row)
    return pd.DataFrame(rows).set_index("network")


def late_googlenet_1x1(df: pd.DataFrame) -> pd.DataFrame:
    """Multiplier utilisation of GoogLeNet's inception_4e/5a/5b 1x1 layers (incl. reduces, pool proj)."""
    g = df[(df.network == "googlenet-conv") & (df.chip == "SCNN")]
    late = g[g.layer.str.contains(r"inception_(?:4e|5a|5b)\.(?:1x1|3x3_reduce|5x5_reduce|pool_proj)$")]
    return late[["layer", "mult_util", "slot_util", "fragmentation_frac", "kc_max", "barrier_frac"]]


def report(summary: pd.DataFrame) -> str:
    lines = ["network          SCNN speedup  paper  error   SCNN energy  DCNN-opt energy  oracle  "
             "SparseA  SparseW  util  func"]
    for net, r in summary.iterrows():
        paper = f"{r.paper_speedup:5.2f}" if r.paper_speedup else "    -"
        err = f"{r.speedup_error:+6.1%}" if r.paper_speedup else "     -"
        lines.append(f"{net:16s} {r['speedup.SCNN']:11.2f}x {paper}x {err}  {r['energy_ratio.SCNN']:10.2f}x "
                     f"{r.get('energy_ratio.DCNN-opt', np.nan):14.2f}x {r['speedup.oracle']:6.2f}x "
                     f"{r.get('speedup.SCNN-SparseA', np.nan):7.2f}x {r.get('speedup.SCNN-SparseW', np.nan):7.2f}x "
                     f"{r['mult_util.SCNN']:5.2f}  {r.functional_ok}")
    if set(NETWORKS) <= set(summary.index):
        e = summary["energy_ratio.SCNN"].mean()
        o = summary["energy_ratio.DCNN-opt"].mean()
        lines.append(f"mean energy ratio SCNN/DCNN {e:.2f}x (paper {PAPER_ENERGY_MEAN}x, "
                     f"error {e / PAPER_ENERGY_MEAN - 1:+.1%}); DCNN-opt {o:.2f}x "
                     f"(paper {PAPER_ENERGY_DCNN_OPT}x, error {o / PAPER_ENERGY_DCNN_OPT - 1:+.1%})")
        s = np.mean([summary.loc[n, "speedup.SCNN"] for n in NETWORKS])
        lines.append(f"mean speedup {s:.2f}x (paper 2.7x)")
    return "\n".join(lines)


def within_targets(summary: pd.DataFrame) -> list[str]:
    """Failures against the paper's targets (empty list: all within tolerance)."""
    bad = []
    for net in NETWORKS:
        if net in summary.index and abs(summary.loc[net, "speedup_error"]) > SPEEDUP_TOL:
            bad.append(f"{net}: speedup error {summary.loc[net, 'speedup_error']:+.1%} beyond ±{SPEEDUP_TOL:.0%}")
    if set(NETWORKS) <= set(summary.index):
        err = summary["energy_ratio.SCNN"].mean() / PAPER_ENERGY_MEAN - 1
        if abs(err) > ENERGY_TOL:
            bad.append(f"mean energy ratio error {err:+.1%} beyond ±{ENERGY_TOL:.0%}")
    return bad


def plot(df: pd.DataFrame, outdir: Path) -> list[Path]:
    """Speedup per layer and energy breakdown per component (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    nets = [n for n in NETWORKS if n in set(df.network)]
    fig, axes = plt.subplots(len(nets), 1, figsize=(14, 3.6 * len(nets)), squeeze=False)
    for ax, net in zip(axes[:, 0], nets, strict=True):
        g = df[df.network == net]
        piv = g.pivot_table(index="layer", columns="chip", values="cycles", sort=False)
        order = [l for l in g[g.chip == "DCNN"].layer]
        piv = piv.loc[order]
        oracle = g[g.chip == "SCNN"].set_index("layer").loc[order, "oracle_cycles"]
        x = np.arange(len(order))
        series = [("SCNN", piv["DCNN"] / piv["SCNN"]), ("SCNN-SparseA", piv["DCNN"] / piv["SCNN-SparseA"]),
                  ("SCNN-SparseW", piv["DCNN"] / piv["SCNN-SparseW"]), ("oracle", piv["DCNN"] / oracle)]
        width = 0.2
        for i, (label, vals) in enumerate(series):
            ax.bar(x + (i - 1.5) * width, vals.values, width, label=label)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(x, order, rotation=90 if len(order) > 13 else 45, fontsize=6 if len(order) > 13 else 8)
        ax.set_ylabel("speedup over DCNN")
        ax.set_yscale("log")
        ax.set_title(f"{net}: per-layer speedup over DCNN (paper network mean {PAPER_SPEEDUP[net]}x)")
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    p = outdir / "scnn_speedup_per_layer.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    comps = sorted(c for c in df.columns if c.startswith("energy_pj."))
    chips = [c for c in ("DCNN", "DCNN-opt", "SCNN", "SCNN-SparseA", "SCNN-SparseW") if c in set(df.chip)]
    fig, axes = plt.subplots(1, len(nets), figsize=(5 * len(nets) + 1.6, 4.5), squeeze=False)
    handles = {}
    for ax, net in zip(axes[0], nets, strict=True):
        g = df[df.network == net].groupby("chip")[comps].sum().loc[chips]
        g = g / g.loc["DCNN"].sum()
        bottom = np.zeros(len(chips))
        for c in comps:
            vals = g[c].values
            if vals.max() <= 0:
                continue
            handles[c] = ax.bar(chips, vals, bottom=bottom, color=f"C{comps.index(c) % 10}")
            bottom += vals
        ax.set_title(f"{net}: energy by component (DCNN = 1)")
        ax.set_ylabel("energy / DCNN energy")
        ax.tick_params(axis="x", rotation=30)
    fig.legend(list(handles.values()), [c.removeprefix("energy_pj.") for c in handles], fontsize=8,
               loc="center right")
    fig.tight_layout(rect=(0, 0, 1 - 1.4 / fig.get_figwidth(), 1))
    p = outdir / "scnn_energy_breakdown.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=NETWORKS)
    ap.add_argument("--layers", nargs="+", default=None, help="only these layer names (reduced set)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv", type=Path, default=None, help="write every result row here")
    ap.add_argument("--figures", type=Path, default=None, help="write the PNG figures into this folder")
    ap.add_argument("--check", action="store_true", help="exit 1 if a paper target is missed")
    ap.add_argument("--relu-act-density", type=float, default=RELU_ACT_DENSITY,
                    help="AlexNet/GoogLeNet activation density after a ReLU (sensitivity study)")
    ap.add_argument("--scnn", nargs="*", default=[], metavar="KEY=VALUE",
                    help="SCNN config overrides (sensitivity study), e.g. acc_queue=1")
    ap.add_argument("--trace", type=Path, default=None,
                    help="instead: run this trace file's conv layers (e.g. traces/lenet5-digits.safetensors)")
    args = ap.parse_args(argv)
    if args.trace:
        print(trace_report(run_trace(args.trace)))
        return 0
    frames = []
    for net in args.networks:
        names = [s.name for s in network_layers(net)]
        layers = [n for n in names if n in args.layers] if args.layers else None
        if args.layers and not layers:
            continue
        t = time.time()
        frames.append(run(net, layers, args.seed, relu_act_density=args.relu_act_density,
                          overrides=parse_overrides(args.scnn)))
        print(f"# {net}: {len(layers or names)} layers simulated on {len(CHIPS)} chips in {time.time() - t:.0f} s",
              file=sys.stderr)
    df = pd.concat(frames, ignore_index=True)
    summary = summarize(df)
    print(report(summary))
    if "googlenet-conv" in set(df.network):
        late = late_googlenet_1x1(df)
        if not late.empty:
            print("\nlate GoogLeNet 1x1 layers (paper §VI: multiplier utilisation < 20%):")
            print(late.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.csv, index=False)
    if args.figures:
        for p in plot(df, args.figures):
            print(f"wrote {p}", file=sys.stderr)
    bad = within_targets(summary)
    for b in bad:
        print(f"MISS {b}")
    return 1 if (args.check and bad) else 0


if __name__ == "__main__":
    raise SystemExit(main())
