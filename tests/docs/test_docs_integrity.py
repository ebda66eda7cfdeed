"""The documentation holds no unfilled placeholder and no dead reference (issue 21): README.md and
every docs/**/*.md, whoever adds them.

Placeholders, looked for in prose (outside fenced blocks and inline code spans, where ``<run-id>``
and ``<org>/<name>`` describe the shapes of paths and messages):

- a to-do marker: ``TODO``, ``TBD``, ``FIXME``, ``XXX`` as words;
- an ALL_CAPS_WITH_UNDERSCORES token that names nothing: not in the project's code, scripts,
  benchmarks, tests or CI, nor in any doc's code (``FORECAST_RESULTS`` was one; ``OMP_WAIT_POLICY``
  is a name the code uses);
- a fill-in word in angle brackets: ``<org>``, ``<user>``, ``<your-…>``, ``<url>``, ...;

and, in code too, a URL with an angle-bracket part (``https://github.com/<org>/x`` runs nowhere).

References: every markdown link and image to a relative path (``[x](runner.md)``,
``[x](../README.md#set-up-two-commands)``, ``[x](#anchor)``) names a file or folder inside the
repository and, for a heading anchor, a heading of that file (GitHub's slugs); every mention of a
``docs/NAME.md`` exists, and none names a document outside the repository (``../x/NAME.md``); and a section named after a doc (``docs/plans.md, "Forecasts"``) is a
heading or a bold phrase (``**Prompt variants**``, a run-in section) of it.

The checkers are plain functions, tested below on samples that must fail and must pass."""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Tokens the placeholder check would flag but that are real names, each with the reason.
KNOWN_NAMES = {
    "GOMP_SPINCOUNT": "a libgomp environment variable, cited from the GCC manual in docs/runner.md",
}


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blank(text: str) -> str:
    """The text with every character but newlines replaced by a space: line numbers stay."""
    return re.sub(r"[^\n]", " ", text)


def split_code(text: str) -> tuple[str, str]:
    """(prose, code): the text with its fenced blocks and inline code spans blanked out, and the
    code alone (each span on its own line)."""
    lines = text.split("\n")
    prose_lines, code = [], []
    fence = None
    for line in lines:
        stripped = line.lstrip()
        if fence is None:
            m = re.match(r"(`{3,}|~{3,})", stripped)
            if m:
                fence = m.group(1)
                prose_lines.append(_blank(line))
                continue
            prose_lines.append(line)
        else:
            if stripped.startswith(fence) and not stripped[len(fence) :].strip():
                fence = None
            else:
                code.append(line)
            prose_lines.append(_blank(line))
    prose = "\n".join(prose_lines)
    # inline code: a run of n backticks up to the next run of exactly n, within one paragraph
    span = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.S)
    code.extend(m.group(2) for m in span.finditer(prose))
    prose = span.sub(lambda m: _blank(m.group(0)), prose)
    return prose, "\n".join(code)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


CAPS = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
TODO = re.compile(r"\b(?:TODO|TBD|FIXME|XXX)\b")
FILL_IN = re.compile(
    r"<(?:org|organi[sz]ation|owner|user|username|repo|repository|url|link|placeholder|your[-_ ][^<>\n]*|"
    r"fill[-_ ][^<>\n]*|insert[-_ ][^<>\n]*)>",
    re.I,
)
URL_WITH_ANGLE = re.compile(r"\bhttps?://[^\s)`'\"\]]*<[^>\s]*>")


@cache
def names_in_code() -> frozenset[str]:
    """Every ALL_CAPS_WITH_UNDERSCORES token of the code, scripts, benchmarks, tests (not this
    folder: its samples are placeholders) and CI, and of every doc's code."""
    names: set[str] = set()
    sources = [ROOT / "pyproject.toml", *(ROOT / ".ci").glob("*")]
    for folder in ("xcost_tui", "scripts", "benchmarks", "tests", "examples"):
        for ext in ("py", "sh", "toml", "sql", "json", "cfg", "txt"):
            sources += (ROOT / folder).rglob(f"*.{ext}")
    here = Path(__file__).resolve().parent
    for path in sources:
        if path.is_file() and here not in path.resolve().parents:
            names.update(CAPS.findall(path.read_text(encoding="utf-8", errors="replace")))
    for doc in doc_files():
        names.update(CAPS.findall(split_code(doc.read_text(encoding="utf-8"))[1]))
    return frozenset(names)


