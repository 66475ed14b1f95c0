"""EIE design-space sweeps (Han et al., ISCA 2016, §VI-B): activation queue depth and PE count.

On the nine benchmark layers of Table III (``accelsim.synth("eie")``):

1. **FIFO depth** 1..256 (powers of two) at 64 PEs: load efficiency per layer, the paper's Fig. 8
   metric, 1 - bubble cycles / total PE-cycles = busy PE-cycles / (PEs x cycles). The paper: about
   half the cycles idle at depth 1, flat gains above 8, NT-We the worst.
2. **PE count** 1..256 (powers of two) at depth 8: speedup over one PE (near-linear except NT-We
   in the paper), real work / total work = 1 - padding share (improves with more PEs), and load
   efficiency (worsens with more PEs). Headline: 256 PEs = 3.25x the throughput of 64.
   Run twice: ``regfile=64``, the chip as built (64-entry activation register files per PE, so
   fewer PEs mean more, shorter batches whose slices restart the relative index every 64 rows),
   and ``regfile=whole``, register files sized to hold the whole vectors (one batch, each PE's
   slice spans all its rows). The paper's padding trend below 64 PEs needs the latter.

Weights are encoded once per (layer, PE count) with :func:`map_layer` and re-used across depths.
Writes ``analysis/figures/eie_fifo_depth.{csv,png}`` and ``analysis/figures/eie_pe_scaling.{csv,png}``.

Usage: ``python analysis/eie_sweeps.py [--seed 0] [--out analysis/figures]``
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import accelsim  # noqa: E402
from accelsim.accelerators.eie import map_layer, simulate_mapped  # noqa: E402

DEPTHS = tuple(2 ** i for i in range(9))      # 1..256
#: one marker and line style per benchmark layer, so that overlapping curves stay legible
STYLES = {"Alex-6": ("o", "-"), "Alex-7": ("s", "--"), "Alex-8": ("^", "-"), "VGG-6": ("v", "-"),
          "VGG-7": ("D", "--"), "VGG-8": ("<", "-"), "NT-We": (">", "-"), "NT-Wd": ("x", "-"),
          "NT-LSTM": ("+", "-")}
PE_COUNTS = tuple(2 ** i for i in range(9))   # 1..256
log = logging.getLogger("eie_sweeps")


def fifo_sweep(trace, depths=DEPTHS, pe_count: int = 64) -> pd.DataFrame:
    rows = []
    base = accelsim.load_config("eie", pe_count=pe_count)
    for layer in trace:
        mapping = map_layer(layer, base)
        for d in depths:
            cfg = accelsim.load_config("eie", pe_count=pe_count, queue_depth=d)
            r = simulate_mapped(layer, cfg, mapping)
            rows.append({"layer": layer.name, "queue_depth": d, "cycles": r.cycles,
                         "load_efficiency": r.extra["load_efficiency"],
                         "starved": r.stall_cycles.get("pe_starved", 0) / (pe_count * r.cycles),
                         "broadcast_wait": r.stall_cycles.get("pe_broadcast_wait", 0) / (pe_count * r.cycles),
                         "drain": r.stall_cycles.get("pe_drain", 0) / (pe_count * r.cycles)})
        log.info("fifo sweep: %s done", layer.name)
    return pd.DataFrame(rows)


def pe_sweep(trace, pe_counts=PE_COUNTS, queue_depth: int = 8, whole_vector: bool = False) -> pd.DataFrame:
    rows = []
    for layer in trace:
        for n in pe_counts:
            over = {"pe_count": n, "queue_depth": queue_depth}
            if whole_vector:
                over["act_regfile_entries"] = -(-max(layer.weight.shape) // n)
            cfg = accelsim.load_config("eie", **over)
            r = simulate_mapped(layer, cfg, map_layer(layer, cfg))
            rows.append({"layer": layer.name, "regfile": "whole" if whole_vector else "64", "pe_count": n,
                         "cycles": r.cycles,
                         "real_work_ratio": r.extra["real_work_ratio"],
                         "padding_share": r.extra["padding_share"],
                         "load_efficiency": r.extra["load_efficiency"],
                         "load_balance": r.load_balance, "phases": r.extra["phases"]})
        log.info("PE sweep (%s register files): %s done", "whole-vector" if whole_vector else "64-entry",
                 layer.name)
    df = pd.DataFrame(rows)
    one = df[df.pe_count == 1].set_index("layer")["cycles"]
    df["speedup"] = df["layer"].map(one) / df["cycles"]
    return df


def plot_fifo(df: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, g in df.groupby("layer", sort=False):
        marker, ls = STYLES.get(name, ("o", "-"))
        ax.plot(g.queue_depth, g.load_efficiency * 100, marker=marker, ls=ls, ms=4, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(DEPTHS, [str(d) for d in DEPTHS])
    ax.set_xlabel("activation queue depth (entries per PE)")
    ax.set_ylabel("load efficiency (%)  = busy / (PEs x cycles)")
    ax.set_ylim(0, 100)
    ax.axvline(8, color="grey", ls=":", lw=1)
    ax.set_title("EIE, 64 PEs: load efficiency vs FIFO depth (cf. paper Fig. 8)")
    ax.grid(alpha=0.3)
    ax.legend(ncol=3, fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_pe(df: pd.DataFrame, path: Path) -> None:
    modes = [("64", "64-entry register files (the chip)"), ("whole", "register files hold the whole vector")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), sharex=True)
    for row, (mode, title) in enumerate(modes):
        sub = df[df.regfile == mode]
        for name, g in sub.groupby("layer", sort=False):
            marker, ls = STYLES.get(name, ("o", "-"))
            style = {"marker": marker, "ls": ls, "ms": 4, "label": name}
            axes[row, 0].plot(g.pe_count, g.speedup, **style)
            axes[row, 1].plot(g.pe_count, g.real_work_ratio * 100, **style)
            axes[row, 2].plot(g.pe_count, g.load_efficiency * 100, **style)
        axes[row, 0].plot(PE_COUNTS, PE_COUNTS, color="black", ls="--", lw=1, label="linear")
        axes[row, 0].set_yscale("log", base=2)
        axes[row, 0].set_ylabel("speedup over 1 PE")
        axes[row, 0].set_title(f"speedup vs PEs (cf. Fig. 9)\n{title}", fontsize=10)
        axes[row, 1].set_ylabel("real work / total work (%)")
        axes[row, 1].set_title(f"real work ratio, padding (cf. Fig. 10)\n{title}", fontsize=10)
        axes[row, 2].set_ylabel("load efficiency (%)")
        axes[row, 2].set_title(f"load efficiency, depth 8 (cf. Fig. 11)\n{title}", fontsize=10)
        axes[row, 1].set_ylim(40, 102)
        axes[row, 2].set_ylim(40, 102)
        axes[row, 0].legend(ncol=2, fontsize=7, loc="upper left")
    for ax in axes.ravel():
        ax.set_xscale("log", base=2)
        ax.set_xticks(PE_COUNTS, [str(n) for n in PE_COUNTS])
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("PEs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summarize(fifo: pd.DataFrame, pes: pd.DataFrame) -> str:
    out = []
    order = list(fifo.layer.unique())
    le = fifo.pivot(index="layer", columns="queue_depth", values="load_efficiency").loc[order]
    out.append("Load efficiency (%) vs FIFO depth, 64 PEs:")
    out.append((le * 100).round(1).to_string())
    out.append("mean over layers: " + ", ".join(f"d{d}={le[d].mean():.1%}" for d in le.columns))
    for mode, title in (("64", "64-entry register files (the chip)"), ("whole", "whole-vector register files")):
        sub = pes[pes.regfile == mode]
        for col, label, scale, digits in (("speedup", "Speedup over 1 PE", 1, 2),
                                          ("real_work_ratio", "Real work / total work (%)", 100, 1),
                                          ("load_efficiency", "Load efficiency (%)", 100, 1)):
            tab = sub.pivot(index="layer", columns="pe_count", values=col).loc[order]
            out.append(f"\n{label}, depth 8, {title}:")
            out.append((tab * scale).round(digits).to_string())
        cyc = sub.pivot(index="layer", columns="pe_count", values="cycles").loc[order]
        if 64 in cyc and 256 in cyc:
            ratio = cyc[64] / cyc[256]
            out.append(f"256 vs 64 PEs throughput ({title}): "
                       + ", ".join(f"{k} {v:.2f}" for k, v in ratio.items())
                       + f"; geometric mean {float(np.exp(np.log(ratio).mean())):.2f}, all nine layers' total time "
                       f"{cyc[64].sum() / cyc[256].sum():.2f} (paper: 3.25)")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "figures")
    ap.add_argument("--replot", action="store_true", help="redraw the figures from the CSVs in --out")
    args = ap.parse_args()
    if args.replot:
        fifo = pd.read_csv(args.out / "eie_fifo_depth.csv")
        pes = pd.read_csv(args.out / "eie_pe_scaling.csv", dtype={"regfile": str})
        plot_fifo(fifo, args.out / "eie_fifo_depth.png")
        plot_pe(pes, args.out / "eie_pe_scaling.png")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    trace = accelsim.synth("eie", seed=args.seed)
    fifo = fifo_sweep(trace)
    fifo.to_csv(args.out / "eie_fifo_depth.csv", index=False)
    plot_fifo(fifo, args.out / "eie_fifo_depth.png")
    pes = pd.concat([pe_sweep(trace), pe_sweep(trace, whole_vector=True)], ignore_index=True)
    pes.to_csv(args.out / "eie_pe_scaling.csv", index=False)
    plot_pe(pes, args.out / "eie_pe_scaling.png")
    text = summarize(fifo, pes)
    (args.out / "eie_sweeps.txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
