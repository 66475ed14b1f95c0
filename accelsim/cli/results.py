"""`accelsim results`: print a sweep's results per point, or export the consolidated table."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from accelsim.errors import AccelsimError
from accelsim.sweep import Store
from accelsim.sweep.totals import point_totals

COMMAND_HELP = "print a sweep's results per point, or export the consolidated table (Parquet/CSV)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", help="a sweep results directory (from `accelsim sweep -o DIR`)")
    p.add_argument("-o", "--output", metavar="FILE", help="export the per-layer table to FILE.parquet or FILE.csv")
    p.add_argument("--layers", action="store_true", help="print one row per layer instead of one per point")
    p.add_argument("--tracebacks", action="store_true", help="print the tracebacks of failed points")


def main(args: argparse.Namespace) -> int:
    from accelsim.results import write_frame

    path = Path(args.results)
    if not path.is_dir():
        raise AccelsimError(f"{path}: not a directory; give a sweep results directory")
    store = Store(path)
    meta = store.meta()
    df = store.load()
    failures = store.failures()
    total = len(meta.get("points", []))
    done = df["point"].nunique() if "point" in df else 0
    missing = total - done - len(failures)
    print(f"{path}: {total} points, {done} done, {len(failures)} failed, {missing} not run "
          f"(accelsim {meta.get('accelsim_version', '?')}, started {meta.get('created', '?')})")
    if args.output:
        if df.empty:
            raise AccelsimError(f"{path}: no finished points to export")
        print(f"wrote {write_frame(df, args.output)} ({len(df)} rows, {len(df.columns)} columns)")
    elif not df.empty:
        table = df if args.layers else point_totals(df)
        cols = [c for c in ("point", "trace", "layer", "config", "weight_density", "act_density", "cycles",
                            "time_s", "energy_pj", "utilization", "load_balance", "functional_ok") if c in table]
        view = table[cols].copy()
        view["time_us"] = view.pop("time_s") * 1e6
        view["energy_uJ"] = view.pop("energy_pj") * 1e-6
        with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 40):
            print(view.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if failures:
        print(f"failed points ({len(failures)}):")
        for f in failures:
            print(f"  {f['point']['id']}  {f['label']}: {f['error']}")
            if args.tracebacks and f.get("traceback"):
                print("    " + f["traceback"].rstrip().replace("\n", "\n    "))
    return 0
