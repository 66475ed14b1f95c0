"""The PyTorch side of accelsim (extra ``torch``): a pruned model in, a trace file out.

Everything here may import torch, and nothing outside this package does; it depends on
:mod:`accelsim.trace` (the layer model and the file format) and never the reverse.

- :func:`export` (:mod:`accelsim.export.exporter`): run a model on example inputs and record each
  layer's weights, activations and outputs (and gradients for training traces).
- :mod:`~accelsim.export.prune`: the pruning methods (unstructured, block, N:M, channel,
  column-combine, Dropback).
- :mod:`~accelsim.export.torch_zoo`: the model zoo in plain torch, with real example inputs
  (:mod:`~accelsim.export.data`).
- :mod:`~accelsim.export.digits`: LeNet-5 trained and pruned on scikit-learn's digits;
  :mod:`~accelsim.export.minilm`: the pretrained all-MiniLM-L6-v2 encoder.
- :mod:`~accelsim.export.export_job`: what ``accelsim export`` runs.

Importing this package does not import torch; :func:`export` does, when called.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export"]


def export(model: Any, example_inputs: Any, path: Any = None, **kwargs: Any) -> Any:
    """Export a PyTorch model as a trace; see :func:`accelsim.export.exporter.export` (imports torch)."""
    from accelsim.export.exporter import export as export_model

    return export_model(model, example_inputs, path, **kwargs)
