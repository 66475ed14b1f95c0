"""Reproduce EIE's Table IV (Han et al., ISCA 2016, arXiv 1602.01528) and check energy against Table II.

Builds the six AlexNet / VGG-16 benchmark layers of Table III with the synthetic generator
(``accelsim synth --network eie --layers Alex-6 ...``, here through :func:`accelsim.synth`:
magnitude-pruned He-normal weights and ReLU activations at Table III's densities), runs them on the
``eie`` preset (64 PEs, 800 MHz, queue depth 8) with no fitted constant, and prints per layer:

* simulated and paper ("actual") wall-clock time in µs and the relative error (target ±15%);
* the share of padding entries among the processed entries (and among the stored ones);
* a decomposition: simulated workload (entries processed / PEs = the "theoretical" time) against
  the paper's theoretical row, and the load-imbalance factor (actual / theoretical) of each.

Then energy: the AlexNet FC layers' energy priced with ``eie45`` (Table II-derived) and with the
default ``horowitz45`` table (re-priced, not re-simulated), against the paper's chip power x time
(0.59 W x Table IV's actual times) and against 0.59 W x the simulated times.

Usage: ``python analysis/eie_table4.py [--seed 0] [--markdown analysis/figures/eie_table4.md]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import accelsim
from accelsim.energy import load_table, price
from accelsim.simulate import energy_reference

#: Table IV, 64 PEs at 800 MHz, batch 1: wall-clock µs (shared/reference/eie.md).
PAPER_ACTUAL_US = {"Alex-6": 30.3, "Alex-7": 12.2, "Alex-8": 9.9, "VGG-6": 34.4, "VGG-7": 8.7, "VGG-8": 8.4}
PAPER_THEORETICAL_US = {"Alex-6": 28.1, "Alex-7": 11.7, "Alex-8": 8.9, "VGG-6": 28.1, "VGG-7": 7.9, "VGG-8": 7.3}
LAYERS = tuple(PAPER_ACTUAL_US)
#: Table II / abstract: the 64-PE chip draws 0.59 W (64 x 9.157 mW = 0.586 W for the PEs).
PAPER_CHIP_W = 0.59
TOLERANCE = 0.15


def table4(seed: int = 0, **overrides) -> pd.DataFrame:
    """One row per Table IV layer: simulated vs paper time, padding share, workload decomposition."""
    trace = accelsim.synth("eie", layers=list(LAYERS), seed=seed)
    cfg = accelsim.load_config("eie", **overrides)
    run = accelsim.simulate(trace, cfg)
    df = run.to_frame().set_index("layer").loc[list(LAYERS)]
    out = pd.DataFrame(index=df.index)
    out["sim_us"] = df["time_s"] * 1e6
    out["paper_us"] = pd.Series(PAPER_ACTUAL_US)
    out["error"] = out["sim_us"] / out["paper_us"] - 1.0
    out["padding_share"] = df["padding_share"]
    out["padding_share_stored"] = df["padding_share_stored"]
    out["sim_theory_us"] = df["theoretical_cycles"] / cfg.clock_hz * 1e6
    out["paper_theory_us"] = pd.Series(PAPER_THEORETICAL_US)
    out["workload_ratio"] = out["sim_theory_us"] / out["paper_theory_us"]
    out["sim_imbalance"] = out["sim_us"] / out["sim_theory_us"]
    out["paper_imbalance"] = out["paper_us"] / out["paper_theory_us"]
    out["load_efficiency"] = df["load_efficiency"]
    out["functional_ok"] = df["functional_ok"]
    out["energy_uj"] = df["energy_pj"] * 1e-6
    out.attrs["run"] = run
    out.attrs["cfg"] = cfg
    return out


def energy_check(t4: pd.DataFrame) -> pd.DataFrame:
    """AlexNet FC energy (eie45 and horowitz45) vs the paper's power x time; rows per table."""
    run, cfg = t4.attrs["run"], t4.attrs["cfg"]
    alex = [p for p in run.layers if p.result.layer.startswith("Alex-")]
    sim_s = sum(p.result.cycles for p in alex) / cfg.clock_hz
    paper_s = sum(PAPER_ACTUAL_US[p.result.layer] for p in alex) * 1e-6
    rows = []
    for name in ("eie45", "horowitz45"):
        table = load_table(name)
        ert = energy_reference(cfg, table)
        e_pj = sum(sum(price(p.result.action_counts, ert).values()) for p in alex)
        rows.append({"table": name, "energy_uj": e_pj * 1e-6,
                     "paper_power_x_paper_time_uj": PAPER_CHIP_W * paper_s * 1e6,
                     "ratio_to_paper": e_pj * 1e-12 / (PAPER_CHIP_W * paper_s),
                     "paper_power_x_sim_time_uj": PAPER_CHIP_W * sim_s * 1e6,
                     "ratio_to_sim_time": e_pj * 1e-12 / (PAPER_CHIP_W * sim_s),
                     "avg_power_w": e_pj * 1e-12 / sim_s})
    return pd.DataFrame(rows).set_index("table")


