"""Run SCALE-Sim v3 (``scalesim`` 3.0.0) on a batch of single-layer cases.

Run this with the python of the SCALE-Sim venv made by ``scripts/setup_scalesim.sh``
(SCALE-Sim 3.0.0 needs numpy < 2.4), never with accelsim's main environment::

    echo '[{"kind": "gemm", "M": 8, "N": 8, "K": 8, "rows": 4, "cols": 4,
            "dataflow": "os"}]' | "$(bash scripts/setup_scalesim.sh)" tools/scalesim_runner.py

Input (stdin): a JSON list of cases. Each case is a dict with

- ``kind``: ``"conv"`` or ``"gemm"``;
- conv: ``H``, ``W`` (ifmap height/width, already padded: SCALE-Sim has no padding),
  ``R``, ``S`` (filter height/width), ``C`` (channels), ``K`` (number of filters),
  ``stride`` (same in both directions; SCALE-Sim's topology CSV has a single stride);
- gemm: ``M``, ``N``, ``K`` (``A`` is M x K, ``B`` is K x N);
- ``rows``, ``cols``: systolic array height and width;
- ``dataflow``: ``"os"``, ``"ws"`` or ``"is"``;
- optional ``sparsity``: ``{"N": n, "M": m}``, SCALE-Sim's layer-wise N:M weight sparsity
  (``SparsitySupport = true``, ``OptimizedMapping = false``; only meaningful for ``ws``);
- optional ``sram_kb``: SRAM size used for all three buffers (default 65536 kB, large
  enough that the CALC-bandwidth run is stall-free).

Output (stdout): a JSON list, one dict per case, with the COMPUTE_REPORT columns
``total_cycles_incl_prefetch``, ``total_cycles`` ("Total Cycles", the number accelsim
reproduces), ``stall_cycles``, ``overall_util_pct``, ``mapping_efficiency_pct``,
``compute_util_pct``, the BANDWIDTH_REPORT's SRAM read/write counts per cycle, plus
``wall_s`` (seconds SCALE-Sim took on that case).

Each case runs through SCALE-Sim's top-level Python API (``scalesim.scale_sim.scalesim``)
with ``save_disk_space=True`` (no SRAM/DRAM trace CSVs, which reach gigabytes) in its own
temporary directory, with ``InterfaceBandwidth = CALC``. Everything SCALE-Sim prints goes
to stderr so stdout holds only the JSON result.

How SCALE-Sim's N:M mode builds its sparse filter (``scalesim/compute/operand_matrix.py``,
``create_filter_matrix``, non-optimized mapping): the mask is *not* random. For every
filter column it tiles the pattern ``[1]*N + [0]*(M-N)`` down the reduction dimension
(``R*S*C`` in SCALE-Sim's im2col order, row-major over (r, s, c)), so the first N of every
M consecutive weights are kept, identically in every column. The kept rows are compacted
(a last partial block of length L keeps ``min(L, N)`` rows) and the ifmap operand drops the
matching columns. The cycle count therefore depends only on N, M and the layer shape, not
on any seed: ``RandomNumberGeneratorSeed`` is used only by ``OptimizedMapping = true``,
which draws a random N in ``[1, BlockSize/2]`` per filter column (not reproduced here).
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIG_TEMPLATE = """\
[general]
run_name = accelsim_parity

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = {sram_kb}
FilterSramSzkB = {sram_kb}
OfmapSramSzkB = {sram_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = {sparse}
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 4
RandomNumberGeneratorSeed = 40
"""

COMPUTE_COLUMNS = (
    "total_cycles_incl_prefetch",
    "total_cycles",
    "stall_cycles",
    "overall_util_pct",
    "mapping_efficiency_pct",
    "compute_util_pct",
)


def _topology_csv(case: dict[str, Any]) -> tuple[str, bool]:
    """Return the topology CSV text for one case and whether it is in GEMM (MNK) form.

    SCALE-Sim drops the last field of every row, so each row must end with a comma;
    a layer name containing ``DP`` would be read as a depth-wise convolution.
    """
    sparsity = case.get("sparsity")
    ratio = f"{sparsity['N']}:{sparsity['M']}" if sparsity else "1:1"
    if case["kind"] == "gemm":
        header = "Layer, M, N, K, Sparsity,\n"
        row = f"layer0, {case['M']}, {case['N']}, {case['K']}, {ratio},\n"
        return header + row, True
    if case["kind"] == "conv":
        header = (
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
            "Channels, Num Filter, Strides, Sparsity,\n"
        )
        row = (
            f"layer0, {case['H']}, {case['W']}, {case['R']}, {case['S']}, "
            f"{case['C']}, {case['K']}, {case.get('stride', 1)}, {ratio},\n"
        )
        return header + row, False
    raise ValueError(f"unknown case kind {case['kind']!r}; use 'conv' or 'gemm'")


def _read_report(path: Path) -> list[str]:
    """Return the fields of the first data row of a SCALE-Sim report CSV."""
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    return [x.strip() for x in rows[1] if x.strip() != ""]


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run SCALE-Sim on one case and return its report columns."""
    from scalesim.scale_sim import scalesim

    dataflow = case["dataflow"].lower()
    if dataflow not in ("os", "ws", "is"):
        raise ValueError(f"unknown dataflow {case['dataflow']!r}; use os, ws or is")
    topo_text, is_gemm = _topology_csv(case)
    with tempfile.TemporaryDirectory(prefix="scalesim_") as tmp:
        tmpdir = Path(tmp)
        cfg = tmpdir / "accelsim.cfg"
        cfg.write_text(
            CONFIG_TEMPLATE.format(
                rows=int(case["rows"]),
                cols=int(case["cols"]),
                sram_kb=int(case.get("sram_kb", 65536)),
                dataflow=dataflow,
                sparse="true" if case.get("sparsity") else "false",
            )
        )
        topo = tmpdir / "topology.csv"
        topo.write_text(topo_text)
        layout = tmpdir / "layout.csv"  # header only: custom layouts are off
        layout.write_text("Layer name,\n")
        start = time.perf_counter()
        sim = scalesim(
            save_disk_space=True,
            verbose=False,
            config=str(cfg),
            topology=str(topo),
            layout=str(layout),
            input_type_gemm=is_gemm,
        )
        sim.run_scale(top_path=str(tmpdir / "out"))
        wall_s = time.perf_counter() - start
        report_dir = tmpdir / "out" / "accelsim_parity"
        compute = _read_report(report_dir / "COMPUTE_REPORT.csv")
        bandwidth = _read_report(report_dir / "BANDWIDTH_REPORT.csv")
    result: dict[str, Any] = {}
    for name, value in zip(COMPUTE_COLUMNS, compute[1:], strict=True):
        number = float(value)
        result[name] = int(number) if name.endswith("cycles") else number
    result["avg_ifmap_sram_bw"] = float(bandwidth[1])
    result["avg_filter_sram_bw"] = float(bandwidth[2])
    result["avg_ofmap_sram_bw"] = float(bandwidth[-4])
    result["wall_s"] = wall_s
    return result


def main() -> int:
    """Read cases from stdin, run them, write results to stdout as JSON."""
    cases = json.load(sys.stdin)
    if not isinstance(cases, list):
        raise SystemExit("scalesim_runner: expected a JSON list of cases on stdin")
    results = []
    with contextlib.redirect_stdout(sys.stderr):
        for case in cases:
            results.append(run_case(case))
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
