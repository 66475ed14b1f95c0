"""Traces: the Layer model, the v1 file format, the shape zoo and the synthetic generator.

The PyTorch exporter lives in ``accelsim.trace.export`` (extra ``torch``); nothing else imports torch.
"""

from accelsim.trace.format import Trace, load_trace
from accelsim.trace.layer import Layer, LayerSpec
from accelsim.trace.synthetic import synth

__all__ = ["Layer", "LayerSpec", "Trace", "load_trace", "synth"]
