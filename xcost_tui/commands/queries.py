"""The shipped example queries (``store/queries/*.sql``) that ``xcost-tui sql --file NAME`` runs:
where they are looked for, and a ``--file`` argument read into SQL text.

No DuckDB here: ``xcost-tui sql --help`` lists the shipped queries and must start fast.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import XcostError

SUFFIX = ".sql"
PACKAGE = Path(__file__).resolve().parents[1]


def query_folders(store_root: Path) -> list[Path]:
    """Where a shipped query's bare name is looked for, first found wins: the store's own
    ``queries/`` (``store/queries`` in a checkout, the default store), the package's copy
    (pyproject's package-data ``queries/*.sql``), and the checkout the package runs from."""
    folders = [Path(store_root) / "queries", PACKAGE / "queries", PACKAGE.parent / "store" / "queries"]
    out: list[Path] = []
    for folder in folders:
        if folder.is_dir() and all(not _same(folder, seen) for seen in out):
            out.append(folder)
    return out


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def shipped_queries(store_root: Path) -> dict[str, Path]:
    """{name: file} of the shipped queries, names sorted (``leaderboard`` for leaderboard.sql)."""
    found: dict[str, Path] = {}
    for folder in query_folders(store_root):
        try:
            files = sorted(folder.glob(f"*{SUFFIX}"))
        except OSError:
            continue
        for file in files:
            found.setdefault(file.stem, file)
    return dict(sorted(found.items()))


def resolve_query_file(arg: str, store_root: Path) -> Path:
    """The file ``--file ARG`` names: a path as given when it exists; else, for a bare name
    (``leaderboard`` or ``leaderboard.sql``, no folder), the shipped query of that name."""
    path = Path(arg).expanduser()
    if path.exists() or path.parent != Path("."):
        return path
    shipped = shipped_queries(store_root)
    name = path.stem if path.suffix == SUFFIX else path.name
    return shipped.get(name, path)


def read_query_file(arg: str, store_root: Path) -> str:
    """The SQL text of ``--file ARG`` (every statement in it); an XcostError (exit 2) saying which
    file and what to do when it is missing, a folder, unreadable or not text."""
    path = resolve_query_file(arg, store_root)
    names = ", ".join(shipped_queries(store_root)) or f"none found in {Path(store_root) / 'queries'}"
    if not path.exists():
        raise XcostError(
            f"--file {arg}: no such file ({path.resolve()}); give a path to a .sql file, "
            f"or the name of a shipped query: {names}"
        )
    if path.is_dir():
        raise XcostError(f"--file {arg}: {path} is a folder; give a .sql file in it, or a shipped query: {names}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise XcostError(f"--file {arg}: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise XcostError(
            f"--file {arg}: cannot read {path} ({exc.strerror or exc}); check its permissions "
            "(`ls -l`), or give another file"
        ) from None