def placeholders(text: str, known: frozenset[str] | set[str]) -> list[tuple[int, str]]:
    """(line, what) for each placeholder of a markdown text."""
    prose, _ = split_code(text)
    found = [(_line(prose, m.start()), f"to-do marker {m.group()!r}") for m in TODO.finditer(prose)]
    for m in CAPS.finditer(prose):
        token = m.group()
        if token in known or token in KNOWN_NAMES or all(len(part) <= 2 for part in token.split("_")):
            continue  # a name the code uses, or math (T_A)
        found.append(
            (
                _line(prose, m.start()),
                f"{token!r} names nothing in the code: an unfilled placeholder? (a real name: put it in "
                "backticks, or in KNOWN_NAMES with the reason)",
            )
        )
    found += [(_line(prose, m.start()), f"fill-in {m.group()!r}") for m in FILL_IN.finditer(prose)]
    found += [(_line(text, m.start()), f"URL with a placeholder: {m.group()!r}") for m in URL_WITH_ANGLE.finditer(text)]
    return sorted(found)


# ---- references -------------------------------------------------------------------------------------

LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+[\"'(][^)]*)?\)"
)
REF_DEF = re.compile(r"^[ ]{0,3}\[[^\]]+\]:[ \t]*(<[^>]*>|\S+)", re.M)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
DOC_MENTION = re.compile(r"(?<![\w./-])docs/[\w./-]*?\.md\b")
OUTSIDE_MD = re.compile(r"(?<![\w./-])(?:\.\./)+[\w./-]+\.md\b")
# Files outside the repository that a doc may name, each with the reason.
OUTSIDE_ALLOWED = {
    "../shared/data/": "the offline data copies beside the repository (README, 'Set-up'), with their SOURCES.md",
}
SECTION_REF = re.compile(r"(?<![\w/.-])((?:docs/)?[\w-]+\.md),? \"([^\"\n]{2,80})\"")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(text: str) -> list[str]:
    prose, _ = split_code(text.replace("`", ""))  # a heading's code spans are part of its text
    return [m.group(1).strip().rstrip("#").strip() for m in re.finditer(r"^ {0,3}#{1,6}[ \t]+(.+)$", prose, re.M)]


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in headings(text):
        s = slug(heading)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    out.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return out


def sections(text: str) -> list[str]:
    """A doc's headings and its bold phrases, which name its run-in sections (``**Prompt variants**
    (...)``, ``- **Frontier (f)**:``, ``then **Comparability variants** when``)."""
    bold = re.findall(r"\*\*([^*\n]+)\*\*", text)
    return headings(text) + [b.strip().rstrip(".:") for b in bold]


def dead_links(doc: Path) -> list[tuple[int, str]]:
    text = doc.read_text(encoding="utf-8")
    prose, _ = split_code(text)
    found = []
    targets = [(m.start(), m.group(1)) for m in LINK.finditer(prose)] + [
        (m.start(), m.group(1)) for m in REF_DEF.finditer(prose)
    ]
    for pos, target in targets:
        target = target.strip("<>")
        if not target or SCHEME.match(target):
            continue  # a URL (http, mailto): not checked offline
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / unquote(path_part)).resolve() if path_part else doc
        where = _line(prose, pos)
        if ROOT.resolve() not in [dest, *dest.parents]:
            found.append((where, f"{target}: outside the repository"))
        elif not dest.exists():
            found.append((where, f"{target}: no such file"))
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            found.append((where, f"{target}: {dest.name} has no heading with the anchor #{anchor}"))
    return found


def dead_mentions(doc: Path) -> list[tuple[int, str]]:
    """docs/NAME.md mentioned (in prose or code) that does not exist, and a section named after a
    doc that the doc does not have."""
    text = doc.read_text(encoding="utf-8")
    found = [
        (_line(text, m.start()), f"{m.group()}: no such file")
        for m in DOC_MENTION.finditer(text)
        if not (ROOT / m.group()).is_file()
    ]
    found += [
        (_line(text, m.start()), f"{m.group()}: a document outside the repository")
        for m in OUTSIDE_MD.finditer(text)
        if not m.group().startswith(tuple(OUTSIDE_ALLOWED))
    ]
    for m in SECTION_REF.finditer(text):
        name, section = m.groups()
        candidates = [ROOT / name] if name.startswith("docs/") else [doc.parent / name, ROOT / "docs" / name]
        target = next((c for c in candidates if c.is_file()), None)
        if target is None:
            continue  # another project's file (jiant's guides): not ours to check
        wanted = section.strip("*").rstrip(".:").lower()
        if not any(wanted in s.lower() for s in sections(target.read_text(encoding="utf-8"))):
            found.append((_line(text, m.start()), f'{name}, "{section}": {target.name} has no such section'))
    return found


