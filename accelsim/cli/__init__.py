"""The `accelsim` command: run, info, synth here; export, sweep, results and plot in this package.

Every bad input exits with code 2 and one line on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from accelsim.errors import AccelsimError
from accelsim.safe_yaml import read_yaml_file

#: Subcommands with a module each under accelsim/cli/ (``COMMAND_HELP``, ``add_arguments(p)``, ``main(args)``).
#: Imported when the parser is built, so they keep heavy imports (torch, dask) inside functions.
SUBCOMMAND_MODULES = {
    "export": "accelsim.cli.export",
    "sweep": "accelsim.cli.sweep",
    "results": "accelsim.cli.results",
    "plot": "accelsim.cli.plot",
}


def _density_arg(text: str):
    """A density: a float, or a YAML file mapping layer name -> density."""
    try:
        return float(text)
    except ValueError:
        pass
    path = Path(text)
    if not path.is_file():
        raise AccelsimError(f"density {text!r} is neither a number nor a YAML file")
    doc = read_yaml_file(path)
    if not isinstance(doc, dict) or not all(isinstance(v, (int, float)) for v in doc.values()):
        raise AccelsimError(f"{path}: expected a mapping of layer name -> density")
    return {str(k): float(v) for k, v in doc.items()}


def printable(text: str) -> str:
    """``text`` with control characters escaped (a layer name may hold a newline or a terminal escape)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _fmt_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Fixed-width text table; columns are (key, header, format spec)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append([("" if r.get(k) is None else printable(format(r[k], f))) for k, _, f in columns])
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c[i].rjust(widths[i]) if i else c[i].ljust(widths[i]) for i in range(len(c)))
             for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- run --------------------------------------------------------------------------------
def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file (.safetensors), e.g. traces/lenet5-digits.safetensors")
    p.add_argument("config", help="preset name (systolic, eie, scnn, ...) or config YAML path")
    p.add_argument("-o", "--output", help="write results to FILE.parquet or FILE.csv")
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE",
                   help="override one config field (repeatable), e.g. --set rows=64")
    p.add_argument("--layers", nargs="+", metavar="NAME", help="simulate only these layers")
    p.add_argument("--strict", action="store_true",
                   help="fail on layers the chip cannot run instead of skipping them")


def _run(args: argparse.Namespace) -> int:
    from accelsim import load_config, load_trace, simulate
    from accelsim.config import parse_overrides
    from accelsim.results import write_frame

    trace = load_trace(args.trace)
    cfg = load_config(args.config, **parse_overrides(args.overrides))
    if args.layers:
        missing = [n for n in args.layers if n not in trace.layer_names]
        if missing:
            raise AccelsimError(f"{args.trace}: no layers named {', '.join(missing)}")
    from accelsim.simulate import supported_layers

    skipped = [] if args.strict else supported_layers(trace.select(args.layers) if args.layers else trace, cfg)[1]
    result = simulate(trace, cfg, layers=args.layers, unsupported="error" if args.strict else "skip")
    if skipped:  # after a success only: a failed run reports its error alone
        print(printable(f"note: {cfg.accelerator} cannot run {', '.join(skipped)} (kind not supported); skipped"),
              file=sys.stderr)
    df = result.to_frame()
    df["time_us"] = df["time_s"] * 1e6
    df["energy_uj"] = df["energy_pj"] * 1e-6
    print(printable(f"{trace.name} on {cfg.label} ({cfg.accelerator}, {cfg.clock_hz / 1e6:g} MHz)"))
    print(_fmt_table(df.to_dict("records"), [
        ("layer", "layer", ""), ("kind", "kind", ""), ("cycles", "cycles", ",d"),
        ("time_us", "time_us", ".2f"), ("energy_uj", "energy_uJ", ".3f"), ("utilization", "util", ".3f"),
        ("load_balance", "load_bal", ".3f"), ("functional_ok", "output_ok", "")]))
    t = result.totals()
    print(f"total: {t['cycles']:,d} cycles, {t['time_s'] * 1e6:.2f} us, {t['energy_pj'] * 1e-6:.3f} uJ")
    if args.output:
        print(f"wrote {write_frame(df.drop(columns=['time_us', 'energy_uj']), args.output)}")
    failed = df.loc[df["functional_ok"] == False, "layer"].tolist()  # noqa: E712
    if failed:  # the documented contract (README "Exit codes"): results kept, exit code 1
        print(printable(f"accelsim: output check failed: {', '.join(map(repr, failed))} differ from the dense "
                        f"reference (output_ok=False); exit code 1"), file=sys.stderr)
    return 1 if failed else 0


# -- info -------------------------------------------------------------------------------
def _add_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="a trace file, or a preset name / config YAML to list its fields")


