"""Traces: the Layer model, the v1 file format, the shape zoo and the synthetic generator.

The PyTorch side (extra ``torch``; nothing outside this package imports torch, and importing this
package does not): :func:`export` (``accelsim.trace.exporter``), the torch model zoo
(``torch_zoo``), pruning methods (``prune``) and the digits task (``digits``).
"""

from accelsim.trace.format import Trace, load_trace
from accelsim.trace.layer import Layer, LayerSpec
from accelsim.trace.synthetic import synth

__all__ = ["Layer", "LayerSpec", "Trace", "export", "load_trace", "synth"]


def export(model, example_inputs, path=None, **kwargs) -> Trace:
    """Export a PyTorch model as a trace; see :func:`accelsim.trace.exporter.export` (imports torch)."""
    from accelsim.trace.exporter import export as _export

    return _export(model, example_inputs, path, **kwargs)
