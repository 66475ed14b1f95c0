"""Trace file format v1: one safetensors file (no pickle), loaded lazily one layer at a time.

Layout (see docs/trace-format.md):

* the safetensors header's ``__metadata__`` holds one key, ``accelsim``, a JSON document
  ``{"format": "accelsim-trace", "version": 1, "provenance": {...}, "layers": [...]}``;
  each layer entry is ``{"name", "kind", "shape": {...}, "tensors": [...], "attrs": {...}}``;
* tensor ``layers.<i>.<tensor>`` holds layer i's ``weight``, ``input`` and optionally
  ``output``, ``grad_output``, ``grad_weight``.

The header is parsed and checked here before safetensors touches the file, so every defect
(not a trace, unknown version, missing tensor, shape contradiction, non-numeric dtype,
truncation, absurd sizes) raises :class:`TraceError` naming the file, the layer and the problem.
NaN/Inf are checked when a layer's tensors are read.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.errors import TraceError, brief
from accelsim.trace.layer import (
    MAX_TENSOR_ELEMENTS,
    TENSOR_NAMES,
    Layer,
    ShapeError,
    tensor_shapes,
    validate_layer,
    validate_shape,
)

FORMAT_NAME = "accelsim-trace"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)

#: safetensors dtypes accepted for numeric tensors, as numpy dtypes.
NUMERIC_DTYPES = {
    "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
    "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
}
_NUMERIC_NP = {np.dtype(d) for d in NUMERIC_DTYPES.values()}
MAX_HEADER_BYTES = 64 * 2**20
#: Deepest nesting of the metadata document (real traces: 4; JSON nested thousands deep is refused).
MAX_METADATA_DEPTH = 32


@dataclass(frozen=True)
class LayerInfo:
    """What the header says about one layer (no tensor data read)."""

    index: int
    name: str
    kind: str
    shape: dict[str, int]
    tensors: tuple[str, ...]
    attrs: dict = field(default_factory=dict)


def _err(path: Path | str, msg: str, layer: str | None = None) -> TraceError:
    where = f"{path}" + (f": layer {layer!r}" if layer is not None else "")
    return TraceError(f"{where}: {msg}")


def _read_header(path: Path) -> tuple[dict, int]:
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise _err(path, "not an accelsim trace (file too short for a safetensors header)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES or n > size - 8:
                raise _err(path, f"not an accelsim trace, or truncated (header length {n} bytes, "
                                 f"file {size} bytes)")
            raw = fh.read(n)
    except OSError as exc:
        raise _err(path, f"cannot read file ({exc.strerror or exc})") from None
    header = _json(path, raw, "header")
    if not isinstance(header, dict):
        raise _err(path, "not an accelsim trace (header is not a JSON object)")
    return header, 8 + n


def _json(path: Path, raw: bytes | str, what: str) -> Any:
    """Parse JSON from the header; every failure (bad UTF-8, syntax, nesting, huge numbers) names the file."""
    try:
        doc = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _err(path, "not an accelsim trace (header is not JSON)" if what == "header"
                   else f"corrupt trace {what} (not JSON)") from None
    except RecursionError:
        raise _err(path, f"corrupt trace {what} (JSON nested too deeply)") from None
    except ValueError as exc:  # an integer of thousands of digits (int max_str_digits)
        raise _err(path, f"corrupt trace {what} (a number is out of range: {str(exc)[:60]})") from None
    if _depth(doc) > MAX_METADATA_DEPTH:
        raise _err(path, f"corrupt trace {what} (JSON nested deeper than {MAX_METADATA_DEPTH} levels)")
    return doc


def _depth(doc: Any) -> int:
    """Nesting depth of a parsed JSON value (iterative: the value may be nested thousands deep)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_METADATA_DEPTH:
            break
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def _parse_meta(path: Path, header: dict) -> dict:
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise _err(path, f"corrupt safetensors header (__metadata__ is a {type(meta).__name__}, not an object)")
    doc = meta.get("accelsim")
    if doc is None:
        raise _err(path, "not an accelsim trace (no 'accelsim' metadata; is it a plain safetensors file?)")
    if not isinstance(doc, str):
        raise _err(path, f"corrupt trace metadata (the 'accelsim' entry is a {type(doc).__name__}, not a JSON string)")
    doc = _json(path, doc, "metadata")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        fmt = doc.get("format") if isinstance(doc, dict) else doc
        raise _err(path, f"not an accelsim trace (format is {brief(fmt)})")
    version = doc.get("version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:  # 1.0 and true are not 1
        raise _err(path, f"unknown trace format version {brief(version)} (this accelsim reads "
                         f"{', '.join(map(str, SUPPORTED_VERSIONS))}); upgrade accelsim or re-export")
    if not isinstance(doc.get("layers"), list) or not doc["layers"]:
        raise _err(path, "trace has no layers")
    if not isinstance(doc.get("provenance") or {}, dict):
        raise _err(path, "corrupt trace metadata (provenance is not an object)")
    return doc


def _check_layers(path: Path, header: dict, doc: dict, data_start: int, file_size: int) -> list[LayerInfo]:
    infos: list[LayerInfo] = []
    data_bytes = file_size - data_start
    seen: set[str] = set()
    for i, entry in enumerate(doc["layers"]):
        if not isinstance(entry, dict):
            raise _err(path, f"layer #{i} entry is not an object")
        name = entry.get("name", f"#{i}")
        if not isinstance(name, str) or not isinstance(entry.get("kind"), str):
            raise _err(path, f"layer #{i}: name and kind must be strings, got {brief(name)}, "
                             f"{brief(entry.get('kind'))}")
        if name in seen:
            raise _err(path, "two layers have this name", name)
        seen.add(name)
        raw_shape, attrs = entry.get("shape") or {}, entry.get("attrs") or {}
        if not isinstance(raw_shape, dict):
            raise _err(path, f"layer shape is not an object: {raw_shape!r}", name)
        if not isinstance(attrs, dict):
            raise _err(path, f"layer attrs is not an object: {attrs!r}", name)
        try:
            shape = validate_shape(str(entry.get("kind")), dict(raw_shape))
        except ShapeError as exc:
            raise _err(path, str(exc), name) from None
        expected = tensor_shapes(entry["kind"], shape)
        raw_tensors = entry.get("tensors") or []
        if not isinstance(raw_tensors, list) or not all(isinstance(t, str) for t in raw_tensors):
            raise _err(path, f"layer tensors is not a list of names: {raw_tensors!r}", name)
        tensors = tuple(raw_tensors)
        for required in ("weight", "input"):
            if required not in tensors:
                raise _err(path, f"missing tensor {required!r}", name)
        for t in tensors:
            if t not in TENSOR_NAMES:
                raise _err(path, f"unknown tensor {t!r}", name)
            key = f"layers.{i}.{t}"
            desc = header.get(key)
            if not isinstance(desc, dict):
                raise _err(path, f"missing tensor {t!r}", name)
            dtype = desc.get("dtype")
            if not isinstance(dtype, str) or dtype not in NUMERIC_DTYPES:
                raise _err(path, f"tensor {t!r} has non-numeric dtype {dtype!r}", name)
            raw_stored = desc.get("shape")
            if not isinstance(raw_stored, list) or any(type(d) is not int or d < 0 for d in raw_stored):
                raise _err(path, f"tensor {t!r} has an invalid stored shape {raw_stored!r}", name)
            stored = tuple(raw_stored)
            if math.prod(stored) > MAX_TENSOR_ELEMENTS:
                raise _err(path, f"tensor {t!r} has an absurd size {list(stored)}", name)
            if stored != expected[t]:
                raise _err(path, f"tensor {t!r} has shape {list(stored)} but the declared {entry['kind']} "
                                 f"shape implies {list(expected[t])}", name)
            offsets = desc.get("data_offsets")
            if (not isinstance(offsets, list) or len(offsets) != 2 or any(type(o) is not int for o in offsets)
                    or not 0 <= offsets[0] <= offsets[1]):
                raise _err(path, f"tensor {t!r} has invalid data_offsets {offsets!r}", name)
            begin, end = offsets
            nbytes = math.prod(stored) * np.dtype(NUMERIC_DTYPES[dtype]).itemsize
            if end - begin != nbytes:
                raise _err(path, f"tensor {t!r} byte length {end - begin} does not match its shape", name)
            if end > data_bytes:
                raise _err(path, f"file is truncated: tensor {t!r} ends at byte {data_start + end} "
                                 f"but the file has {file_size}", name)
        infos.append(LayerInfo(i, name, entry["kind"], shape, tensors, dict(attrs)))
    return infos


class Trace(Sequence[Layer]):
    """A sequence of layers plus provenance. Tensors are read one layer at a time.

    Build one in memory with ``Trace(layers, provenance)``, or open a file with
    :func:`load_trace`. Indexing by position or by layer name returns a :class:`Layer`.
    """

    def __init__(self, layers: list[Layer], provenance: dict[str, Any] | None = None, *, name: str = "trace"):
        if isinstance(layers, (str, bytes, Layer)) or not isinstance(layers, Sequence):
            raise TraceError(f"Trace: expected a list of Layers, got {type(layers).__name__}")
        if not isinstance(provenance, dict | None) or not isinstance(name, str):
            raise TraceError("Trace: provenance must be a dict and name a string")
        layers = [validate_layer(ly) for ly in layers]  # checked as a loaded trace's layers are
        names = [ly.name for ly in layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise TraceError(f"Trace: two layers are named {duplicates[0]!r}")
        self._set_layers(layers, provenance, name)

    def _set_layers(self, layers: list[Layer], provenance: dict[str, Any] | None, name: str) -> None:
        self._layers: list[Layer] | None = list(layers)
        self._infos = [LayerInfo(i, ly.name, ly.kind, dict(ly.shape), tuple(ly.tensors()), dict(ly.attrs))
                       for i, ly in enumerate(layers)]
        self.provenance = dict(provenance or {})
        self.name = name
        self.path: Path | None = None

    @classmethod
    def _from_file(cls, path: Path, infos: list[LayerInfo], provenance: dict) -> Trace:
        self = cls.__new__(cls)
        self._layers = None
        self._infos = infos
        self.provenance = provenance
        self.path = path
        self.name = path.name.split(".")[0]
        return self

    # -- Sequence -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._infos)

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, slice):
            return [self[i] for i in range(*key.indices(len(self)))]
        index = self.index_of(key) if isinstance(key, str) else key
        if self._layers is not None:
            return self._layers[index]
        return self._read_layer(self._infos[index])

    def __iter__(self) -> Iterator[Layer]:
        for i in range(len(self)):
            yield self[i]

    @property
    def infos(self) -> list[LayerInfo]:
        """Per-layer header information, without reading tensors."""
        return list(self._infos)

    @property
    def layer_names(self) -> list[str]:
        return [info.name for info in self._infos]

    def index_of(self, name: str) -> int:
        """Position of the named layer in this trace (not its index in the file, which differs after select)."""
        for pos, info in enumerate(self._infos):
            if info.name == name:
                return pos
        raise KeyError(f"no layer named {name!r} (layers: {', '.join(self.layer_names)})")

    def select(self, names: Sequence[str]) -> Trace:
        """A trace with only the named layers (tensors of file traces still load lazily)."""
        check_layer_names(names, "select")
        missing = [n for n in names if n not in self.layer_names]
        if missing:
            raise TraceError(f"{self.path or self.name}: no layer named {missing[0]!r} "
                             f"(layers: {', '.join(map(repr, self.layer_names))})")
        positions = [self.index_of(n) for n in names]
        picked = [self._infos[i] for i in positions]
        if self._layers is not None:
            out = Trace.__new__(Trace)  # layers already validated when this trace was built
            out._set_layers([self._layers[i] for i in positions], self.provenance, self.name)
        else:
            out = Trace._from_file(self.path, picked, self.provenance)  # type: ignore[arg-type]
            out.name = self.name
        return out

    def _read_layer(self, info: LayerInfo) -> Layer:
        from safetensors import safe_open

        arrays: dict[str, np.ndarray] = {}
        try:
            with safe_open(str(self.path), framework="numpy") as fh:
                for t in info.tensors:
                    arrays[t] = fh.get_tensor(f"layers.{info.index}.{t}")
        except Exception as exc:  # safetensors raises its own error types
            raise _err(self.path, f"cannot read tensors ({exc})", info.name) from None
        for t, a in arrays.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise _err(self.path, f"tensor {t!r} contains NaN or Inf", info.name)
        return Layer(info.name, info.kind, dict(info.shape), attrs=dict(info.attrs), **arrays)

    # -- writing ------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the trace as a v1 file; the write is atomic (temporary name, then rename)."""
        from safetensors.numpy import save_file

        path = check_output_path(path)
        tensors: dict[str, np.ndarray] = {}
        layers_meta = []
        for i, layer in enumerate(self):
            validate_shape(layer.kind, layer.shape)
            expected = tensor_shapes(layer.kind, layer.shape)
            names = []
            for t, arr in layer.tensors().items():
                arr = np.ascontiguousarray(arr)
                if arr.dtype not in _NUMERIC_NP:  # the reader would reject it: fail at write time instead
                    raise TraceError(f"{path}: layer {layer.name!r}: tensor {t!r} has non-numeric dtype {arr.dtype} "
                                     f"(traces hold {', '.join(NUMERIC_DTYPES)})")
                if arr.shape != expected[t]:
                    raise TraceError(f"{path}: layer {layer.name!r}: tensor {t!r} has shape {list(arr.shape)}, "
                                     f"expected {list(expected[t])}")
                tensors[f"layers.{i}.{t}"] = arr
                names.append(t)
            layers_meta.append({"name": layer.name, "kind": layer.kind, "shape": layer.shape,
                                "tensors": names, "attrs": layer.attrs})
        doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "provenance": self.provenance,
               "layers": layers_meta}
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata={"accelsim": json.dumps(doc, sort_keys=True, default=_json_default)})
        os.replace(tmp, path)
        return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def check_layer_names(names: Any, where: str) -> list[str]:
    """A list of layer names, else TraceError (a bare string would be read as its characters)."""
    if isinstance(names, str):
        raise TraceError(f"{where}: layers={names!r} must be a list of layer names, e.g. [{names!r}]")
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise TraceError(f"{where}: layers must be a list of layer names (strings), got {str(names)[:60]}")
    return list(names)


def check_output_path(path: Any) -> Path:
    """The path a trace will be written to; refused (before anything is written) if it is a directory."""
    if not isinstance(path, (str, os.PathLike)):
        raise TraceError(f"expected a file path to write the trace to, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise TraceError(f"{path} is a directory: give a file name such as {path / 'trace.safetensors'}")
    if not path.parent.is_dir():
        raise TraceError(f"{path}: the folder {path.parent} does not exist")
    return path


def load_trace(path: str | os.PathLike) -> Trace:
    """Open a trace file, validate its header, and return a lazily loading :class:`Trace`."""
    if not isinstance(path, (str, os.PathLike)):
        raise TraceError(f"load_trace: expected a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    header, data_start = _read_header(path)
    doc = _parse_meta(path, header)
    infos = _check_layers(path, header, doc, data_start, path.stat().st_size)
    return Trace._from_file(path, infos, dict(doc.get("provenance") or {}))
