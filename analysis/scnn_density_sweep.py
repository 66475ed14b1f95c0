"""SCNN vs DCNN / DCNN-opt as weight and activation density fall together (Parashar et al., ISCA 2017, §VI).

GoogLeNet's conv layers, built by the synthetic generator with the same density d for the weights
and the input activations of every layer (d = 0.1 ... 1.0), run on the ``scnn``, ``dcnn`` and
``dcnn_opt`` presets. Prints, per density, latency and energy normalised to DCNN, and the
densities where SCNN stops beating DCNN in performance and in energy, and DCNN-opt in energy
(linear interpolation between sweep points), beside the paper's: performance crossover ~0.85,
energy crossover vs DCNN ~0.83 and vs DCNN-opt ~0.6; at 1.0/1.0 SCNN reaches 79% of DCNN's
performance and spends 33% more energy; at 0.1/0.1 it is 24x faster and spends 6% of DCNN's
energy. Saves ``scnn_density_sweep.png`` (latency and energy vs density).

Usage::

    python analysis/scnn_density_sweep.py [--densities 0.1 0.2 ...] [--csv out.csv] [--figures analysis/figures]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import accelsim

NETWORK = "googlenet-conv"
CHIPS = {"SCNN": "scnn", "DCNN": "dcnn", "DCNN-opt": "dcnn_opt"}
DEFAULT_DENSITIES = tuple(round(0.1 * i, 1) for i in range(1, 11))
PAPER = {"perf_crossover": 0.85, "energy_crossover_dcnn": 0.83, "energy_crossover_dcnn_opt": 0.6,
         "perf_at_1.0": 0.79, "energy_at_1.0": 1.33, "speedup_at_0.1": 24.0, "energy_at_0.1": 0.06}


def sweep(densities=DEFAULT_DENSITIES, layers: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Totals per (density, chip): cycles, energy, products issued and effectual."""
    rows = []
    for d in densities:
        trace = accelsim.synth(NETWORK, weight_density=d, act_density=d, layers=layers, seed=seed)
        for label, preset in CHIPS.items():
            df = accelsim.simulate(trace, accelsim.load_config(preset)).to_frame()
            rows.append({"density": d, "chip": label, "cycles": int(df.cycles.sum()),
                         "energy_pj": float(df.energy_pj.sum()), "macs_issued": int(df.macs_issued.sum()),
                         "macs_effectual": int(df.macs_effectual.sum()),
                         "functional_ok": bool(df.functional_ok.all())})
    return pd.DataFrame(rows)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Per density: each chip's latency and energy relative to DCNN."""
    piv = df.pivot(index="density", columns="chip", values=["cycles", "energy_pj"])
    out = pd.DataFrame(index=piv.index)
    for chip in CHIPS:
        out[f"latency.{chip}"] = piv["cycles"][chip] / piv["cycles"]["DCNN"]
        out[f"energy.{chip}"] = piv["energy_pj"][chip] / piv["energy_pj"]["DCNN"]
    return out


def crossover(x: np.ndarray, y: np.ndarray) -> float | None:
    """Smallest x where y (ratio SCNN / baseline) climbs through 1, linearly interpolated."""
    for i in range(len(x) - 1):
        if y[i] < 1.0 <= y[i + 1]:
            return float(x[i] + (1.0 - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))
    return None


def crossovers(norm: pd.DataFrame) -> dict[str, float | None]:
    x = norm.index.to_numpy(dtype=float)
    return {
        "perf_crossover": crossover(x, norm["latency.SCNN"].to_numpy()),
        "energy_crossover_dcnn": crossover(x, norm["energy.SCNN"].to_numpy()),
        "energy_crossover_dcnn_opt": crossover(x, (norm["energy.SCNN"] / norm["energy.DCNN-opt"]).to_numpy()),
    }


def plot(norm: pd.DataFrame, cross: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = norm.index.to_numpy(dtype=float)
    for chip, style in (("DCNN", "k-"), ("DCNN-opt", "C1--"), ("SCNN", "C0-o")):
        a.plot(x, norm[f"latency.{chip}"], style, label=chip)
        b.plot(x, norm[f"energy.{chip}"], style, label=chip)
    notes = {a: [("perf_crossover", "vs DCNN", "C0")],
             b: [("energy_crossover_dcnn", "vs DCNN", "C0"), ("energy_crossover_dcnn_opt", "vs DCNN-opt", "C1")]}
    for ax, title in ((a, "latency"), (b, "energy")):
        ax.set_xlabel("weight and activation density")
        ax.set_ylabel(f"{title} / DCNN {title}")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        text = []
        for key, what, color in notes[ax]:
            if cross.get(key):
                ax.axvline(cross[key], color=color, lw=0.8, ls=":")
                text.append(f"SCNN crossover {what}: {cross[key]:.2f} (paper ~{PAPER[key]})")
        ax.text(0.03, 0.97, "\n".join(text), transform=ax.transAxes, va="top", fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8})
        ax.legend(fontsize=8, loc="lower right")
    a.set_title(f"{NETWORK}: latency vs density")
    b.set_title(f"{NETWORK}: energy vs density")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(norm: pd.DataFrame, cross: dict) -> str:
    lines = ["density  SCNN latency  DCNN-opt latency  SCNN energy  DCNN-opt energy   (all / DCNN)"]
    for d, r in norm.iterrows():
        lines.append(f"{d:7.2f}  {r['latency.SCNN']:12.3f}  {r['latency.DCNN-opt']:16.3f}  "
                     f"{r['energy.SCNN']:11.3f}  {r['energy.DCNN-opt']:15.3f}")

    def fmt(v):
        return "none in range" if v is None else f"{v:.2f}"

    lines.append(f"performance crossover (SCNN = DCNN latency): {fmt(cross['perf_crossover'])} "
                 f"(paper ~{PAPER['perf_crossover']})")
    lines.append(f"energy crossover vs DCNN: {fmt(cross['energy_crossover_dcnn'])} "
                 f"(paper ~{PAPER['energy_crossover_dcnn']})")
    lines.append(f"energy crossover vs DCNN-opt: {fmt(cross['energy_crossover_dcnn_opt'])} "
                 f"(paper ~{PAPER['energy_crossover_dcnn_opt']})")
    if 1.0 in norm.index:
        r = norm.loc[1.0]
        lines.append(f"at 1.0/1.0: SCNN performance {1 / r['latency.SCNN']:.0%} of DCNN (paper 79%), "
                     f"energy {r['energy.SCNN']:.2f}x DCNN (paper 1.33x)")
    if 0.1 in norm.index:
        r = norm.loc[0.1]
        lines.append(f"at 0.1/0.1: SCNN {1 / r['latency.SCNN']:.1f}x faster (paper 24x), "
                     f"energy {r['energy.SCNN']:.1%} of DCNN (paper 6%)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--densities", nargs="+", type=float, default=list(DEFAULT_DENSITIES))
    ap.add_argument("--layers", nargs="+", default=None, help="only these GoogLeNet layers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv", type=Path, default=None)
    ap.add_argument("--figures", type=Path, default=None)
    args = ap.parse_args(argv)
    t = time.time()
    df = sweep(sorted(args.densities), args.layers, args.seed)
    print(f"# {len(args.densities)} densities x {len(CHIPS)} chips in {time.time() - t:.0f} s", file=sys.stderr)
    norm = normalise(df)
    cross = crossovers(norm)
    print(report(norm, cross))
    print(f"functional check: {'all ok' if df.functional_ok.all() else 'FAILED'}")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.csv, index=False)
    if args.figures:
        print(f"wrote {plot(norm, cross, args.figures / 'scnn_density_sweep.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
