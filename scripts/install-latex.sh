#!/usr/bin/env bash
# Installs Debian's pdflatex and the packages the report's table.tex uses, for its LaTeX tests
# (tests/report/test_report_paper.py, tests/faults/test_report_latex.py), when they are missing and
# we may (root, apt-get):
#   texlive-latex-base         pdflatex, tabularx (the label column that wraps to \textwidth)
#   texlive-latex-recommended  booktabs (the rules)
#   texlive-science            siunitx (the S columns that align numbers); it depends on
#                              texlive-lang-greek (78 MB) and texlive-fonts-recommended
#   texlive-latex-extra        what a paper's preamble around table.tex usually loads, and siunitx's
#                              `translations` (siunitx loads it only when there: the table compiles
#                              without it, but the issue asked for this set and a user has it)
# No recommends: about 155 MB of packages. Never fails the caller: without them the tests
# skip and say why. Safe to run again.
set -uo pipefail
have() { kpsewhich "$1" >/dev/null 2>&1; }
if command -v pdflatex >/dev/null 2>&1 && have booktabs.sty && have siunitx.sty && have tabularx.sty; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-latex: not root or no apt-get; the report's LaTeX tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
packages=(texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-science)
# the package lists only when apt does not know the packages yet (a fresh image has none)
if ! apt-cache show "${packages[@]}" >/dev/null 2>&1; then
  apt-get update -qq || true
fi
if ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
  echo "install-latex: apt-get could not install ${packages[*]}; the report's LaTeX tests will be skipped" >&2
fi
exit 0
