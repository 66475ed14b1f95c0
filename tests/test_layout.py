"""The package's layout rules, checked by reading every module's imports with ``ast`` (DESIGN: layout, imports).

- no import circle between accelsim's modules (function-level imports count: a circle that is only
  postponed to call time is still a circle in the design);
- no module imports a ``_private`` name from another module;
- only ``accelsim/export/`` imports torch;
- ``accelsim.trace`` (the format layer) never imports ``accelsim.export`` (the PyTorch side);
- ``engine/``, ``formats/`` and ``energy/`` know no chip, and no chip imports another chip.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "accelsim"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect() -> tuple[dict[str, Path], dict[str, list[tuple[int, str, list[str]]]]]:
    """Module name -> path, and module name -> [(line, imported module, imported names)] (all depths)."""
    files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    imports: dict[str, list[tuple[int, str, list[str]]]] = {}
    for name, path in files.items():
        found = []
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import: resolve against this module's package
                    pkg = name.split(".") if is_package else name.split(".")[:-1]
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([base] if base else []))
                found.append((node.lineno, base, [alias.name for alias in node.names]))
        imports[name] = found
    return files, imports


FILES, IMPORTS = collect()


def edges() -> dict[str, set[str]]:
    """Module -> the accelsim modules it imports (``from pkg import sub`` counts as importing ``pkg.sub``)."""
    graph: dict[str, set[str]] = {}
    for name, found in IMPORTS.items():
        targets = set()
        for _, module, names in found:
            if not module.startswith("accelsim"):
                continue
            subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in FILES]
            targets.update(subs)
            if len(subs) < len(names) or not names:
                targets.add(module)
        graph[name] = {t for t in targets if t in FILES and t != name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_sees_a_circle_and_a_private_import():
    # the checks below would pass on an empty graph; make sure they can fail
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []
    assert len(FILES) > 50 and "accelsim.trace.format" in FILES and "accelsim.export.exporter" in FILES


def test_no_import_circle():
    assert strongly_connected(edges()) == []


def test_no_module_imports_another_modules_private_names():
    hits = [f"{FILES[name].relative_to(PACKAGE.parent)}:{line} imports {n} from {module}"
            for name, found in IMPORTS.items() for line, module, names in found
            if module.startswith("accelsim") for n in names if n.startswith("_") and not n.startswith("__")]
    assert hits == []


def test_only_the_export_package_imports_torch():
    hits = [f"{FILES[name].relative_to(PACKAGE.parent)}:{line}"
            for name, found in IMPORTS.items() if not name.startswith("accelsim.export")
            for line, module, _ in found if module == "torch" or module.startswith("torch.")]
    assert hits == []


@pytest.mark.parametrize(("lower", "upper"), [
    ("accelsim.trace", "accelsim.export"),
    ("accelsim.engine", "accelsim.accelerators"),
    ("accelsim.formats", "accelsim.accelerators"),
    ("accelsim.energy", "accelsim.accelerators"),
    ("accelsim.formats", "accelsim.trace"),
])
def test_lower_layers_do_not_import_upper_ones(lower, upper):
    graph = edges()
    hits = [f"{m} -> {t}" for m, ts in graph.items() if m == lower or m.startswith(lower + ".")
            for t in ts if t == upper or t.startswith(upper + ".")]
    assert hits == []


def test_no_chip_imports_another_chip():
    prefix = "accelsim.accelerators."
    chips = {m.split(".")[2] for m in FILES if m.startswith(prefix) and FILES[m].name == "__init__.py"
             and m.count(".") == 2}

    def chip_of(module: str) -> str | None:
        parts = module.split(".")
        return parts[2] if module.startswith(prefix) and len(parts) > 2 and parts[2] in chips else None

    hits = [f"{m} -> {t}" for m, ts in edges().items() for t in ts
            if chip_of(m) and chip_of(t) and chip_of(m) != chip_of(t)]
    assert hits == []
