"""accelsim's systolic chip against SCALE-Sim v3 on the same layers: cycles side by side, wall-time ratio.

Usage::

    python benchmarks/systolic_vs_scalesim.py            # AlexNet FC6 + ResNet-18 conv3_x (several minutes)
    python benchmarks/systolic_vs_scalesim.py --quick    # without FC6 (SCALE-Sim alone takes minutes on it)

Layers (all on a 32 x 32 array):

- AlexNet FC6 at batch 1 (the GEMV 1 x 9216 @ 9216 x 4096), OS;
- ResNet-18 conv3_x, i.e. the convolutions ``layer2.*`` of ``accelsim.trace.zoo.network_layers("resnet18")``,
  in OS, WS and IS.

What is compared
    accelsim: ``simulate_layer(layer, cfg).compute_cycles`` (stall-free; ``cycles`` adds accelsim's memory
    model). SCALE-Sim: COMPUTE_REPORT "Total Cycles" with ``InterfaceBandwidth = CALC`` (stall-free), run
    through ``tools/scalesim_runner.py`` in SCALE-Sim's own venv (``scripts/setup_scalesim.sh``).

SCALE-Sim has no padding, so it gets the padded ifmap ``(H + 2p) x (W + 2p)``. It rounds the conv output
size up, ``P = ceil((H + 2p - R) / stride) + 1``, where a real convolution rounds down. In conv3_x this
bites on the two stride-2 layers: ``layer2.0.conv1`` (56 + 2 - 3 = 55) and ``layer2.0.downsample``
(56 - 1 = 55) give SCALE-Sim a 29 x 29 output instead of 28 x 28, hence more cycles; the table shows
that row as it is (``equal? = no (ceil)``). Those layers are then run a second time with the ifmap cut
to the rows and columns the convolution actually reads, ``(P - 1) * stride + R`` (57 and 55): the
same convolution, and there SCALE-Sim's output size is exact.

Timing
    accelsim: wall time of ``simulate_layer`` (closed-form timing, simpy memory model and the numba
    datapath computing the functional output), after a JIT warm-up on a tiny layer in every dataflow;
    the median of ``--repeats`` runs. Building the layer's tensors is not timed; the output is checked
    against numpy afterwards (column ``out ok``).
    SCALE-Sim: wall time of one subprocess per layer (interpreter start, SCALE-Sim import and run,
    report parsing), nothing subtracted. The start-up share is reported separately, measured on a
    trivial 1 x 1 x 1 GEMM. ``ss run s`` is SCALE-Sim's own run inside the subprocess. Each side runs
    alone (never concurrently), but other processes on the machine are not controlled: the load average
    is printed before and after.
    SCALE-Sim gets ``--sram-kb`` (default 1024 kB, accelsim's preset ifmap/filter size) for every SRAM;
    its default of 64 MB adds set-up time, so a smaller SRAM only favours SCALE-Sim's time. The
    ``stall`` column shows its stall cycles (0 under CALC bandwidth).
    Both run single-threaded: BLAS/OpenMP thread pools are limited to one thread (unless set in the
    environment already) in this process and so in SCALE-Sim's subprocess. accelsim's only BLAS call is
    the small effectual-MAC count; with OpenBLAS's default two threads spin-waiting on a loaded 2-CPU
    machine it took 8 ms instead of 0.2 ms. SCALE-Sim's CPU time is the same either way.
    CPU seconds (accelsim's process time, the subprocess's user + sys time) are printed too: the ratio
    of CPU times is less sensitive to other load on the machine than the ratio of wall times.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import accelsim  # noqa: E402
from accelsim.accelerators.systolic.model import simulate_layer  # noqa: E402
from accelsim.trace.layer import Layer, conv_output_hw  # noqa: E402
from accelsim.trace.lowering import reference_output  # noqa: E402
from accelsim.trace.zoo import network_layers  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
from scalesim_parity import RUNNER, scalesim_python  # noqa: E402

ROWS = COLS = 32
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None


def scalesim_cases(layer: Layer) -> list[tuple[str, dict[str, Any], bool]]:
    """SCALE-Sim cases of a layer as (note, case, exact): the padded ifmap, plus a cropped one if SCALE-Sim
    rounds the output size up; ``exact`` says SCALE-Sim's output size equals the real convolution's."""
    s = layer.shape
    if layer.kind == "linear":
        return [("gemm", {"kind": "gemm", "M": s["N"], "N": s["K"], "K": s["C"]}, True)]
    if layer.kind != "conv2d" or s["N"] != 1 or s["groups"] != 1:
        raise ValueError(f"{layer.name}: only batch-1 ungrouped conv2d and linear layers are set up here")
    hp, wp = s["H"] + 2 * s["padding"], s["W"] + 2 * s["padding"]
    base = {"kind": "conv", "R": s["R"], "S": s["S"], "C": s["C"], "K": s["K"], "stride": s["stride"]}
    exact = (hp - s["R"]) % s["stride"] == 0 and (wp - s["S"]) % s["stride"] == 0
    cases = [(f"ifmap {hp}x{wp}", {**base, "H": hp, "W": wp}, exact)]
    if not exact:
        p, q = conv_output_hw(s)
        hc, wc = (p - 1) * s["stride"] + s["R"], (q - 1) * s["stride"] + s["S"]
        cases.append((f"ifmap {hc}x{wc} (rows read)", {**base, "H": hc, "W": wc}, True))
    return cases


def run_scalesim_timed(python: Path, case: dict[str, Any]) -> dict[str, Any]:
    """Run one case in its own SCALE-Sim subprocess; add its wall time, CPU time and peak memory.

    The peak RSS comes from GNU time (``/usr/bin/time``) when it is there: a forked child's own
    ``ru_maxrss`` starts from this (large) process's size, so it cannot be used.
    """
    with tempfile.TemporaryDirectory(prefix="ss_bench_") as tmp:
        inp, out, err = Path(tmp) / "in.json", Path(tmp) / "out.json", Path(tmp) / "err.txt"
        rss = Path(tmp) / "rss.txt"
        inp.write_text(json.dumps([case]))
        cmd = [str(python), str(RUNNER)]
        if GNU_TIME:
            cmd = [GNU_TIME, "-f", "%M", "-o", str(rss), *cmd]
        with inp.open() as fin, out.open("w") as fout, err.open("w") as ferr:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=ferr)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"SCALE-Sim failed on {case} (exit {proc.returncode}):\n{err.read_text()[-3000:]}")
        result = json.loads(out.read_text())[0]
        kb = rss.read_text().split()[-1] if GNU_TIME and rss.exists() else ""
    result["subprocess_wall_s"] = wall
    result["subprocess_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_gb"] = int(kb) / 2**20 if kb.isdigit() else float("nan")  # GNU time's %M is in kB
    return result


def time_accelsim(layer: Layer, dataflow: str, repeats: int) -> dict[str, Any]:
    """Median wall time of simulate_layer over ``repeats`` runs, its compute cycles and a functional check."""
    cfg = accelsim.load_config("systolic", rows=ROWS, cols=COLS, dataflow=dataflow)
    walls, cpus = [], []
    res = None
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        res = simulate_layer(layer, cfg)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    ref = reference_output(layer)
    ok = bool(np.allclose(res.output, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max())))
    return {"cycles": res.compute_cycles, "wall_s": statistics.median(walls), "walls_s": walls,
            "cpu_s": statistics.median(cpus), "output_ok": ok}


def warm_up() -> None:
    """Compile (or load from numba's cache) everything simulate_layer runs, in every dataflow."""
    tiny = accelsim.synth(gemm=(20, 20, 20))[0]
    for df in ("os", "ws", "is"):
        simulate_layer(tiny, accelsim.load_config("systolic", rows=4, cols=4, dataflow=df))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip AlexNet FC6 (SCALE-Sim takes minutes on it)")
    ap.add_argument("--repeats", type=int, default=5, help="accelsim runs per layer (median is reported)")
    ap.add_argument("--sram-kb", type=int, default=1024, help="SCALE-Sim SRAM size per buffer, kB")
    ap.add_argument("--layers", nargs="+", metavar="NAME", help="only these ResNet-18 conv3_x layers")
    ap.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = ap.parse_args(argv)

    python = scalesim_python()
    load_before = os.getloadavg()
    work: list[tuple[Layer, str]] = []
    if not args.quick:
        work.append((accelsim.synth("alexnet", layers=["fc6"])[0], "os"))
    conv3 = [spec.name for spec in network_layers("resnet18") if spec.name.startswith("layer2.")
             and spec.kind == "conv2d" and (not args.layers or spec.name in args.layers)]
    resnet = accelsim.synth("resnet18", layers=conv3)
    work += [(layer, df) for layer in resnet for df in ("os", "ws", "is")]

    warm_up()
    trivial = run_scalesim_timed(python, {"kind": "gemm", "M": 1, "N": 1, "K": 1, "rows": ROWS, "cols": COLS,
                                          "dataflow": "os", "sram_kb": args.sram_kb})

    rows: list[dict[str, Any]] = []
    for layer, df in work:
        ours = time_accelsim(layer, df, args.repeats)
        for note, case, exact in scalesim_cases(layer):
            case = {**case, "rows": ROWS, "cols": COLS, "dataflow": df, "sram_kb": args.sram_kb}
            ss = run_scalesim_timed(python, case)
            row = {"layer": layer.name, "scalesim_input": note, "dataflow": df, "accelsim": ours, "scalesim": ss,
                   "case": case, "exact_size": exact}
            rows.append(row)
            print(f"  done {layer.name} {df} {note}: accelsim {ours['cycles']} in {ours['wall_s']:.3f} s, "
                  f"SCALE-Sim {ss['total_cycles']} in {ss['subprocess_wall_s']:.1f} s", file=sys.stderr, flush=True)
    load_after = os.getloadavg()

    print(f"systolic {ROWS}x{COLS}, accelsim {accelsim.__version__} vs SCALE-Sim 3.0.0; {os.cpu_count()} CPUs, "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; accelsim: median of "
          f"{args.repeats} runs; SCALE-Sim: one subprocess per row")
    header = (f"{'layer':<20} {'SCALE-Sim input':<25} {'df':<3} {'accelsim cyc':>12} {'scalesim cyc':>12} "
              f"{'equal?':<9} {'out ok':<6} {'accelsim s':>10} {'scalesim s':>10} {'speedup':>8} | "
              f"{'ss run s':>8} {'acc cpu s':>9} {'ss cpu s':>8} {'cpu x':>6} {'stall':>5} {'ss GB':>5}")
    print(header)
    print("-" * len(header))
    for r in rows:
        a, s = r["accelsim"], r["scalesim"]
        tag = "yes" if a["cycles"] == s["total_cycles"] else ("NO" if r["exact_size"] else "no (ceil)")
        print(f"{r['layer']:<20} {r['scalesim_input']:<25} {r['dataflow']:<3} {a['cycles']:>12} "
              f"{s['total_cycles']:>12} {tag:<9} {'yes' if a['output_ok'] else 'NO':<6} {a['wall_s']:>10.4f} "
              f"{s['subprocess_wall_s']:>10.2f} {s['subprocess_wall_s'] / a['wall_s']:>7.0f}x | "
              f"{s['wall_s']:>8.2f} {a['cpu_s']:>9.4f} {s['subprocess_cpu_s']:>8.2f} "
              f"{s['subprocess_cpu_s'] / a['cpu_s']:>5.0f}x {s['stall_cycles']:>5} {s['peak_rss_gb']:>5.2f}")
    print("accelsim s / scalesim s: wall seconds (scalesim s = whole subprocess); speedup = their ratio. "
          "ss run s: SCALE-Sim's run inside the subprocess; cpu: CPU seconds and their ratio; "
          "ss GB: SCALE-Sim's peak RSS.")
    print(f"SCALE-Sim subprocess start-up, measured on a trivial 1x1x1 GEMM: {trivial['subprocess_wall_s']:.2f} s "
          f"wall ({trivial['subprocess_cpu_s']:.2f} s CPU), of which {trivial['wall_s']:.3f} s is SCALE-Sim's run; "
          "included in 'scalesim s', not subtracted.")
    exact = [r for r in rows if r["exact_size"]]
    n_equal = sum(r["accelsim"]["cycles"] == r["scalesim"]["total_cycles"] for r in exact)
    wall_x = [r["scalesim"]["subprocess_wall_s"] / r["accelsim"]["wall_s"] for r in rows]
    cpu_x = [r["scalesim"]["subprocess_cpu_s"] / r["accelsim"]["cpu_s"] for r in rows]
    print(f"cycles equal on {n_equal}/{len(exact)} rows where SCALE-Sim's conv output size is exact "
          f"({len(rows) - len(exact)} rows with its rounded-up size shown for reference); "
          f"speedup min {min(wall_x):.0f}x wall, {min(cpu_x):.0f}x CPU")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "trivial": trivial, "load_before": load_before,
                                         "load_after": load_after}, indent=1, default=str))
    return 0 if n_equal == len(exact) and all(r["accelsim"]["output_ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