def _report(problems: dict[Path, list[tuple[int, str]]]) -> str:
    return "\n".join(
        f"{doc.relative_to(ROOT)}:{line}: {what}" for doc, items in problems.items() for line, what in items
    )


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_placeholders(doc: Path) -> None:
    found = placeholders(doc.read_text(encoding="utf-8"), names_in_code())
    assert not found, _report({doc: found})


def test_relative_links_and_mentions_resolve() -> None:
    problems = {doc: dead_links(doc) + dead_mentions(doc) for doc in doc_files()}
    problems = {doc: items for doc, items in problems.items() if items}
    assert not problems, _report(problems)


# ---- the checkers themselves --------------------------------------------------------------------------

SAMPLE = """# Title

Results: FORECAST_RESULTS
The numbers are TBD; see `TODO` (a code span: fine).
pip install "x @ git+https://github.com/<org>/xcost-tui"
Clone it from <org> and ask <your-admin>.

```bash
export OMP_WAIT_POLICY=PASSIVE     # a name: fine
ls <store>/runs/<run-id>/          # a path's shape: fine
git clone https://github.com/<org>/xcost-tui
```

`<org>/<name>` in a code span describes a folder: fine. T_A − T_B is math.
"""


def test_placeholders_are_found_and_patterns_left_alone() -> None:
    found = placeholders(SAMPLE, frozenset({"OMP_WAIT_POLICY"}))
    assert [line for line, _ in found] == [3, 4, 5, 5, 6, 6, 11]
    whats = " | ".join(what for _, what in found)
    assert "'FORECAST_RESULTS' names nothing" in whats and "to-do marker 'TBD'" in whats
    assert "fill-in '<org>'" in whats and "fill-in '<your-admin>'" in whats
    assert whats.count("URL with a placeholder") == 2  # in prose and in the fenced block
    assert "OMP_WAIT_POLICY" not in whats and "<store>" not in whats and "<name>" not in whats


def test_the_code_names_are_read_from_the_code() -> None:
    names = names_in_code()
    assert {"OMP_WAIT_POLICY", "XCOST_DATA_DIR", "CUDA_VISIBLE_DEVICES"} <= names
    assert "FORECAST_RESULTS" not in names


def test_dead_links_and_mentions_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path
    (root / "docs").mkdir()
    (root / "docs" / "b.md").write_text(
        "# B\n\n## Coverage of the verdict's intervals\n\n## Same\n\n## Same\n\n**Prompt variants** (`x`).\n",
        encoding="utf-8",
    )
    doc = root / "docs" / "a.md"
    doc.write_text(
        "\n".join(
            [
                "# A",
                "[ok](b.md) [ok](b.md#coverage-of-the-verdicts-intervals) [ok](b.md#same-1) [ok](#a) [web](https://x.org/y)",
                "[gone](c.md) [bad anchor](b.md#nowhere) [out](../../outside.md)",
                "`[in code](c.md)` is not a link",
                'docs/b.md, "Prompt variants" and docs/b.md, "Same" resolve; docs/b.md, "Missing" does not; docs/c.md neither',
                "The twin of `../shared/ARCHITECTURE.md`; the data's `../shared/data/SOURCES.md` (allowed).",
            ]
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    assert [what for _, what in dead_links(doc)] == [
        "c.md: no such file",
        "b.md#nowhere: b.md has no heading with the anchor #nowhere",
        "../../outside.md: outside the repository",
    ]
    assert [what for _, what in dead_mentions(doc)] == [
        "docs/c.md: no such file",
        "../../outside.md: a document outside the repository",
        "../shared/ARCHITECTURE.md: a document outside the repository",
        'docs/b.md, "Missing": b.md has no such section',
    ]
