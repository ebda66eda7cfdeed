#!/usr/bin/env bash
# Installs Debian's chromium for the report's browser test (tests/report/test_report_browser.py), when
# it is missing and we may (root, apt-get). Never fails the caller: without a browser the test
# skips and says why. Safe to run again.
set -uo pipefail
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: not root or no apt-get; the report's browser test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null); then
  echo "install-chromium: apt-get could not install chromium; the report's browser test will be skipped" >&2
fi
exit 0
