"""Speed of the SCNN model on the 13 VGG-16 conv layers at the paper's densities (target: < 60 s).

Builds the layers with ``accelsim.synth("vgg16-conv")`` (the zoo carries SCNN's per-layer VGG-16
densities; not timed), warms the numba kernels up on a small layer, then times
``simulate_layer`` per layer with the cycle-by-cycle Cartesian-product model (bank queues on): the
mapping, the compressed streams, the numba datapath (every product formed, routed and
accumulated), the halo scatter, the simpy schedule and the output compression. The runner's
dense functional check (a float64 GEMM per layer) is not part of the model and is not timed.

Reports wall-clock and CPU time (the datapath kernel runs its PEs on all cores with numba
``prange``, so on an idle machine CPU time is up to ``cores`` x wall time; on a shared machine the
load average is printed), and effectual products (both operands non-zero) and products formed
per second of wall time.

Usage: ``python benchmarks/scnn_speed.py [--repeat 1] [--set acc_queue=1 ...]``
"""

from __future__ import annotations

import argparse
import os
import time

import numba

import accelsim
from accelsim.accelerators.scnn import SCNN
from accelsim.config import parse_overrides


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="timed repetitions; the best total is reported")
    ap.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", help="config override")
    args = ap.parse_args()
    cfg = accelsim.load_config("scnn", **parse_overrides(args.overrides))
    trace = accelsim.synth("vgg16-conv")
    layers = list(trace)
    warm = accelsim.synth("googlenet-conv", layers=["inception_5b.5x5_reduce"])[0]
    SCNN.simulate_layer(warm, cfg)          # JIT warm-up (numba cache=True: loads or compiles)

    best = None
    for _ in range(args.repeat):
        rows = []
        for layer in layers:
            t0, c0 = time.perf_counter(), time.process_time()
            r = SCNN.simulate_layer(layer, cfg)
            rows.append((layer.name, r.cycles, r.macs_effectual, r.macs_issued, time.perf_counter() - t0,
                         time.process_time() - c0))
        total = sum(r[4] for r in rows)
        if best is None or total < best[0]:
            best = (total, rows)
    total, rows = best
    print(f"SCNN speed: {len(rows)} VGG-16 conv layers, {cfg.pes} PEs x {cfg.mult_f}x{cfg.mult_i}, "
          f"bank queue {cfg.acc_queue}; best of {args.repeat}; numba threads {numba.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'layer':8s} {'cycles':>9s} {'effectual':>12s} {'formed':>12s} {'wall s':>8s} {'cpu s':>8s}")
    for name, cycles, eff, issued, wall, cpu in rows:
        print(f"{name:8s} {cycles:9d} {eff:12d} {issued:12d} {wall:8.2f} {cpu:8.2f}")
    eff = sum(r[2] for r in rows)
    issued = sum(r[3] for r in rows)
    cpu = sum(r[5] for r in rows)
    print(f"{'total':8s} {sum(r[1] for r in rows):9d} {eff:12d} {issued:12d} {total:8.2f} {cpu:8.2f}")
    print(f"effectual products/s: {eff / total:.3e} (wall), formed products/s: {issued / total:.3e} (wall); "
          f"per CPU-second: {eff / cpu:.3e} effectual, {issued / cpu:.3e} formed")
    print(f"target: 13 layers < 60 s wall -> {'met' if total < 60 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
