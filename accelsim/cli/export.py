"""`accelsim export`: a PyTorch model, pruned, as a trace (the work is in :mod:`accelsim.export.export_job`)."""

from __future__ import annotations

import argparse

from accelsim.export.export_job import COMMAND_HELP, add_arguments, run_export

__all__ = ["COMMAND_HELP", "add_arguments", "main"]


def main(args: argparse.Namespace) -> int:
    s = run_export(args)
    print(f"wrote {s.path}: {s.layers} layers, {s.path.stat().st_size / 1e6:.2f} MB "
          f"({'training' if s.training else 'inference'} trace, batch {s.batch})")
    print(f"pruning {s.pruning_method}: weight sparsity {s.achieved_sparsity:.4f}"
          + (f"; accuracy dense {s.accuracy[0]:.4f} -> pruned {s.accuracy[1]:.4f}" if s.accuracy else ""))
    print(f"time: train/prune {s.train_seconds:.1f} s, record+write {s.export_seconds:.1f} s, "
          f"total {s.total_seconds:.1f} s")
    if s.skipped_ops:
        print("skipped ops: " + ", ".join(f"{k} x{v}" for k, v in s.skipped_ops.items()))
    return 0
