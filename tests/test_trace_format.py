"""Trace format v1: round trip, lazy loading, and every defect raising TraceError naming file, layer and problem.

Bad files are crafted by hand: a trace is an 8-byte little-endian header length, a JSON header (safetensors),
then the tensor data; the accelsim document is the JSON string under ``__metadata__.accelsim``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors
from safetensors.numpy import save_file

from accelsim import TraceError, load_trace
from accelsim.trace import Layer, Trace
from accelsim.trace.layer import dense_macs
from accelsim.trace.lowering import effectual_macs

# -- helpers ---------------------------------------------------------------------------------


def read_raw(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_raw(path: Path, header: dict, data: bytes = b"") -> Path:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


def rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a valid trace with ``edit(doc, header)`` applied to its accelsim document and header."""
    header, data = read_raw(src)
    doc = json.loads(header["__metadata__"]["accelsim"])
    edit(doc, header)
    header["__metadata__"]["accelsim"] = json.dumps(doc)
    return write_raw(dst, header, data)


def trace_error(path: Path) -> str:
    with pytest.raises(TraceError) as info:
        load_trace(path)
    msg = str(info.value)
    assert str(path) in msg, f"message does not name the file: {msg}"
    assert "\n" not in msg
    return msg


# -- round trip and lazy loading ------------------------------------------------------------


def test_round_trip_identical_arrays_shapes_dtypes_and_provenance(tiny_trace, tmp_path):
    path = tiny_trace.save(tmp_path / "rt.v1.safetensors")
    assert path == tmp_path / "rt.v1.safetensors"
    assert not list(tmp_path.glob("*.tmp")), "the atomic write left its temporary file behind"
    back = load_trace(path)
    assert back.name == "rt"
    assert len(back) == 3
    assert back.layer_names == ["conv", "mm", "gate"]
    assert back.provenance == {"model": "tiny", "seed": 7, "pruning": {"method": "hand", "target": 0.5},
                               "tools": {"accelsim": "test"}}
    for orig, got in zip(tiny_trace, back, strict=True):
        assert (got.name, got.kind, got.shape, got.attrs) == (orig.name, orig.kind, orig.shape, orig.attrs)
        assert sorted(got.tensors()) == sorted(orig.tensors())
        for t, arr in orig.tensors().items():
            loaded = got.tensors()[t]
            assert loaded.dtype == arr.dtype, (got.name, t)
            assert loaded.shape == arr.shape, (got.name, t)
            assert loaded.tobytes() == arr.tobytes(), (got.name, t)   # bit-identical, zeros included
    conv = back["conv"]
    assert conv.output is not None and conv.grad_weight is not None
    assert back["mm"].output is None and back["mm"].grad_output is None
    assert conv.stride == 1 and conv.padding == 1      # shape parameters read as attributes
    assert back[-1].name == "gate"
    assert [ly.name for ly in back[1:]] == ["mm", "gate"]


def test_loading_is_lazy_one_layer_at_a_time(tiny_trace_path, monkeypatch):
    opened: list[str] = []
    read: list[str] = []
    real_open = safetensors.safe_open

    class Spy:
        def __init__(self, *args, **kwargs):
            opened.append(str(args[0]))
            self._inner = real_open(*args, **kwargs)

        def __enter__(self):
            self._inner.__enter__()
            return self

        def __exit__(self, *exc):
            return self._inner.__exit__(*exc)

        def get_tensor(self, key):
            read.append(key)
            return self._inner.get_tensor(key)

    monkeypatch.setattr(safetensors, "safe_open", Spy)
    trace = load_trace(tiny_trace_path)
    # header-only queries read no tensor data
    assert len(trace) == 3 and trace.layer_names == ["conv", "mm", "gate"]
    assert [i.kind for i in trace.infos] == ["conv2d", "matmul", "lstm"]
    sub = trace.select(["gate"])
    assert sub.layer_names == ["gate"]
    assert opened == [] and read == []
    layer = trace["mm"]
    assert read == ["layers.1.weight", "layers.1.input"]
    assert layer.weight[0, 2] == -3
    read.clear()
    assert sub[0].input.shape == (2, 6)
    assert read == ["layers.2.weight", "layers.2.input"]


def test_select_then_index_by_name(tiny_trace, tiny_trace_path):
    for trace in (load_trace(tiny_trace_path), tiny_trace):
        sub = trace.select(["gate", "mm"])
        assert sub.layer_names == ["gate", "mm"]
        assert sub["mm"].name == "mm" and sub["gate"].name == "gate"
        assert sub.index_of("mm") == 1
        assert sub["mm"].weight.tolist() == trace["mm"].weight.tolist()
        assert [ly.name for ly in sub] == ["gate", "mm"]
        again = sub.select(["mm"])
        assert again.layer_names == ["mm"] and again["mm"].shape == {"M": 4, "N": 3, "K": 5}
        with pytest.raises(KeyError, match="no layer named 'conv'"):
            sub["conv"]