def format_table(t4: pd.DataFrame) -> str:
    lines = ["| layer | sim µs | paper µs | error | padding share (processed / stored) | sim theory µs "
             "| paper theory µs | workload sim/paper | imbalance sim | imbalance paper | load eff. |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in t4.iterrows():
        flag = "" if abs(r.error) <= TOLERANCE else " **miss**"
        lines.append(f"| {name} | {r.sim_us:.2f} | {r.paper_us:.1f} | {r.error:+.1%}{flag} | "
                     f"{r.padding_share:.3f} / {r.padding_share_stored:.3f} | {r.sim_theory_us:.2f} | "
                     f"{r.paper_theory_us:.1f} | {r.workload_ratio:.3f} | {r.sim_imbalance:.3f} | "
                     f"{r.paper_imbalance:.3f} | {r.load_efficiency:.3f} |")
    return "\n".join(lines)


def format_energy(en: pd.DataFrame) -> str:
    lines = ["| table | AlexNet FC energy µJ | 0.59 W x paper time µJ | ratio | 0.59 W x sim time µJ | ratio "
             "| avg power W |", "|---|---|---|---|---|---|---|"]
    for name, r in en.iterrows():
        lines.append(f"| {name} | {r.energy_uj:.2f} | {r.paper_power_x_paper_time_uj:.2f} | {r.ratio_to_paper:.3f} | "
                     f"{r.paper_power_x_sim_time_uj:.2f} | {r.ratio_to_sim_time:.3f} | {r.avg_power_w:.3f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", help="config override")
    ap.add_argument("--markdown", type=Path, help="also write the tables to this markdown file")
    args = ap.parse_args()
    from accelsim.config import parse_overrides

    t4 = table4(args.seed, **parse_overrides(args.overrides))
    en = energy_check(t4)
    alex_fps = 1.0 / (t4.loc[["Alex-6", "Alex-7", "Alex-8"], "sim_us"].sum() * 1e-6)
    text = [f"EIE Table IV: {t4.attrs['cfg'].label}, synthetic trace seed {args.seed}, "
            f"tolerance ±{TOLERANCE:.0%}", "", format_table(t4), "",
            f"within ±{TOLERANCE:.0%}: {int((t4.error.abs() <= TOLERANCE).sum())} of {len(t4)}; "
            f"functional check: {'all ok' if t4.functional_ok.all() else 'FAILED'}",
            f"AlexNet FC6-8: {alex_fps:,.0f} frames/s simulated (paper: 1.88e4); "
            f"FC7 {1e6 / t4.loc['Alex-7', 'sim_us']:,.0f} frames/s (paper: 81,967)", "",
            "Energy of AlexNet FC6-8 vs the paper's 0.59 W x time:", "", format_energy(en)]
    out = "\n".join(text)
    print(out)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
