"""Files that fit in a head: no module over 300 lines, no function over 60, in the library and the pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
CHECKED = ("prefixes", "pipeline")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def python_files() -> list[Path]:
    return sorted(path for folder in CHECKED for path in (REPOSITORY / folder).rglob("*.py"))


def long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function or method longer than ``limit`` lines."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    length = child.end_lineno - first + 1
                    if length > limit:
                        found.append((name, length))
                visit(child, name + ".")

    visit(ast.parse(source), "")
    return found


@pytest.mark.parametrize("path", python_files(), ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_module_and_its_functions_are_short(path):
    source = path.read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines: split it (at most {MAX_MODULE_LINES})"
    assert long_functions(source, MAX_FUNCTION_LINES) == [], f"split these functions of {path.name}"


def test_a_long_nested_function_is_found():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    source = f"class A:\n    def short(self):\n        pass\n\n    def f(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n"
    assert long_functions(source, 60) == [("A.f", 62)]
    assert long_functions(source, 62) == []


def test_test_modules_have_unique_names():
    # tests/ has no __init__.py: pytest imports test modules by basename, so two files with one
    # name in different folders fail collection of the whole suite.
    names = [path.name for path in Path(__file__).parent.rglob("test_*.py")]
    assert sorted({name for name in names if names.count(name) > 1}) == []
