"""The static import graph of the repository's own modules, function-level imports included.

Besides `import` statements, two kinds of string references are imports too: the lazy export
tables of packages (`_EXPORTS` in `__init__.py`, resolved per imported name) and dotted module
paths in strings (`"prefixes.methods.prompt.model:PromptTuningModel"`, as plugin registries use).
The CLI's command tables (`LIBRARY_COMMANDS` in prefixes/cli, `STAGE_COMMANDS` in pipeline/cli.py)
are not followed: a stage's command imports only its own module, which the caller names as a root.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("prefixes", "pipeline")
_DOTTED = re.compile(r"^((?:prefixes|pipeline)(?:\.\w+)+)(?::\w+)?$")
_LAZY_TABLES = ("_EXPORTS", "LIBRARY_COMMANDS", "STAGE_COMMANDS")


def module_file(name: str) -> Path | None:
    """The file of a repository module or package, or None if it is not one of ours."""
    base = REPO.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def all_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


@cache
def lazy_table(name: str) -> dict[str, str]:
    """A module's lazy table (`_EXPORTS`, a command table): attribute -> module."""
    path = module_file(name)
    table: dict[str, str] = {}
    if path is None:
        return table
    for node in ast.walk(ast.parse(path.read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(t, ast.Name) and t.id in _LAZY_TABLES for t in targets):
            for key, value in zip(node.value.keys, node.value.values):
                module = value.elts[0] if isinstance(value, ast.Tuple) else value
                table[key.value] = module.value
    return table


def _resolve_from(package: str, names: list[str]) -> set[str]:
    found = {package}
    for name in names:
        if module_file(f"{package}.{name}") is not None:
            found.add(f"{package}.{name}")
        elif name in lazy_table(package):
            found.add(lazy_table(package)[name])
    return found


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    is_package = module_file(module).name == "__init__.py"
    anchor = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(anchor + ([node.module] if node.module else []))


@cache
def direct_imports(module: str) -> frozenset[str]:
    """Repository modules that `module` imports (parents included: importing a.b runs a)."""
    tree = ast.parse(module_file(module).read_text())
    lazy = set(lazy_table(module).values())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(_resolve_from(_absolute(module, node), [alias.name for alias in node.names]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value not in lazy:
            match = _DOTTED.match(node.value)
            if match:
                found.add(match.group(1))
    ours = {parent for name in found if module_file(name) for parent in _with_parents(name)}
    return frozenset(name for name in ours if module_file(name) and name != module)


def closure(roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = [parent for root in roots for parent in _with_parents(root)]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(direct_imports(name))
    return seen
