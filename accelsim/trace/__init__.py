"""Traces: the Layer model, the trace file format, the network shape zoo and the synthetic generator.

This package is the format layer every chip reads; it never imports torch. The PyTorch side
(exporter, pruning, the torch model zoo, the digits task) is :mod:`accelsim.export`, which depends on
this package and not the reverse. ``accelsim.trace.export`` is kept as a deprecated alias of
:func:`accelsim.export.export`, resolved on first use only.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from accelsim.trace.format import Trace, load_trace
from accelsim.trace.layer import Layer, LayerSpec
from accelsim.trace.synthetic import synth

__all__ = ["Layer", "LayerSpec", "Trace", "load_trace", "synth"]


def __getattr__(name: str) -> Any:
    # The one upward reference, kept for users of the pre-0.2 name; it imports nothing until asked for.
    if name == "export":
        warnings.warn("accelsim.trace.export moved to accelsim.export.export", DeprecationWarning, stacklevel=2)
        return importlib.import_module("accelsim.export").export
    raise AttributeError(f"module 'accelsim.trace' has no attribute {name!r}")
