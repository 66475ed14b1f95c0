"""Sweep throughput: points per minute in one process, on the local process pool and on a Dask LocalCluster.

Every run is a full ``accelsim.sweep.run_sweep`` into a fresh results directory, so the figures
include executor start-up (pool fork, cluster and worker start-up), trace regeneration in the
workers and the per-point atomic commit. Parallel efficiency = throughput with N workers /
(N x single-process, single-thread throughput); the parallel executors run one BLAS / numba
thread per worker. Needs threadpoolctl (installed with scikit-learn).

    python benchmarks/sweep_throughput.py                    # 96 points, 2 workers
    python benchmarks/sweep_throughput.py --points 96 --workers 2 --gemm 256,256,256
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from accelsim import __version__
from accelsim.sweep import run_sweep


def bench_spec(points: int, gemm: list[int], size: int) -> dict:
    """``points`` GEMM points: one per seed, weight density 0.3, activation density 0.5, one config."""
    return {"traces": [{"synth": {"gemm": gemm, "seed": list(range(points))}}],
            "density": {"weight": [0.3], "act": [0.5]},
            "accelerators": [{"config": "systolic", "set": {"rows": size, "cols": size}}]}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (pool workers, Dask nannies and workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _spin(n: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - start


def machine_ceiling(workers: int, n: int = 20_000_000) -> float:
    """Parallel efficiency of trivially parallel pure-Python work here: on a shared machine the
    sweep cannot beat it. 1.0 = the workers really get one core each."""
    import multiprocessing

    alone = _spin(n)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        together = max(pool.map(_spin, [n] * workers))
    return alone / together


@contextlib.contextmanager
def single_threaded():
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    with threadpool_limits(1):
        numba.set_num_threads(1)
        try:
            yield
        finally:
            numba.set_num_threads(before)


def timed(spec: dict, root: Path, name: str, **kw) -> tuple[float, int, float, float]:
    """(wall s, points run, steady-state points/min between the first and last completion, CPU s)."""
    done: list[float] = []
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    res = run_sweep(spec, root / name, progress=False, on_result=lambda _: done.append(time.perf_counter()), **kw)
    wall = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu0
    if res.failures:
        raise SystemExit(f"{name}: {len(res.failures)} points failed: {res.failures[0]['error']}")
    steady = (len(done) - 1) / (done[-1] - done[0]) * 60 if len(done) > 1 and done[-1] > done[0] else float("nan")
    return wall, res.ran, steady, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=96)
    p.add_argument("--workers", type=int, default=2, help="local processes and LocalCluster workers")
    p.add_argument("--gemm", default="384,384,384", help="M,N,K of each point's GEMM")
    p.add_argument("--size", type=int, default=16, help="systolic array rows = cols")
    args = p.parse_args()
    gemm = [int(v) for v in args.gemm.split(",")]
    spec = bench_spec(args.points, gemm, args.size)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"accelsim {__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {load:.2f}")
    print(f"{args.points} points: GEMM {'x'.join(map(str, gemm))} on a {args.size}x{args.size} systolic array")
    ceiling_before = machine_ceiling(args.workers)
    with tempfile.TemporaryDirectory(prefix="accelsim-bench-") as tmp:
        root = Path(tmp)
        timed(bench_spec(2, gemm, args.size), root, "warmup", workers=1)  # JIT cache, imports
        with single_threaded():  # a one-core baseline: no BLAS / numba threads on the other cores
            rows = [("serial (1 process, 1 thread)", 1, *timed(spec, root, "serial", workers=1))]
        rows.append((f"local pool ({args.workers} processes)", args.workers,
                     *timed(spec, root, "local", workers=args.workers)))
        rows.append((f"Dask LocalCluster ({args.workers} workers)", args.workers,
                     *timed(spec, root, "dask", workers=args.workers, dask="local")))
    ceiling_after = machine_ceiling(args.workers)
    print(f"machine check: {args.workers} pure-Python spinners run at {ceiling_before:.0%} (before) and "
          f"{ceiling_after:.0%} (after) parallel efficiency (100% = a free core each; less = a shared machine)")
    base = rows[0][3] / rows[0][2] * 60
    base_steady = rows[0][4]
    base_per_cpu = rows[0][3] / rows[0][5]
    print("end to end = all points / wall time (executor start-up included); steady = between the first and "
          "the last finished point;\ncores = CPU seconds / wall seconds (what the sweep got on a shared machine); "
          "CPU eff. = points per CPU second relative to serial (executor overhead alone)")
    print(f"{'executor':<34} {'wall s':>7} {'points/min':>10} {'efficiency':>10} {'steady pts/min':>14} "
          f"{'steady eff.':>11} {'cores':>6} {'CPU eff.':>8}")
    for name, n, wall, ran, steady, cpu in rows:
        rate = ran / wall * 60
        print(f"{name:<34} {wall:7.2f} {rate:10.1f} {rate / base / n:10.0%} {steady:14.1f} "
              f"{steady / base_steady / n:11.0%} {cpu / wall:6.2f} {ran / cpu / base_per_cpu:8.0%}")


if __name__ == "__main__":
    main()
