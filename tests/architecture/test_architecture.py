"""The floors of the house (docs/architecture.md), checked from the code's own import statements.

import-linter's ``layers`` contract (.importlinter, run by .ci/run) checks the direction of every
import between rooms; these tests add what it does not:

- the package's import graph, built with ``ast`` from every import statement — imports inside
  functions included, since a function-level import closes a circle as surely as a top-level one
  (only ``if TYPE_CHECKING:`` imports, which never run, are left out) — has no cycle;
- a function-level import of our own code is deferred for start-up cost only, and says so;
- the floor table in docs/architecture.md lists the same rooms in the same order as the contract.
"""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "xcost_tui"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    path: str  # its file, relative to the repository
    target: str  # the imported module of ours (the longest module path that exists)
    line: int
    deferred: bool  # inside a function
    comment: str  # the comments on the statement's lines and the comment lines just above it


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def _function_nodes(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def _comment(lines: list[str], node: ast.stmt) -> str:
    """The comments on an import's own lines, and the comment lines directly above it (or above the
    run of import statements it belongs to: one comment may speak for a block of imports)."""
    end = node.end_lineno or node.lineno
    own = [lines[i - 1].partition("#")[2] for i in range(node.lineno, end + 1) if "#" in lines[i - 1]]
    above: list[str] = []
    i = node.lineno - 2
    while i >= 0:
        text = lines[i].strip()
        if text.startswith("#"):
            above.append(text[1:])
        elif text.startswith(("from ", "import ")) and not above:
            pass  # the comment may stand above the block of imports this one belongs to
        else:
            break
        i -= 1
    return " ".join(own + above)


def imports() -> Iterator[Import]:
    modules = _modules()
    for module, path in modules.items():
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text, str(path))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        type_only, in_function = _type_checking_nodes(tree), _function_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    full = ".".join(base + ([node.module] if node.module else []))
                else:
                    full = node.module or ""
                # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module
                names = [f"{full}.{a.name}" if f"{full}.{a.name}" in modules else full for a in node.names]
            for name in names:
                if name != PACKAGE and not name.startswith(PACKAGE + "."):
                    continue
                target = _resolve(name, modules)
                if target and target != module:
                    yield Import(
                        module,
                        str(path.relative_to(ROOT)),
                        target,
                        node.lineno,
                        id(node) in in_function,
                        _comment(lines, node),
                    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_the_cycle_finder_finds_a_cycle():
    """The checker itself: a circle closed through a third module is found, a chain is not."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_import_graph_reads_function_level_imports():
    found = list(imports())
    assert any(i.deferred for i in found), "function-level imports are part of the graph"
    assert len({(i.source, i.target) for i in found}) > 100


def test_no_import_circles_function_level_imports_counted():
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], list[str]] = {}
    for imp in imports():
        edges.setdefault(imp.source, set()).add(imp.target)
        where.setdefault((imp.source, imp.target), []).append(f"{imp.line}{' (in a function)' if imp.deferred else ''}")
    found = cycles(edges)
    described = []
    for component in found:
        members = set(component)
        arrows = [
            f"{a} -> {b} (line {', '.join(where[(a, b)])})"
            for a in component
            for b in sorted(edges.get(a, ()))
            if b in members
        ]
        described.append("\n    ".join(arrows))
    assert not found, "import circles (docs/architecture.md, 'The floors'):\n  " + "\n  ".join(described)


# What a deferred import of our own code may be deferred for (docs/architecture.md).
START_UP = re.compile(r"start-up", re.IGNORECASE)


def test_deferred_imports_of_our_own_code_say_they_are_for_start_up_cost():
    silent = [
        f"{imp.path}:{imp.line} imports {imp.target}"
        for imp in imports()
        if imp.deferred and not START_UP.search(imp.comment)
    ]
    assert not silent, (
        "a function-level import of our own code is for start-up cost only and says so in a comment "
        "('# deferred: pulls in torch (start-up cost)'); hoist the others to the top of the module:\n  "
        + "\n  ".join(sorted(set(silent)))
    )


def _contract_layers() -> list[list[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:floors"]["layers"]
    return [
        sorted(part.strip().removeprefix(PACKAGE + ".") for part in re.split(r"[|:]", line))
        for line in layers.strip().splitlines()
        if line.strip()
    ]


def _documented_layers() -> list[list[str]]:
    """The rooms column of docs/architecture.md's floor table, top floor first."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## The floors", 1)[1].splitlines()
    start = next(i for i, line in enumerate(section) if line.startswith("|"))
    end = next((i for i in range(start, len(section)) if not section[i].startswith("|")), len(section))
    rows = section[start + 2 : end]  # after the header and its rule
    out = []
    for row in rows:
        cell = row.split("|")[2]  # | floor | rooms | ...
        out.append(sorted(re.findall(r"`([a-z_.]+)`", cell)))
    return out


def test_the_documented_floors_match_the_import_contract():
    assert _documented_layers() == _contract_layers()


def test_every_room_of_the_package_stands_on_a_floor():
    """A new top-level module or package must be given a floor (docs and contract), not float free."""
    placed = {room for floor in _contract_layers() for room in floor}
    rooms = {m.split(".")[1] for m in _modules() if m.count(".") >= 1}
    rooms -= {"__main__"}  # ``python -m xcost_tui``: the CLI's entry, nothing imports it
    assert sorted(rooms - placed) == []