def test_simulate_checks_the_selected_layers_by_position(tiny_trace_path, monkeypatch):
    # after select, a layer's file index (2 for 'gate') is not its position (0): the kind check must use positions
    import dataclasses

    from accelsim import AccelsimError, load_config, simulate
    from accelsim.accelerators import registry

    matmul_only = dataclasses.replace(registry.ACCELERATORS["systolic"], kinds=("matmul",))
    monkeypatch.setitem(registry.ACCELERATORS, "systolic", matmul_only)
    with pytest.raises(AccelsimError, match="cannot run lstm layer 'gate'"):
        simulate(load_trace(tiny_trace_path), load_config("systolic"), layers=["gate", "mm"])


def test_nan_is_found_when_the_layer_is_read_not_at_load(tiny_trace, tmp_path):
    tiny_trace[1].input[2, 3] = np.nan
    tiny_trace[2].weight[0, 0] = -np.inf
    path = tiny_trace.save(tmp_path / "nan.safetensors")
    trace = load_trace(path)                      # header is fine: lazy loading does not look at values
    assert trace[0].weight.shape == (4, 2, 3, 3)  # a clean layer still reads
    with pytest.raises(TraceError) as info:
        trace[1]
    msg = str(info.value)
    assert str(path) in msg and "layer 'mm'" in msg and "'input'" in msg and "NaN or Inf" in msg
    with pytest.raises(TraceError, match=r"layer 'gate': tensor 'weight' contains NaN or Inf"):
        trace["gate"]


def test_in_memory_trace_rejects_wrong_shape_and_non_numeric_dtype():
    # in-memory layers are checked when the Trace is built, as a loaded trace's are when it is opened
    ok_w = np.ones((3, 2), np.float32)
    with pytest.raises(TraceError, match=r"layer 'fc': tensor 'input' has shape \[1, 3\] but the linear shape "
                                         r"implies \[1, 2\]"):
        Trace([Layer("fc", "linear", {"N": 1, "C": 2, "K": 3}, ok_w, np.ones((1, 3), np.float32))])
    with pytest.raises(TraceError, match=r"layer 'fc': tensor 'weight' must be a numeric numpy array, got dtype bool"):
        Trace([Layer("fc", "linear", {"N": 1, "C": 2, "K": 3}, ok_w > 0, np.ones((1, 2), np.float32))])


# -- not a trace -----------------------------------------------------------------------------


def test_missing_file_and_directory(tmp_path):
    assert "no such trace file" in trace_error(tmp_path / "nope.safetensors")
    assert "no such trace file" in trace_error(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    assert "not an accelsim trace" in trace_error(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "not an accelsim trace" in trace_error(path)


def test_plausible_length_but_header_not_json(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(struct.pack("<Q", 16) + b"\xff\xfe not json!!!!" + b"\0" * 32)
    assert "header is not JSON" in trace_error(path)
    write_raw(path, [1, 2, 3])  # type: ignore[arg-type]  # JSON, but not an object
    assert "not a JSON object" in trace_error(path)


def test_plain_safetensors_file_without_accelsim_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": np.ones((2, 2), np.float32)}, str(path))
    msg = trace_error(path)
    assert "not an accelsim trace" in msg and "'accelsim' metadata" in msg


def test_wrong_format_name(tiny_trace_path, tmp_path):
    path = rewrite(tiny_trace_path, tmp_path / "fmt.safetensors", lambda d, h: d.update(format="other-trace"))
    assert "not an accelsim trace (format is 'other-trace')" in trace_error(path)


def test_metadata_not_json(tiny_trace_path, tmp_path):
    header, data = read_raw(tiny_trace_path)
    header["__metadata__"]["accelsim"] = "{broken"
    path = write_raw(tmp_path / "meta.safetensors", header, data)
    assert "corrupt trace metadata" in trace_error(path)


# -- version, tensors, shapes, dtypes ---------------------------------------------------------


def test_unknown_format_version(tiny_trace_path, tmp_path):
    path = rewrite(tiny_trace_path, tmp_path / "v2.safetensors", lambda d, h: d.update(version=2))
    msg = trace_error(path)
    assert "unknown trace format version 2" in msg and "upgrade accelsim" in msg


def test_missing_tensor_in_header(tiny_trace_path, tmp_path):
    path = rewrite(tiny_trace_path, tmp_path / "miss.safetensors", lambda d, h: h.pop("layers.1.input"))
    msg = trace_error(path)
    assert "layer 'mm'" in msg and "missing tensor 'input'" in msg


def test_required_tensor_not_listed(tiny_trace_path, tmp_path):
    def drop_weight(doc, header):
        doc["layers"][2]["tensors"] = ["input"]

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "now.safetensors", drop_weight))
    assert "layer 'gate'" in msg and "missing tensor 'weight'" in msg


def test_unknown_tensor_name(tiny_trace_path, tmp_path):
    def add(doc, header):
        doc["layers"][1]["tensors"].append("bias")

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "bias.safetensors", add))
    assert "layer 'mm'" in msg and "unknown tensor 'bias'" in msg