def _info(args: argparse.Namespace) -> int:
    from accelsim import load_config, load_trace
    from accelsim.trace.lowering import effectual_macs

    path = Path(args.target)
    if path.suffix == ".safetensors" and not path.is_file():
        raise AccelsimError(f"{path}: no such trace file")
    if not path.is_file() or path.suffix in (".yaml", ".yml"):
        cfg = load_config(args.target)
        print(printable(f"{cfg.label}: accelerator {cfg.accelerator}"))
        for name, typ, _default, doc in type(cfg).describe():
            print(f"  {name:<22} = {getattr(cfg, name)!r:<14} {typ:<6} {doc}")
        return 0
    trace = load_trace(path)
    prov = trace.provenance
    print(printable(f"{path}: {len(trace)} layers; model {prov.get('model', '?')}; seed {prov.get('seed', '?')}; "
          f"pruning {prov.get('pruning', {}).get('method', '?') if isinstance(prov.get('pruning'), dict) else '?'}"))
    rows = []
    for layer in trace:
        rows.append({"layer": layer.name, "kind": layer.kind,
                     "shape": " ".join(f"{k}={v}" for k, v in layer.shape.items()),
                     "wd": layer.weight_density, "ad": layer.act_density, "dense": layer.macs_dense,
                     "eff": effectual_macs(layer)})
    print(_fmt_table(rows, [("layer", "layer", ""), ("kind", "kind", ""), ("shape", "shape", ""),
                            ("wd", "w_density", ".4f"), ("ad", "a_density", ".4f"),
                            ("dense", "dense_MACs", ",d"), ("eff", "effectual_MACs", ",d")]))
    return 0


# -- synth ------------------------------------------------------------------------------
def _add_synth(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--network", help="zoo network: alexnet, vgg16, resnet18, resnet50, googlenet, "
                                       "mobilenet_v2, eie, sigma-gemms, bert-base, ...")
    src.add_argument("--gemm", help="one GEMM M,N,K: an MxK input times a KxN weight")
    p.add_argument("--weight-density", type=_density_arg, default=None,
                   help="float, or YAML file of per-layer densities (default: the preset's, else 1.0)")
    p.add_argument("--act-density", type=_density_arg, default=None, help="as --weight-density, for inputs")
    p.add_argument("--structure", default="unstructured", help="unstructured | block:RxC | nm:N:M | channel")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--layers", nargs="+", metavar="NAME", help="keep only these layers")
    p.add_argument("--with-output", action="store_true", help="also store the dense reference output")
    p.add_argument("-o", "--output", required=True, help="trace file to write")


def _synth(args: argparse.Namespace) -> int:
    from accelsim import synth
    from accelsim.trace.format import check_output_path

    check_output_path(args.output)  # before the synthesis, not after it
    gemm = None
    if args.gemm:
        try:
            gemm = tuple(int(v) for v in args.gemm.split(","))
        except ValueError:
            raise AccelsimError(f"--gemm {args.gemm!r}: expected M,N,K integers") from None
        if len(gemm) != 3 or min(gemm) < 1:
            raise AccelsimError(f"--gemm {args.gemm!r}: expected three positive integers M,N,K")
    if args.batch < 1:
        raise AccelsimError("--batch must be at least 1")
    trace = synth(args.network, gemm, weight_density=args.weight_density, act_density=args.act_density,
                  structure=args.structure, seed=args.seed, batch=args.batch, layers=args.layers,
                  with_output=args.with_output)
    path = trace.save(args.output)
    print(f"wrote {path}: {len(trace)} layers ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


CORE_COMMANDS = {
    "run": (_add_run, _run, "simulate a trace on an accelerator config"),
    "info": (_add_info, _info, "describe a trace (per-layer shapes, densities, MACs) or a config"),
    "synth": (_add_synth, _synth, "write a synthetic trace of a zoo network or a GEMM"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (argparse's default prints the whole usage first)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from accelsim.version import __version__

    parser = _Parser(prog="accelsim", description="Cycle-level simulator of sparse DNN accelerators")
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add, func, help_text) in CORE_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add(p)
        p.set_defaults(func=func)
    for name, module_name in SUBCOMMAND_MODULES.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.COMMAND_HELP, description=module.COMMAND_HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        return int(args.func(args) or 0)
    except SystemExit as exc:  # argparse: usage errors exit 2 with one line already printed
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130
    except (AccelsimError, ValueError, KeyError, OSError) as exc:
        if debug:
            raise
        text = str(exc).strip()
        # our messages are one line (a newline in one comes from a layer name: escape it); others: first line
        msg = (text if isinstance(exc, AccelsimError) else text.splitlines()[0]) if text else type(exc).__name__
        if isinstance(exc, KeyError) and msg.startswith(("'", '"')):
            msg = msg[1:-1]
        print(f"accelsim: error: {printable(msg)}", file=sys.stderr)
        return 2

