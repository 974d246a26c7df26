"""Facts about the code a reviewer can check: no import cycle, small modules and
functions, one owner for the run directory's names, renderers that only read."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sweep"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Modules allowed over MAX_MODULE_LINES, with the reason (none today).
LONG_MODULES: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports anywhere in its body (function-level
    imports included): `from . import x` counts as importing `x` when `x` is a module.
    A module's own parent packages are left out: Python imports them before the module
    in any case, so they cannot close a cycle through an import of theirs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name and not name.startswith(candidate + "."):
                targets.add(candidate)
    return targets


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, or None (depth-first search, colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["sweep.images"] >= {"sweep.samples", "sweep.decode"}  # the walk sees imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_modules_and_functions_are_small():
    too_long = []
    for name, path in _modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES and name not in LONG_MODULES:
            too_long.append(f"module {name}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"function {name}.{node.name}: {length} lines")
    assert not too_long, too_long


def test_the_run_directory_names_have_one_owner():
    spelled = {name: re.findall(r"[\"']frames\.json[\"']", path.read_text(encoding="utf-8"))
               for name, path in _modules().items()}
    assert {name: len(hits) for name, hits in spelled.items() if hits} == {"sweep.layout": 1}


def test_renderers_only_read_the_store():
    """No renderer imports the store or writes JSON: the store flags the suggested
    frame (`JobStore.mark_suggested`); `tests/test_render.py::test_render_job` checks
    that rendering leaves `frames.json` byte for byte as it was."""
    for name, path in _modules().items():
        if not name.startswith("sweep.render"):
            continue
        imported = _imports(name, path, _modules())
        assert "sweep.store" not in imported, name
        assert "write_json" not in path.read_text(encoding="utf-8"), name


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_report_templates_are_package_data():
    import tomllib

    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["sweep"]
    templates = sorted((PACKAGE / "render" / "templates").iterdir())
    assert templates and all(any(t.relative_to(PACKAGE).match(p) for p in patterns) for t in templates)
    assert "jinja2>=3.1" in pyproject["project"]["dependencies"]
    assert pyproject["project"]["license"] == "MIT"

