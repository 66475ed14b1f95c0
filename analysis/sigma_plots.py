"""SIGMA figures: cycles per GEMM against the TPU-like array and the paper, and efficiency against density.

* ``sigma_vs_tpu.png``: per GEMM of ``shared/reference/sigma.md`` (sparse setting, MK 0.2 / KN 0.9), cycles of
  our SIGMA and TPU-like models beside the paper's, log scale; read from ``analysis/figures/sigma_gemms.csv``
  (written by ``python analysis/sigma_gemms.py --csv ...``).
* ``sigma_density.png``: overall efficiency (effectual MACs / (16,384 x cycles), the paper's metric) and
  multiplier utilisation (products issued, streamed zeros included / (16,384 x cycles)) of SIGMA, and the
  TPU-like array's efficiency, as the MK operand's density goes from 0.05 to 1 with KN at 0.9 (the
  reference's streamed density), for two of the paper's GEMMs; timing path of ``sigma_gemms``.

Usage: ``python analysis/sigma_plots.py [--figures analysis/figures] [--seed 0]``
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import accelsim  # noqa: E402

_SPEC = importlib.util.spec_from_file_location("sigma_gemms", Path(__file__).resolve().parent / "sigma_gemms.py")
sigma_gemms = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sigma_gemms)

DENSITIES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
SWEEP_GEMMS = ((84, 1024, 4096), (320, 3072, 4096))


def plot_vs_tpu(csv: Path, out: Path) -> None:
    df = pd.read_csv(csv)
    df = df[df.setting == "sparse"]
    x = np.arange(len(df))
    w = 0.2
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar(x - 1.5 * w, df.sigma_cycles, w, label="SIGMA (ours)", color="tab:blue")
    ax.bar(x - 0.5 * w, df.paper_sigma, w, label="SIGMA (paper)", color="tab:blue", alpha=0.45)
    ax.bar(x + 0.5 * w, df.tpu_cycles, w, label="TPU-like (ours, sigma_paper timing)", color="tab:orange")
    ax.bar(x + 1.5 * w, df.paper_tpu, w, label="TPU-like (paper)", color="tab:orange", alpha=0.45)
    for i, (s, p) in enumerate(zip(df.speedup, df.paper_speedup, strict=True)):
        ax.annotate(f"{s:.2f}x\n({p:.2f}x)", (x[i], max(df.tpu_cycles.iloc[i], df.sigma_cycles.iloc[i]) * 1.3),
                    ha="center", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 8)
    ax.set_xticks(x, df.gemm, rotation=15, fontsize=8)
    ax.set_xlabel("GEMM M x N x K (MK density 0.2, KN density 0.9)")
    ax.set_ylabel("cycles")
    ax.set_title("SIGMA vs TPU-like 128x128 (16,384 multipliers each); speedup ours (paper)")
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def density_sweep(seed: int = 0) -> pd.DataFrame:
    cfg = accelsim.load_config("sigma")
    rows = []
    for m, n, k in SWEEP_GEMMS:
        for d in DENSITIES:
            res = sigma_gemms.sigma_gemm(m, n, k, d, 0.9, cfg, seed)
            best = res[res["best"]]
            issued = best["issued"]
            tpu = sigma_gemms.tpu_cycles(m, n, k)
            rows.append({"gemm": f"{m}x{n}x{k}", "mk_density": d, "stationary": res["best"],
                         "sigma_cycles": best["cycles"], "tpu_cycles": tpu,
                         "sigma_efficiency": best["effectual"] / (cfg.multipliers * best["cycles"]),
                         "sigma_utilization": issued / (cfg.multipliers * best["cycles"]),
                         "tpu_efficiency": best["effectual"] / (cfg.multipliers * tpu)})
    return pd.DataFrame(rows)


def plot_density(df: pd.DataFrame, out: Path) -> None:
    fig, axes = plt.subplots(1, len(SWEEP_GEMMS), figsize=(10, 4), sharey=True)
    for ax, (gemm, g) in zip(axes, df.groupby("gemm", sort=False), strict=True):
        ax.plot(g.mk_density, g.sigma_utilization, "o-", label="SIGMA multiplier utilisation")
        ax.plot(g.mk_density, g.sigma_efficiency, "s-", label="SIGMA efficiency (effectual)")
        ax.plot(g.mk_density, g.tpu_efficiency, "^-", label="TPU-like efficiency (effectual)")
        ax.set_title(f"{gemm}, KN density 0.9")
        ax.set_xlabel("MK operand density")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of 16,384 multipliers x cycles")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--figures", type=Path, default=Path(__file__).resolve().parent / "figures")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    plot_vs_tpu(args.figures / "sigma_gemms.csv", args.figures / "sigma_vs_tpu.png")
    df = density_sweep(args.seed)
    df.to_csv(args.figures / "sigma_density.csv", index=False)
    print(df.to_string(index=False, float_format="{:.3f}".format))
    plot_density(df, args.figures / "sigma_density.png")


if __name__ == "__main__":
    main()
