"""`accelsim sweep`: run a sweep spec resumably (see :mod:`accelsim.sweep`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from accelsim.errors import AccelsimError
from accelsim.sweep import Store, expand_spec, run_sweep

COMMAND_HELP = "run a sweep spec (traces x densities x configs x grids), resumably, on local cores or Dask"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="sweep spec YAML (see configs/sweeps/)")
    p.add_argument("-o", "--output", required=True, metavar="RESULTS_DIR",
                   help="results directory: created, or resumed if it holds this spec's results")
    p.add_argument("-j", "--workers", type=int, default=None,
                   help="local worker processes, or LocalCluster workers with --dask local (default: every core)")
    p.add_argument("--dask", metavar="local|tcp://HOST:PORT",
                   help="run on Dask: 'local' starts a LocalCluster, or give a scheduler address")
    p.add_argument("--dry-run", action="store_true", help="list the points and exit")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show the progress bar (default: only on a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false")


def main(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise AccelsimError("--workers must be at least 1")
    if args.dry_run:
        expansion = expand_spec(args.spec)
        store = Store(args.output)
        done = store.done_ids() if store.exists() else set()
        for p in expansion.points:
            print(f"{p.id}  {'done   ' if p.id in done else 'pending'}  {p.label()}")
        for p, why in expansion.skipped:
            print(f"{p.id}  skipped  {p.label()}: {why}")
        print(f"{len(expansion.points)} points, {len(done & {p.id for p in expansion.points})} done, "
              f"{len(expansion.skipped)} skipped")
        return 0
    res = run_sweep(args.spec, args.output, workers=args.workers, dask=args.dask, progress=args.progress)
    speed = f" ({res.elapsed_s:.1f} s, {res.ran / res.elapsed_s * 60:.1f} points/min)" if res.ran else ""
    print(f"{res.total} points: {res.already_done} already done, {res.ran} run now{speed}, "
          f"{len(res.failures)} failed")
    if res.skipped:
        print(f"{len(res.skipped)} trace/config pairs left out (the chip runs none of the trace's layer kinds, or "
              f"`unsupported: pair`), e.g. {res.skipped[0][0].label()}: {res.skipped[0][1]}")
    if res.partial:
        print(f"{res.partial} points ran only the layers their chip supports (column skipped_layers names the others)")
    print(f"results: {args.output} ({len(res.frame)} rows); export with `accelsim results {args.output} -o FILE`")
    if res.failures:
        print(f"failed points ({len(res.failures)}; details in {Path(args.output) / 'failures'}):")
        for f in res.failures:
            print(f"  {f['point']['id']}  {f['label']}: {f['error']}")
        return 1
    return 0
