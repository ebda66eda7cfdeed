"""The stress test's trial of the report's ``table.tex`` (issue 20): a label with an emoji, a
control character or a letter outside ASCII compiles with plain pdflatex, each character shown.

pdflatex, booktabs and siunitx come from scripts/install-latex.sh (Debian's texlive-latex-base,
texlive-latex-recommended and texlive-science); without them the compile is skipped, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.latex import compile_table, latex_missing
from support.store_fixtures import make_run_dir

from xcost_tui.report import write_report
from xcost_tui.report.render import tex
from xcost_tui.store.ingest import ingest

pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # the figures: not this trial

# A model path whose last part (the label's model) holds an emoji, control characters (a bell, an
# ANSI colour, a line break), Latin letters with accents, Greek, Chinese and LaTeX's own specials.
MODEL = "ckpt/modèle-ß-Ø-ğ-Ω-中文-🤖\x07\x1b[31m\nred-<x>|%_&$#{}~^\\"


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
    latex_missing() is not None,
    reason=str(latex_missing()),
)
def test_report_table_tex_compiles_with_pdflatex(report, tmp_path):
    compile_table(report / "table.tex", tmp_path)
