"""Without torch: accelsim imports, `accelsim export` says how to install it, shipped traces simulate."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRACES = sorted((ROOT / "traces").glob("*.safetensors"))


def _run(script: str) -> subprocess.CompletedProcess:
    # sys.modules["torch"] = None makes every `import torch` fail, as on a machine without the extra
    prelude = "import sys\nsys.modules['torch'] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_export_without_torch_says_how_to_install_it(tmp_path):
    out = _run(f"""
        import accelsim
        from accelsim.cli import main
        rc = main(["export", "--model", "lenet5", "-o", {str(tmp_path / 'x.safetensors')!r}])
        assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
        sys.exit(rc)
    """)
    assert out.returncode == 2
    assert out.stderr.strip() == ("accelsim: error: accelsim export needs PyTorch: install the torch extra: "
                                  "pip install -e '.[torch]'")


def test_export_help_works_without_torch():
    out = _run("""
        from accelsim.cli import main
        sys.exit(main(["export", "--help"]))
    """)
    assert out.returncode == 0 and "--prune" in out.stdout and "dropback" in out.stdout


def test_shipped_traces_are_listed_in_the_readme():
    readme = (ROOT / "traces" / "README.md").read_text()
    assert TRACES, "no traces shipped"
    for path in TRACES:
        assert path.name in readme
    assert sum(p.stat().st_size for p in TRACES) < 8e6


@pytest.mark.skipif(not TRACES, reason="no shipped traces")
def test_shipped_traces_load_and_simulate_on_systolic_without_torch():
    out = _run(f"""
        from accelsim import load_config, load_trace, simulate
        cfg = load_config("systolic")
        for path in {[str(p) for p in TRACES]!r}:
            trace = load_trace(path)
            df = simulate(trace, cfg).to_frame()
            assert len(df) == len(trace) and bool(df["functional_ok"].all()), path
            prov = trace.provenance
            assert prov["model"] == "lenet5-digits" and "command" in prov and "accuracy_pruned" in prov, path
            if "train" in path:
                assert all(layer.grad_output is not None and layer.grad_weight is not None for layer in trace)
            if "-cc" in path:
                assert all("column_combine" in info.attrs for info in trace.infos)
        assert not [m for m in sys.modules if sys.modules[m] is not None and m.split(".")[0] == "torch"]
        print("ok")
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
