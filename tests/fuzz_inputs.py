"""A seeded fuzzer of accelsim's inputs: mutated traces, configs and energy tables through the CLI.

Each case is a file written from a valid one with one mutation (a metadata value replaced by a value
of the wrong kind or size, tensor bytes overwritten with NaN, Inf, 3.4e38 or random bits, the header
cut or nested deep, a YAML value replaced, an alias bomb, non-UTF-8 bytes ...). Each case runs
through ``accelsim info`` and ``accelsim run`` on two chips, in-process. The oracle:

* no exception escapes ``accelsim.cli.main`` (a traceback is a bug);
* the exit code is 0 or 2 (bad input); with 2, stderr is exactly one line ``accelsim: error: ...``
  holding no raw control character. Exit code 1 (output check failed) is a finding too: the chips are
  exact on any finite input float32 can hold, and values it cannot hold are bad input (exit 2);
* with 0, the printed table holds no ``nan`` and no ``inf``, and the energy total is not negative.

Rerun it (about 20 cases a second):

    python tests/fuzz_inputs.py --cases 2000 --seed 1 [--keep DIR]
    ACCELSIM_FUZZ_CASES=2000 python -m pytest -m fuzz tests/test_fuzz_corpus.py

``tests/test_fuzz_corpus.py`` runs a small fixed-seed corpus of it in every test run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Values of the wrong kind or size that replace a valid one.
BAD_VALUES: list = [None, True, -1, 0, 2**70, 10**30, 1.5, -0.0, 3.4e38, "x", "", "\x1b[31m\n", [], [1, 2],
                    {}, {"a": 1}, [[[[[[1]]]]]], "1", 1e308]

CHIPS = ("systolic", "eie")


@dataclass
class Case:
    """One fuzz input: what it is, the files written, and the argument lists to run."""

    label: str
    commands: list[list[str]]


@dataclass
class Finding:
    label: str
    argv: list[str]
    problem: str


# -- valid seeds ---------------------------------------------------------------------------------

def seed_trace(path: Path) -> Path:
    """A valid two-layer trace (conv + linear) that every chip's CLI path accepts."""
    from accelsim.trace import Layer, Trace

    rng = np.random.default_rng(0)
    conv = Layer("conv", "conv2d", {"N": 1, "C": 2, "H": 5, "W": 5, "K": 4, "R": 3, "S": 3, "stride": 1,
                                    "padding": 1, "groups": 1},
                 rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
                 np.maximum(rng.standard_normal((1, 2, 5, 5)), 0).astype(np.float32))
    fc = Layer("fc", "linear", {"N": 1, "C": 8, "K": 4}, rng.standard_normal((4, 8)).astype(np.float32),
               np.maximum(rng.standard_normal((1, 8)), 0).astype(np.float32))
    return Trace([conv, fc], {"model": "fuzz", "seed": 1, "pruning": {"method": "none"}}, name="fuzz").save(path)


_DEEP = re.compile(r"""(?:\\?"|')__DEEP_(\d+)__(?:\\?"|')""")


def _expand_deep(text: str) -> str:
    """Replace each quoted ``__DEEP_n__`` placeholder by ``n`` nested empty lists."""
    return _DEEP.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)


