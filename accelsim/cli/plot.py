"""`accelsim plot`: figures from sweep results (see :mod:`accelsim.plot`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from accelsim.config import parse_key_values
from accelsim.plot import KINDS, PlotError, load_heatmap, save, select

COMMAND_HELP = "plot sweep results: latency/energy vs density, scaling, energy breakdown, pareto, load heatmap, speedup"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", help="a sweep results directory, or a table from `accelsim results -o FILE`")
    p.add_argument("-k", "--kind", required=True, choices=list(KINDS), help="the figure")
    p.add_argument("-o", "--output", required=True, help="FILE.png or FILE.svg")
    p.add_argument("--where", action="append", metavar="COLUMN=VALUE",
                   help="keep only rows with this value (repeatable), e.g. --where trace=alexnet")
    p.add_argument("--x", default="weight_density", choices=["weight_density", "act_density"],
                   help="x axis of the *-vs-density plots")
    p.add_argument("--by", default="auto", choices=["auto", "layer", "config"], help="bars of energy-breakdown")
    p.add_argument("--baseline", help="baseline config (label or preset) of the speedup plot")
    p.add_argument("--point", help="run (point id) of the load heatmap (default: the first selected)")
    p.add_argument("--layer", help="one layer for the load heatmap (default: all layers together)")
    p.add_argument("--title", help="figure title")
    p.add_argument("--dpi", type=int, default=150)


def main(args: argparse.Namespace) -> int:
    from accelsim.sweep import Store, open_results

    where = parse_key_values(args.where, "--where")
    df = open_results(args.results)
    if df.empty:
        raise PlotError(f"{args.results}: no finished points to plot")
    df = select(df, where)
    if args.kind == "load-heatmap":
        if not Path(args.results).is_dir():
            raise PlotError("load-heatmap needs a sweep results directory (the per-PE data is stored there)")
        pe = Store(args.results).load_pe()
        point = args.point or df["point"].iloc[0]
        fig = load_heatmap(pe, point=point, layer=args.layer, results=df, title=args.title)
    else:
        kw: dict[str, Any] = {"title": args.title}
        if args.kind.endswith("vs-density"):
            kw["x"] = args.x
        elif args.kind == "energy-breakdown":
            kw["by"] = args.by
        elif args.kind == "speedup":
            kw["baseline"] = args.baseline
        fig = KINDS[args.kind](df, **kw)
    path = save(fig, args.output, dpi=args.dpi)
    print(f"wrote {path}")
    return 0
