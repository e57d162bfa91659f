"""The layout rules of DESIGN.md and issue 14, enforced on the product's source.

Layers point one way: entry (`server.py`, `cli.py`) -> transport -> `tools/` adapters -> `kpi_core`
-> data files, with prose rendered by one renderer (`prompts`) that imports no MCP. The checks
read the source with `ast`, so an import inside a function counts as much as one at the top.

`KNOWN` lists the violations that existed when these rules were written, each to be removed by the
change that fixes it: a listed violation that no longer occurs fails the test too, so the list can
only shrink.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: The product's packages and entry modules (tests, bench and scripts are not the product).
PACKAGES = ("kpi_core", "tools", "prompts", "transport")
ENTRY = ("server", "cli")
MAX_MODULE_LINES = 900
MAX_FUNCTION_LINES = 80

#: Functions allowed past MAX_FUNCTION_LINES, each with the reason (qualified name -> reason).
LONG_FUNCTIONS: dict[str, str] = {}

#: Violations present when the rules were written; each entry goes when its fix lands.
KNOWN: set[str] = set()

#: Functions past MAX_FUNCTION_LINES when the rule was written, to be split (not excused).
KNOWN_LONG: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def product_modules() -> dict[str, Path]:
    """Every product module by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" not in path.parts:
                found[_module_name(path)] = path
    for name in ENTRY:
        found[name] = ROOT / f"{name}.py"
    return found


@cache
def tree(module: str) -> ast.Module:
    path = product_modules()[module]
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    path = product_modules()[module]
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str) -> set[str]:
    """The product modules `module` imports, anywhere in its body (functions included)."""
    known = product_modules()
    found: set[str] = set()
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                child = f"{target}.{alias.name}"
                if child in known:
                    found.add(child)
                elif target in known:
                    found.add(target)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module: imports_of(module) for module in product_modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations() -> Iterator[str]:
    graph = import_graph()
    yield from _size_violations()
    for component in cycles(graph):
        yield f"cycle: {' <-> '.join(component)}"
    for module, targets in graph.items():
        yield from _direction_violations(module, targets)


def _size_violations() -> Iterator[str]:
    for module, path in product_modules().items():
        lines = len(path.read_text("utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            yield f"size: {module} has {lines} lines"


def _layer(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def _direction_violations(module: str, targets: set[str]) -> Iterator[str]:
    """Imports that climb: below the entry into it; an adapter into another or the transport;
    kpi_core or prompts into tools, transport or the entry."""
    ordered = sorted(targets)
    if module not in ENTRY:
        yield from (f"upward: {module} imports {t}" for t in ordered if t in ENTRY)
    if _is_adapter(module):
        yield from (f"adapter: {module} imports {t}" for t in ordered if _is_adapter(t))
        yield from (f"upward: {module} imports {t}" for t in ordered if _layer(t) == "transport")
    if _layer(module) in ("kpi_core", "prompts"):
        climbs = ("tools", "transport", *ENTRY)
        yield from (f"upward: {module} imports {t}" for t in ordered if _layer(t) in climbs)


def _is_adapter(module: str) -> bool:
    parts = module.split(".")
    return len(parts) == 2 and parts[0] == "tools" and not parts[1].startswith("_")


def test_the_layout_rules_hold_except_for_the_listed_known_violations() -> None:
    found = set(violations())
    assert found - KNOWN == set(), "new layout violations"
    assert KNOWN - found == set(), "fixed violations still listed in KNOWN: remove them"


def _functions(module: str) -> Iterator[tuple[str, int]]:
    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                assert child.end_lineno is not None
                yield name, child.end_lineno - child.lineno + 1
                yield from walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(tree(module), f"{module}:")


def test_no_function_is_longer_than_the_limit_without_a_stated_reason() -> None:
    long = {
        name: lines
        for module in product_modules()
        for name, lines in _functions(module)
        if lines > MAX_FUNCTION_LINES
    }
    unexplained = {name for name in long if name not in LONG_FUNCTIONS}
    assert unexplained - KNOWN_LONG == set(), {name: long[name] for name in unexplained}
    assert KNOWN_LONG - unexplained == set(), "split functions still listed in KNOWN_LONG"
    stale = set(LONG_FUNCTIONS) - set(long)
    assert stale == set(), "functions listed as long are no longer long: remove them"


def _literal_sets() -> dict[frozenset[object], list[str]]:
    """Every `Literal[...]` of two or more values in the product, by its set of values."""
    places: dict[frozenset[object], list[str]] = defaultdict(list)
    for module in product_modules():
        for node in ast.walk(tree(module)):
            if not (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name | ast.Attribute)
                and (getattr(node.value, "id", None) or getattr(node.value, "attr", None))
                == "Literal"
            ):
                continue
            elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if all(isinstance(item, ast.Constant) for item in elements) and len(elements) > 1:
                values = frozenset(
                    item.value for item in elements if isinstance(item, ast.Constant)
                )
                places[values].append(f"{module}:{node.lineno}")
    return places


def test_each_literal_type_is_written_once() -> None:
    repeated = {
        ", ".join(sorted(map(str, values))): where
        for values, where in _literal_sets().items()
        if len(where) > 1
    }
    assert set(repeated) - KNOWN_LITERALS == set(), repeated
    assert KNOWN_LITERALS - set(repeated) == set(), "fixed literal repeats still listed"


#: Literal value sets written more than once when the rule was written (to be emptied).
KNOWN_LITERALS: set[str] = set()


def test_each_public_class_name_names_one_class() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for module in product_modules():
        for node in tree(module).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where[node.name].append(module)
    repeated = {name: modules for name, modules in where.items() if len(modules) > 1}
    assert set(repeated) == KNOWN_CLASS_NAMES, repeated


#: Class names defined in two modules when the rule was written (to be emptied).
KNOWN_CLASS_NAMES: set[str] = set()


def test_kpi_core_and_the_renderer_load_no_mcp() -> None:
    """Import every kpi_core module and `prompts` in a fresh interpreter; no `mcp` may load."""
    names = [
        module
        for module in product_modules()
        if module.split(".")[0] == "kpi_core" or module == "prompts"
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_kpi_core_exports_shadow_none_of_its_submodules() -> None:
    import kpi_core

    submodules = {
        module.split(".")[1] for module in product_modules() if module.startswith("kpi_core.")
    }
    shadowed = sorted(set(kpi_core.__all__) & submodules)
    assert shadowed == KNOWN_SHADOWED


#: kpi_core exports named like a submodule when the rule was written (to be emptied).
KNOWN_SHADOWED: list[str] = []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set[str]()}, list[list[str]]()),
    ],
)
def test_the_cycle_finder_finds_cycles_of_any_length(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert cycles(graph) == expected
