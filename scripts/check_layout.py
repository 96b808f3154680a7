"""The house rules of etl/ and dags/, checked by ``make lint``.

- only ``etl/settings.py`` reads the environment (``os.environ``, ``os.getenv``);
- no module is longer than ``MAX_LINES`` lines;
- no module imports another module's private (underscore) name;
- no import cycle among the package's modules (imports inside functions count too: they are
  how cycles hide; imports only for type checkers do not).

Exit code 0 when all hold, 1 with one line per breach.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500
SETTINGS = "etl.settings"
IGNORED_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset()


def modules() -> Iterator[tuple[str, Path]]:
    for folder in ("etl", "dags"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def imported(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of what ``from ... import`` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")[: -node.level] if node.level else []
    return ".".join([*base, node.module] if node.module else base)


def breaches() -> list[str]:
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    names = dict(modules())
    for module, path in names.items():
        source = path.read_text()
        where = path.relative_to(ROOT)
        lines = source.count("\n")
        if lines > MAX_LINES:
            found.append(f"{where}: {lines} lines (at most {MAX_LINES})")
        tree = ast.parse(source)
        edges = graph.setdefault(module, set())
        type_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
            for stmt in node.body
            for inner in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"environ", "getenv", "putenv"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and module != SETTINGS
            ):
                found.append(f"{where}:{node.lineno}: reads the environment (only {SETTINGS})")
            if id(node) in type_only:
                continue
            if isinstance(node, ast.ImportFrom):
                target = imported(module, node)
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and target.startswith(("etl", "dags")) and target != module:
                        found.append(f"{where}:{node.lineno}: imports {target}.{alias.name}")
                    full = f"{target}.{alias.name}"
                    edges.add(full if full in names else target)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
    found.extend(cycles({m: {e for e in es if e in names and e != m} for m, es in graph.items()}))
    return found


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """One line per strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if (node, nxt) in IGNORED_CYCLE_EDGES:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            # A package and its own modules import each other by design (__init__ re-exports).
            package = min(group)
            if len(group) > 1 and not all(
                m == package or m.startswith(package + ".") for m in group
            ):
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [f"import cycle: {' <-> '.join(group)}" for group in groups]


def main() -> int:
    found = breaches()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
