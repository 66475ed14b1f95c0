"""A small fixed-seed corpus from the input fuzzer (tests/fuzz_inputs.py), run in every test run.

Before the fixes of issues 16 and 18, seed 0's first 150 cases gave 75 findings (46 RecursionError and
24 TypeError tracebacks, error messages split over several lines); now none. The full fuzzer runs with
``ACCELSIM_FUZZ_CASES=2000 python -m pytest -m fuzz tests/test_fuzz_corpus.py`` or
``python tests/fuzz_inputs.py --cases 2000 --seed 1``.
"""

from __future__ import annotations

import os

import pytest
from fuzz_inputs import Case, check, fuzz, make_cases, run_in_process


@pytest.mark.parametrize("seed", [0, 3])
def test_seeded_corpus_has_no_findings(tmp_path, seed):
    cases = make_cases(tmp_path, 24, seed)
    findings = [f for case in cases for f in check(case, run_in_process)]
    assert not findings, "\n".join(f"{f.label}: accelsim {' '.join(f.argv)}: {f.problem}" for f in findings)


def test_the_oracle_flags_a_traceback_a_split_message_and_a_negative_total():
    # the fuzzer is only as good as its oracle: feed it the three failure shapes it must catch
    def crash(argv):
        raise TypeError("unhashable type: 'list'")

    case = Case("stub", [["run", "t.safetensors", "systolic"]])
    assert "TypeError escaped" in check(case, crash)[0].problem
    assert "without one error line" in check(case, lambda a: (2, "", "accelsim: error: a\nb\n"))[0].problem
    negative = (0, "total: 10 cycles, 0.01 us, -1.500 uJ\n", "")
    assert "negative energy total -1.500" in check(case, lambda a: negative)[0].problem


@pytest.mark.fuzz
def test_fuzz_run(tmp_path):
    n = int(os.environ.get("ACCELSIM_FUZZ_CASES", "0"))
    if not n:
        pytest.skip("set ACCELSIM_FUZZ_CASES=N to run the fuzzer on N cases")
    findings = fuzz(n, int(os.environ.get("ACCELSIM_FUZZ_SEED", "1")), tmp_path)
    assert not findings, "\n".join(f"{f.label}: accelsim {' '.join(f.argv)}: {f.problem}" for f in findings)