def _read_raw(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _write_raw(path: Path, header_text: str, data: bytes) -> Path:
    blob = _expand_deep(header_text).encode("utf-8", "surrogatepass")
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


def _paths(doc, prefix=()) -> list[tuple]:
    """Every path (tuple of keys/indices) to a value inside a JSON/YAML document."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc, path: tuple, value) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _bad_value(rng: np.random.Generator):
    choice = int(rng.integers(len(BAD_VALUES) + 2))
    if choice == len(BAD_VALUES):  # a placeholder: _expand_deep writes it as nested brackets
        return f"__DEEP_{int(rng.choice([50, 2000]))}__"
    if choice == len(BAD_VALUES) + 1:
        return int("9" * int(rng.choice([30, 400, 4000])))
    return BAD_VALUES[choice]


# -- trace mutations -----------------------------------------------------------------------------

def mutate_trace(seed: Path, out: Path, rng: np.random.Generator) -> str:
    """Write one mutated copy of ``seed`` to ``out``; return a description."""
    header, data = _read_raw(seed)
    doc = json.loads(header["__metadata__"]["accelsim"])
    kind = rng.choice(["meta_value", "header_value", "tensor_bytes", "truncate", "meta_entry", "deep_header"])
    if kind == "meta_value":
        path = _paths(doc)[int(rng.integers(len(_paths(doc))))]
        value = _bad_value(rng)
        _set(doc, path, value)
        header["__metadata__"]["accelsim"] = json.dumps(doc)
        what = f"metadata {'/'.join(map(str, path))} = {str(value)[:30]!r}"
    elif kind == "header_value":
        tensors = [k for k in header if k != "__metadata__"]
        key = tensors[int(rng.integers(len(tensors)))]
        field = str(rng.choice(["dtype", "shape", "data_offsets"]))
        value = rng.choice(["F16", "BF16", "BOOL", "F64", "I8"]) if field == "dtype" and rng.random() < 0.5 \
            else _bad_value(rng)
        header[key][field] = value if not isinstance(value, np.str_) else str(value)
        what = f"header {key}.{field} = {str(value)[:30]!r}"
    elif kind == "tensor_bytes":
        pos = int(rng.integers(0, max(len(data) - 4, 1)) // 4 * 4)
        value = rng.choice(["nan", "inf", "big", "bits"])
        patch = {"nan": np.float32(np.nan).tobytes(), "inf": np.float32(-np.inf).tobytes(),
                 "big": np.float32(3.4e38).tobytes(), "bits": rng.integers(0, 256, 4, dtype=np.uint8).tobytes()}
        data = data[:pos] + patch[str(value)] + data[pos + 4:]
        what = f"tensor byte {pos} = {value}"
    elif kind == "truncate":
        cut = int(rng.integers(0, len(data)))
        data = data[:cut]
        what = f"data cut to {cut} bytes"
    elif kind == "meta_entry":
        value = _bad_value(rng)
        header["__metadata__"]["accelsim"] = value
        what = f"accelsim entry = {str(value)[:30]!r}"
    else:
        depth = int(rng.choice([100, 5000]))
        header["__metadata__"]["deep"] = "x"
        text = json.dumps(header).replace('"deep": "x"', '"deep": ' + "[" * depth + "]" * depth)
        _write_raw(out, text, data)
        return f"header nested {depth} deep"
    _write_raw(out, json.dumps(header), data)
    return what


# -- YAML mutations ------------------------------------------------------------------------------

def _laughs() -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 8)]
    return "\n".join(lines) + "\n"


def mutate_yaml(doc: dict, out: Path, rng: np.random.Generator) -> str:
    """Write one mutated copy of a YAML document (config or energy table); return a description."""
    import yaml

    kind = rng.choice(["value", "value", "value", "unknown_key", "bomb", "deep", "bytes"])
    doc = json.loads(json.dumps(doc))
    if kind == "value":
        paths = _paths(doc)
        path = paths[int(rng.integers(len(paths)))]
        value = _bad_value(rng)
        _set(doc, path, value)
        out.write_text(_expand_deep(yaml.safe_dump(doc, width=10**9)))
        return f"{'/'.join(map(str, path))} = {str(value)[:30]!r}"
    if kind == "unknown_key":
        doc[str(rng.choice(["rowz", "sram_bytez", "1", "arith2"]))] = 1
        out.write_text(yaml.safe_dump(doc))
        return "unknown key"
    if kind == "bomb":
        out.write_text(yaml.safe_dump(doc) + _laughs())
        return "alias bomb"
    if kind == "deep":
        out.write_text(yaml.safe_dump(doc) + "deep: " + "[" * 3000 + "]" * 3000 + "\n")
        return "nested 3000 deep"
    raw = yaml.safe_dump(doc).encode() + b"\nlabel: \xff\xfe\n"
    out.write_bytes(raw)
    return "non-UTF-8 bytes"


# -- cases and oracle ----------------------------------------------------------------------------

def make_cases(workdir: Path, n: int, seed: int) -> list[Case]:
    """``n`` cases (trace, config and energy-table mutations in turn), reproducible from ``seed``."""
    import yaml

    from accelsim.config import configs_dir
    from accelsim.energy.table import TABLES_DIR

    rng = np.random.default_rng(seed)
    trace0 = seed_trace(workdir / "seed.safetensors")
    config_docs = {c: yaml.safe_load((configs_dir() / f"{c}.yaml").read_text()) for c in CHIPS}
    table_doc = yaml.safe_load((TABLES_DIR / "horowitz45.yaml").read_text())
    cases = []
    for i in range(n):
        which = i % 3
        if which == 0:
            path = workdir / f"t{i}.safetensors"
            label = f"trace#{i}: " + mutate_trace(trace0, path, rng)
            cases.append(Case(label, [["info", str(path)]] + [["run", str(path), c] for c in CHIPS]))
        elif which == 1:
            chip = CHIPS[int(rng.integers(len(CHIPS)))]
            path = workdir / f"c{i}.yaml"
            doc = {k: v for k, v in config_docs[chip].items() if k != "sources"}
            label = f"config#{i} ({chip}): " + mutate_yaml(doc, path, rng)
            cases.append(Case(label, [["info", str(path)], ["run", str(trace0), str(path)]]))
        else:
            path = workdir / f"e{i}.yaml"
            doc = {k: v for k, v in table_doc.items() if k != "sources"}
            label = f"energy#{i}: " + mutate_yaml(doc, path, rng)
            cfg = workdir / f"e{i}-cfg.yaml"
            cfg.write_text(f"accelerator: systolic\nenergy_table: {path}\n")
            cases.append(Case(label, [["info", str(cfg)], ["run", str(trace0), str(cfg)]]))
    return cases


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def check(case: Case, runner: Callable[[list[str]], tuple[int, str, str]]) -> list[Finding]:
    """Run every command of ``case``; return what breaks the oracle."""
    findings = []
    for argv in case.commands:
        try:
            rc, out, err = runner(argv)
        except BaseException as exc:  # noqa: BLE001 - any escape is the finding
            findings.append(Finding(case.label, argv, f"{type(exc).__name__} escaped: {str(exc)[:120]}"))
            continue
        problem = None
        if rc not in (0, 2):  # 1 (output check failed) cannot come from a mutated input: the chips are exact
            problem = f"exit code {rc}: {err.strip()[-160:]!r}"
        elif rc == 2:
            lines = err.splitlines()
            if len(lines) != 1 or not lines[0].startswith("accelsim: error:"):
                problem = f"exit 2 without one error line: {err[:200]!r}"
            elif _CONTROL.search(lines[0]):
                problem = f"raw control character in {lines[0][:120]!r}"
        elif rc == 0 and argv[0] == "run":
            if re.search(r"\b(nan|inf)\b", out):
                problem = "nan or inf in the printed results"
            elif m := re.search(r"total: .* (-?[0-9.]+) uJ", out):
                if float(m[1]) < 0:
                    problem = f"negative energy total {m[1]} uJ"
        if problem:
            findings.append(Finding(case.label, argv, problem))
    return findings


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    """``accelsim.cli.main(argv)`` with stdout and stderr captured (logging warnings go to stderr too)."""
    import logging

    from accelsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []  # main() calls basicConfig: let it bind a handler to the captured stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    finally:
        root.handlers = saved
    return rc, out.getvalue(), err.getvalue()


def fuzz(n: int, seed: int, workdir: Path) -> list[Finding]:
    findings = []
    for case in make_cases(workdir, n, seed):
        findings += check(case, run_in_process)
    return findings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", help="write the cases to this folder (default: a temporary one, removed)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        findings = fuzz(args.cases, args.seed, workdir)
    for f in findings:
        print(f"{f.label}\n    accelsim {' '.join(f.argv)}\n    {f.problem}")
    print(f"{args.cases} cases, seed {args.seed}: {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
