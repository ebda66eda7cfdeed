"""pdflatex for the report's LaTeX tests: whether it can run here (and why not), and a compile of
``table.tex`` inside a minimal article that returns the log (read for overfull boxes).

scripts/install-latex.sh installs what the table needs; without it the tests skip and say why."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PACKAGES = ("booktabs.sty", "siunitx.sty", "tabularx.sty")  # what table.tex's preamble needs (docs/report.md)
ARTICLE = r"""\documentclass{article}
\usepackage{booktabs,siunitx,tabularx}
\tracinglostchars=3 % a character the font lacks is an error, not a silent gap
\begin{document}
\input{table.tex}
\end{document}
"""


def latex_missing() -> str | None:
    """Why the table cannot be compiled here, or None."""
    if shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None:
        return "no pdflatex: scripts/install-latex.sh installs it"
    for sty in PACKAGES:
        found = subprocess.run(["kpsewhich", sty], capture_output=True, text=True)
        if found.returncode != 0 or not found.stdout.strip():
            return f"no {sty}: scripts/install-latex.sh installs it"
    return None


def compile_table(table: Path, where: Path) -> str:
    """pdflatex on a minimal article that \\input's ``table``; asserts it compiled, returns its log."""
    shutil.copy(table, where / "table.tex")
    (where / "doc.tex").write_text(ARTICLE)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=where,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (where / "doc.pdf").stat().st_size > 0
    return (where / "doc.log").read_text(errors="replace")
