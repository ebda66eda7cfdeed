#!/usr/bin/env bash
# Installs Debian's pdflatex and booktabs (texlive-latex-base, texlive-latex-recommended) for the
# report's LaTeX test (tests/faults/test_report_latex.py), when pdflatex is missing and we may
# (root, apt-get). No recommends: about 48 MB of packages, 144 MiB installed (Debian 12: about
# 50 s with most packages already in apt's cache). Never fails the caller: without pdflatex the
# test skips and says why. Safe to run again.
set -uo pipefail
if command -v pdflatex >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-latex: not root or no apt-get; the report's LaTeX test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
packages=(texlive-latex-base texlive-latex-recommended)
# the package lists only when apt does not know the packages yet (a fresh image has none)
if ! apt-cache show "${packages[@]}" >/dev/null 2>&1; then
  apt-get update -qq || true
fi
if ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
  echo "install-latex: apt-get could not install ${packages[*]}; the report's LaTeX test will be skipped" >&2
fi
exit 0
