"""The one YAML reader of accelsim: safe tags only, bounded nesting and bounded alias expansion.

PyYAML's ``safe_load`` refuses arbitrary objects but not "billion laughs" documents (anchors whose
aliases expand exponentially: a few hundred bytes that become 10^9 nodes once something walks
them) nor documents nested thousands deep (``RecursionError``). Every YAML accelsim reads (configs,
``--set`` values, energy tables, sweep specs, density files) goes through :func:`load_yaml`, which
refuses both before constructing anything, and reads files as UTF-8 with an error that names the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from accelsim.errors import AccelsimError

#: Deepest nesting of collections accepted (real configs and specs are < 6 deep).
MAX_DEPTH = 64
#: Most nodes a document may expand to once every alias is replaced by its anchor's content.
MAX_EXPANDED_NODES = 100_000


class _Loader(yaml.SafeLoader):
    """SafeLoader (pure Python, so the composer can be bounded) that limits nesting depth."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Refused(Exception):
    """A document refused by a limit (reported as the caller's error class)."""


def _expanded_size(root: Node) -> int:
    """Nodes of the document with every alias expanded (shared nodes counted once per use)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:  # iterative post-order walk: anchors may be shared, never deep recursion
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            sizes[key] = 1
            continue
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_EXPANDED_NODES:
                raise _Refused(f"its aliases expand to more than {MAX_EXPANDED_NODES:,} nodes")
            continue
        if key in on_path:
            raise _Refused("an alias refers to a collection that contains it (recursive document)")
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise _Refused("an alias refers to a collection that contains it (recursive document)")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def load_yaml(text: str, where: str, error: type[AccelsimError] = AccelsimError) -> Any:
    """Parse one YAML document from ``text``; ``where`` names its source in the errors raised.

    Raises ``error`` (an :class:`AccelsimError` subclass) for invalid YAML, nesting deeper than
    :data:`MAX_DEPTH` and documents whose aliases expand beyond :data:`MAX_EXPANDED_NODES` nodes.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return loader.construct_document(node)
    except _Refused as exc:
        raise error(f"{where}: YAML refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{where}: not valid YAML{at} ({getattr(exc, 'problem', None) or type(exc).__name__})") from None
    except ValueError as exc:  # an integer of thousands of digits (int max_str_digits), a bad date ...
        raise error(f"{where}: YAML value out of range ({str(exc)[:80]})") from None
    except RecursionError:  # the scanner and parser are iterative; kept as a last resort
        raise error(f"{where}: YAML refused: nested too deeply") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | os.PathLike, error: type[AccelsimError] = AccelsimError, what: str = "") -> Any:
    """Read a YAML file as UTF-8 and parse it with :func:`load_yaml`; every failure names the file."""
    path = Path(path)
    label = f"{what} {path}" if what else str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{label}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = " (it looks like a trace file, not YAML)" if raw[8:9] == b"{" or path.suffix == ".safetensors" else ""
        raise error(f"{label}: not a UTF-8 text YAML file (byte {exc.start}){hint}") from None
    return load_yaml(text, label, error)