def test_stored_shape_contradicts_declared_shape(tiny_trace_path, tmp_path):
    def grow_k(doc, header):
        doc["layers"][1]["shape"]["K"] = 6   # matmul weight is K x N: stored (5, 3), declared now (6, 3)

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "k6.safetensors", grow_k))
    assert "layer 'mm'" in msg and "tensor 'weight' has shape [5, 3]" in msg and "implies [6, 3]" in msg

    def transpose_stored(doc, header):
        header["layers.0.input"]["shape"] = [1, 2, 25, 1]   # same bytes, other shape

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "tr.safetensors", transpose_stored))
    assert "layer 'conv'" in msg and "tensor 'input' has shape [1, 2, 25, 1]" in msg and "[1, 2, 5, 5]" in msg


def test_inconsistent_layer_shape_and_unknown_kind(tiny_trace_path, tmp_path):
    def bad_groups(doc, header):
        doc["layers"][0]["shape"]["groups"] = 3

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "g.safetensors", bad_groups))
    assert "layer 'conv'" in msg and "groups=3 does not divide C=2" in msg

    def bad_kind(doc, header):
        doc["layers"][1]["kind"] = "attention"

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "kind.safetensors", bad_kind))
    assert "layer 'mm'" in msg and "unknown layer kind 'attention'" in msg


def test_non_numeric_dtype_bool(tiny_trace_path, tmp_path):
    # a real safetensors file whose weight is stored as BOOL, with an otherwise valid accelsim document
    header, _ = read_raw(tiny_trace_path)
    doc = json.loads(header["__metadata__"]["accelsim"])
    doc["layers"] = [doc["layers"][1]]
    path = tmp_path / "bool.safetensors"
    save_file({"layers.0.weight": np.ones((5, 3), dtype=bool), "layers.0.input": np.ones((4, 5), np.float32)},
              str(path), metadata={"accelsim": json.dumps(doc)})
    msg = trace_error(path)
    assert "layer 'mm'" in msg and "tensor 'weight' has non-numeric dtype 'BOOL'" in msg


def test_string_like_dtype_in_header(tiny_trace_path, tmp_path):
    def dtype_str(doc, header):
        header["layers.2.input"]["dtype"] = "STR"

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "str.safetensors", dtype_str))
    assert "layer 'gate'" in msg and "non-numeric dtype 'STR'" in msg


# -- truncation and absurd sizes --------------------------------------------------------------


def test_truncated_data(tiny_trace_path, tmp_path):
    raw = tiny_trace_path.read_bytes()
    header, _ = read_raw(tiny_trace_path)
    # safetensors orders the data by dtype, so find which tensor ends last: cutting 10 bytes breaks only it
    last = max((v["data_offsets"][1], k) for k, v in header.items() if k != "__metadata__")[1]
    layer_name = ["conv", "mm", "gate"][int(last.split(".")[1])]
    path = tmp_path / "cut.safetensors"
    path.write_bytes(raw[:-10])
    msg = trace_error(path)
    assert f"layer {layer_name!r}" in msg and "truncated" in msg and f"the file has {len(raw) - 10}" in msg


def test_truncated_inside_header(tiny_trace_path, tmp_path):
    raw = tiny_trace_path.read_bytes()
    path = tmp_path / "cut_header.safetensors"
    path.write_bytes(raw[:100])
    assert "truncated" in trace_error(path)


def test_absurd_header_length(tmp_path):
    path = tmp_path / "huge_header.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}" + b"\0" * 64)
    msg = trace_error(path)
    assert f"header length {2**62} bytes" in msg


