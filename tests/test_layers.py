"""The import graph of ``optimizer`` follows the layer order declared in docs/architecture.md.

The doc's "Layers" table is the declaration: each row is a layer number and the modules or
packages in it. Every module of the package must belong to exactly one row, and the imports read
statically from its source (module level, inside functions and under ``TYPE_CHECKING`` alike) may
only go to its own package or to a lower-numbered layer. Runtime imports (all but the
``TYPE_CHECKING`` ones) may not form a cycle, between modules or between packages.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "optimizer"
DOC = ROOT / "docs" / "architecture.md"

#: Known violations being removed by another workstream: (importer, imported) -> "owner: why".
#: Temporary: it must be empty when issue 8 closes (and an entry that no longer occurs fails).
ALLOWED: dict[tuple[str, str], str] = {}


def declared_layers(text: str) -> dict[str, int]:
    """Unit (``optimizer.data``, ``optimizer.cli``) -> layer number, from the doc's Layers table."""
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    for line in section.splitlines():
        row = re.match(r"^\|\s*(\d+)\s*\|([^|]*)\|", line)
        if not row:
            continue
        for path in re.findall(r"`(optimizer/[^`]*)`", row.group(2)):
            unit = path.removesuffix("/").removesuffix(".py").replace("/", ".")
            unit = unit.removesuffix(".__init__")
            assert unit not in layers, f"{path} is declared twice in {DOC.name}"
            layers[unit] = int(row.group(1))
    return layers


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                ids |= {id(n) for n in ast.walk(sub)}
    return ids


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(imported module, runtime?) for every ``optimizer`` import in the module's source."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            # `from pkg import sub` imports the submodule; `from pkg import name` the package
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            if t == "optimizer" or t.startswith("optimizer."):
                while t not in known:
                    t = t.rsplit(".", 1)[0]
                if t != name:
                    found.append((t, id(node) not in typing_only))
    return found


def unit_of(module: str, layers: dict[str, int]) -> str:
    """The declared unit a module belongs to: the longest declared prefix."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in layers:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} is in no layer of {DOC.name}: add it to the Layers table")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


LAYERS = declared_layers(DOC.read_text(encoding="utf-8"))
MODULES = modules()
EDGES = {m: imports(m, f, set(MODULES)) for m, f in MODULES.items()}


def test_the_doc_declares_the_layers():
    assert len(set(LAYERS.values())) >= 8, LAYERS
    for unit in LAYERS:
        assert unit in MODULES, f"{DOC.name} declares {unit}, which is not a module or package"


def test_every_module_is_in_one_layer():
    for m in MODULES:
        unit_of(m, LAYERS)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith(".__main__")))
def test_every_module_imports(module):
    """Each module imports on its own (``__main__`` is left out: importing it runs the CLI)."""
    importlib.import_module(module)


def violations() -> dict[tuple[str, str], str]:
    out = {}
    for m, targets in EDGES.items():
        um = unit_of(m, LAYERS)
        for t, _ in targets:
            ut = unit_of(t, LAYERS)
            if ut == um:
                continue
            if LAYERS[ut] > LAYERS[um]:
                out[(m, t)] = f"upward: {um} (layer {LAYERS[um]}) imports {ut} (layer {LAYERS[ut]})"
            elif LAYERS[ut] == LAYERS[um]:
                out[(m, t)] = f"sideways: {um} and {ut} are both layer {LAYERS[um]}"
    return out


def test_no_upward_or_sideways_import():
    found = violations()
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not new, "\n".join(f"{a} -> {b}: {why}" for (a, b), why in sorted(new.items()))
    stale = set(ALLOWED) - set(found)
    assert not stale, f"remove these from ALLOWED, they no longer occur: {sorted(stale)}"


def test_no_import_cycle():
    runtime = {m: {t for t, rt in targets if rt} for m, targets in EDGES.items()}
    assert cycles(runtime) == []
    by_unit: dict[str, set[str]] = {}
    for m, targets in runtime.items():
        um = unit_of(m, LAYERS)
        by_unit.setdefault(um, set()).update(unit_of(t, LAYERS) for t in targets)
    for u in by_unit:
        by_unit[u].discard(u)
    assert cycles(by_unit) == []


def test_the_checker_sees_function_level_relative_and_type_only_imports(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from optimizer.pipeline.config import RunConfig\n"
        "def f():\n    from . import _labels\n    import optimizer.report.model\n"
    )
    found = imports("optimizer.optimize.mod", src, set(MODULES) | {"optimizer.optimize.mod"})
    assert ("optimizer.pipeline.config", False) in found
    assert ("optimizer.optimize._labels", True) in found
    assert ("optimizer.report.model", True) in found
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
