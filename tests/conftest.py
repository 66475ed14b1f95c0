"""Shared fixtures: a tiny hand-built trace (no zoo, no synth) that tests can save and corrupt."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.trace import Layer, Trace


def make_tiny_trace() -> Trace:
    """Three small layers with fixed, hand-placed zeros: a conv2d with every optional tensor, a
    matmul with an int8 weight, and an lstm gate GEMV with a float64 input (dtypes must survive)."""
    rng = np.random.default_rng(1234)
    conv_w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    conv_w[0] = 0.0                     # one all-zero filter
    conv_x = np.abs(rng.standard_normal((1, 2, 5, 5))).astype(np.float32)
    conv_x[0, 1, :2] = 0.0              # ReLU-like zeros
    conv = Layer("conv", "conv2d",
                 {"N": 1, "C": 2, "H": 5, "W": 5, "K": 4, "R": 3, "S": 3, "stride": 1, "padding": 1, "groups": 1},
                 conv_w, conv_x,
                 output=rng.standard_normal((1, 4, 5, 5)).astype(np.float32),
                 grad_output=rng.standard_normal((1, 4, 5, 5)).astype(np.float32),
                 grad_weight=rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
                 attrs={"relu_input": True, "note": "hand-built"})
    mm_w = np.array([[1, 0, -3], [0, 0, 2], [5, 0, 0], [0, 7, 0], [0, 0, 0]], dtype=np.int8)   # K=5 x N=3
    mm_x = np.arange(20, dtype=np.float32).reshape(4, 5) - 6.0                                  # M=4 x K=5
    mm = Layer("mm", "matmul", {"M": 4, "N": 3, "K": 5}, mm_w, mm_x)
    lstm = Layer("gate", "lstm", {"N": 2, "C": 6, "K": 8, "hidden": 2},
                 rng.standard_normal((8, 6)).astype(np.float32), rng.standard_normal((2, 6)))
    prov = {"model": "tiny", "seed": 7, "pruning": {"method": "hand", "target": 0.5},
            "tools": {"accelsim": "test"}}
    return Trace([conv, mm, lstm], prov, name="tiny")


@pytest.fixture
def tiny_trace() -> Trace:
    return make_tiny_trace()


@pytest.fixture
def tiny_trace_path(tmp_path, tiny_trace):
    return tiny_trace.save(tmp_path / "tiny.safetensors")
