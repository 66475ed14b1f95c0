"""A sweep SIGKILLed mid-run and restarted: every point stored exactly once, nothing lost, nothing re-run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from accelsim.sweep import Store, expand, run_sweep

# 24 points of ~0.1 s each: long enough to kill mid-run, short enough for the suite
SPEC = {"traces": [{"synth": {"gemm": [192, 192, 192], "seed": [0, 1, 2, 3, 4, 5]}}],
        "density": {"weight": [0.5, 1.0]},
        "accelerators": [{"config": "systolic", "zip": {"rows": [4, 8], "cols": [4, 8]}}]}


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out |= {int(c) for c in task.read_text().split()}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _sweep_cmd(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "accelsim.cli", "sweep", str(spec), "-o", str(out), "-j", "2"]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_sigkill_mid_run_then_resume_stores_every_point_exactly_once(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    out = tmp_path / "res"
    points_dir = out / "points"
    expected = {p.id for p in expand(spec)}
    assert len(expected) == 24

    proc = subprocess.Popen(_sweep_cmd(spec, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if points_dir.is_dir() and len(list(points_dir.glob("*.parquet"))) >= 3:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.communicate()}"
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the sweep process only, as the OOM killer would
        proc.wait(timeout=30)
        # the pool's workers notice their parent is gone and exit (no orphans keep computing)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "orphaned sweep workers are still running"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()

    before = {p.name: p.stat().st_mtime_ns for p in points_dir.glob("*.parquet")}
    assert 3 <= len(before) < 24, f"{len(before)} points committed before the kill"

    resumed = subprocess.run(_sweep_cmd(spec, out), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    m = re.search(r"24 points: (\d+) already done, (\d+) run now", resumed.stdout)
    assert m, resumed.stdout
    assert int(m[1]) == len(before) and int(m[2]) == 24 - len(before)

    # points committed before the kill were not rewritten
    assert {n: (points_dir / n).stat().st_mtime_ns for n in before} == before
    store = Store(out)
    assert store.done_ids() == expected
    assert not list(out.rglob(".*.tmp"))
    df = store.load()
    assert len(df) == 24 and df["point"].is_unique and set(df["point"]) == expected

    # nothing lost or altered: identical to an uninterrupted run
    reference = run_sweep(spec, tmp_path / "reference", workers=2, progress=False).frame
    pd.testing.assert_frame_equal(df, reference)