def test_absurd_tensor_size(tmp_path):
    # a linear layer declaring 2**31 - 1 inputs and 3 outputs, stored consistently: each dimension is in
    # range, but the weight's 3 x (2**31 - 1) elements exceed the 2**32 limit
    c = 2**31 - 1
    doc = {"format": "accelsim-trace", "version": 1, "provenance": {},
           "layers": [{"name": "giant", "kind": "linear", "shape": {"N": 1, "C": c, "K": 3},
                       "tensors": ["weight", "input"], "attrs": {}}]}
    header = {"__metadata__": {"accelsim": json.dumps(doc)},
              "layers.0.weight": {"dtype": "F32", "shape": [3, c], "data_offsets": [0, 12 * c]},
              "layers.0.input": {"dtype": "F32", "shape": [1, c], "data_offsets": [12 * c, 16 * c]}}
    msg = trace_error(write_raw(tmp_path / "giant.safetensors", header, b"\0" * 64))
    assert "layer 'giant'" in msg and "the weight tensor would be 3 x 2147483647 = 6,442,450,941 elements" in msg
    # one dimension beyond 2**31 - 1 is refused as out of range
    doc["layers"][0]["shape"]["C"] = 2**34
    header["__metadata__"]["accelsim"] = json.dumps(doc)
    msg = trace_error(write_raw(tmp_path / "giant2.safetensors", header, b"\0" * 64))
    assert "layer 'giant': shape C=17179869184 is out of range" in msg


def test_byte_length_does_not_match_shape(tiny_trace_path, tmp_path):
    def short(doc, header):
        begin, end = header["layers.1.weight"]["data_offsets"]
        header["layers.1.weight"]["data_offsets"] = [begin, end - 1]

    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "len.safetensors", short))
    assert "layer 'mm'" in msg and "byte length 14 does not match its shape" in msg   # int8 5x3 = 15 bytes


@pytest.mark.parametrize(("what", "edit", "expected"), [
    ("stored shape not a list", lambda d, h: h["layers.1.weight"].update(shape=5), "invalid stored shape 5"),
    ("negative dim", lambda d, h: h["layers.1.weight"].update(shape=[5, -3]), "invalid stored shape [5, -3]"),
    ("offsets not a pair", lambda d, h: h["layers.1.weight"].update(data_offsets=[0]), "invalid data_offsets [0]"),
    ("offsets reversed", lambda d, h: h["layers.1.weight"].update(data_offsets=[15, 0]),
     "invalid data_offsets [15, 0]"),
    ("dtype not a string", lambda d, h: h["layers.1.weight"].update(dtype=["I8"]), "non-numeric dtype ['I8']"),
    ("tensors not a list", lambda d, h: d["layers"][1].update(tensors=5), "tensors is not a list"),
    ("shape not an object", lambda d, h: d["layers"][1].update(shape="abc"), "shape is not an object"),
    ("attrs not an object", lambda d, h: d["layers"][1].update(attrs="ab"), "attrs is not an object"),
])
def test_malformed_header_entries_raise_trace_error(tiny_trace_path, tmp_path, what, edit, expected):
    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "bad.safetensors", edit))
    assert "layer 'mm'" in msg, what
    assert expected in msg, what


def test_malformed_document(tiny_trace_path, tmp_path):
    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "p.safetensors", lambda d, h: d.update(provenance=[1])))
    assert "provenance is not an object" in msg
    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "l.safetensors", lambda d, h: d.update(layers=[])))
    assert "trace has no layers" in msg
    msg = trace_error(rewrite(tiny_trace_path, tmp_path / "e.safetensors", lambda d, h: d["layers"].__setitem__(1, 3)))
    assert "layer #1 entry is not an object" in msg


# -- layer helpers the CLI reports -------------------------------------------------------------


def test_effectual_macs_match_a_loop_count_on_a_tiny_conv(tiny_trace):
    layer = tiny_trace["conv"]
    w, x = layer.weight, np.pad(layer.input, ((0, 0), (0, 0), (1, 1), (1, 1)))   # padding=1
    count = 0
    for k in range(4):
        for p in range(5):
            for q in range(5):
                for c in range(2):
                    for r in range(3):
                        for s in range(3):
                            count += bool(w[k, c, r, s] != 0 and x[0, c, p + r, q + s] != 0)
    assert effectual_macs(layer) == count
    assert layer.macs_dense == 4 * 25 * 2 * 9
    assert count < layer.macs_dense


def test_effectual_macs_matmul_by_hand(tiny_trace):
    mm = tiny_trace["mm"]
    # input rows: row 0 = [-6..-2] (all non-zero), row 1 = [-1, 0, 1, 2, 3] (one zero), rows 2-3 all non-zero.
    # weight non-zeros per k (row): k0: 2, k1: 1, k2: 1, k3: 1, k4: 0.
    # effectual = sum over m, k of [x[m,k] != 0] * nnz(w[k]) = 3 * (2+1+1+1+0) + (2+0+1+1+0) = 15 + 4
    assert effectual_macs(mm) == 19
    assert dense_macs("matmul", mm.shape) == 60
