"""The stress test's trial of the report's ``table.tex`` (issue 20): a label with an emoji, a
control character or a letter outside ASCII compiles with plain pdflatex, each character shown.

pdflatex, booktabs and siunitx come from scripts/install-latex.sh (Debian's texlive-latex-base,
texlive-latex-recommended and texlive-science); without them the compile is skipped, with the reason."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.store_fixtures import make_run_dir

from xcost_tui.report import write_report
from xcost_tui.report.render import tex
from xcost_tui.store.ingest import ingest

pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # the figures: not this trial

# A model path whose last part (the label's model) holds an emoji, control characters (a bell, an
# ANSI colour, a line break), Latin letters with accents, Greek, Chinese and LaTeX's own specials.
MODEL = "ckpt/modèle-ß-Ø-ğ-Ω-中文-🤖\x07\x1b[31m\nred-<x>|%_&$#{}~^\\"
WRAPPER = r"""\documentclass{article}
\usepackage{booktabs,siunitx,tabularx}
\tracinglostchars=3 % a character the font lacks is an error, not a silent gap
\begin{document}
\input{table.tex}
\end{document}
"""


def _has_pdflatex() -> bool:
    if shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None:
        return False
    for sty in ("booktabs.sty", "siunitx.sty", "tabularx.sty"):
        found = subprocess.run(["kpsewhich", sty], capture_output=True, text=True)
        if found.returncode != 0 or not found.stdout.strip():
            return False
    return True


def test_tex_escapes_each_character_visibly():
    assert tex("a_b & 50% <x>|") == r"a\_b \& 50\% \textless{}x\textgreater{}\textbar{}"
    assert tex("modèle-ß-Ø-ğ") == r"mod\`{e}le-\ss{}-\O{}-\u{g}"
    assert tex("í") == r"\'{\i}"
    assert tex("🤖\x07") == r"\texttt{<U+1F916>}\texttt{<U+0007>}"
    assert tex("a\nb\tc") == "a b c"
    assert tex("中") == r"\texttt{<U+4E2D>}"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("latex") / "store"
    for seed in (0, 1):
        make_run_dir(root, method="direct", model=MODEL, seed=seed, langs=["it"], run_id=f"odd-s{seed}")
        make_run_dir(
            root, method="few-shot", k=4, model=MODEL, seed=seed, langs=["it"], run_id=f"odd-fs-s{seed}", shot_seed=1
        )
    ingest(root)
    return write_report(root, tmp_path_factory.mktemp("out") / "report").out


def test_report_table_tex_is_ascii_and_shows_every_character(report):
    text = (report / "table.tex").read_text(encoding="utf-8")
    assert text.isascii()
    assert "\x07" not in text and "\x1b" not in text
    label_line = next(line for line in text.splitlines() if "<U+1F916>" in line)
    for shown in (r"mod\`{e}le", r"\ss{}", r"\O{}", r"\u{g}", "<U+03A9>", "<U+4E2D>", "<U+0007>", "<U+001B>"):
        assert shown in label_line


@pytest.mark.skipif(
    not _has_pdflatex(),
    reason="no pdflatex with booktabs, siunitx and tabularx: scripts/install-latex.sh installs them",
)
def test_report_table_tex_compiles_with_pdflatex(report, tmp_path):
    shutil.copy(report / "table.tex", tmp_path / "table.tex")
    (tmp_path / "doc.tex").write_text(WRAPPER)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
