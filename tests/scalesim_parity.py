"""Run SCALE-Sim v3 from tests through ``tools/scalesim_runner.py`` in its own venv.

SCALE-Sim 3.0.0 needs numpy < 2.4, so it lives in a separate venv made by
``scripts/setup_scalesim.sh`` at ``${ACCELSIM_SCALESIM_VENV:-~/.cache/accelsim/scalesim-venv}``.
:func:`run_scalesim` creates the venv on first use (needs PyPI; about 30 s) and runs a whole
batch of cases in one subprocess. Not a test module itself.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = REPO_ROOT / "scripts" / "setup_scalesim.sh"
RUNNER = REPO_ROOT / "tools" / "scalesim_runner.py"


class ScaleSimError(RuntimeError):
    """SCALE-Sim could not be set up or a run failed."""


def scalesim_venv() -> Path:
    """Return the directory of the SCALE-Sim venv (it may not exist yet)."""
    default = Path.home() / ".cache" / "accelsim" / "scalesim-venv"
    return Path(os.environ.get("ACCELSIM_SCALESIM_VENV", default))


def scalesim_python(setup_timeout_s: float = 900.0) -> Path:
    """Return the SCALE-Sim venv's python, creating or repairing the venv when needed.

    Always runs ``scripts/setup_scalesim.sh``: it is idempotent and takes a fraction of a
    second once the venv is complete, and it repairs a venv left half-built.
    """
    proc = subprocess.run(
        ["bash", str(SETUP_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=setup_timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise ScaleSimError(
            f"scripts/setup_scalesim.sh failed (exit {proc.returncode}); "
            f"run it by hand to see why:\n{proc.stderr[-2000:]}"
        )
    lines = proc.stdout.strip().splitlines()
    python = Path(lines[-1]) if lines else scalesim_venv() / "bin" / "python"
    if not python.is_file():
        raise ScaleSimError(f"setup_scalesim.sh printed {python}, which is not a file")
    return python


def run_scalesim(cases: list[dict[str, Any]], timeout_s: float = 600.0) -> list[dict[str, Any]]:
    """Run SCALE-Sim on ``cases`` (see ``tools/scalesim_runner.py``) in one subprocess.

    Returns one dict of COMPUTE_REPORT columns per case, in order; ``total_cycles`` is the
    report's "Total Cycles".
    """
    if not cases:
        return []
    python = scalesim_python()
    proc = subprocess.run(
        [str(python), str(RUNNER)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise ScaleSimError(
            f"tools/scalesim_runner.py failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    results = json.loads(proc.stdout)
    if len(results) != len(cases):
        raise ScaleSimError(f"expected {len(cases)} results from SCALE-Sim, got {len(results)}")
    return results
