"""report.html in a real headless browser (Debian's chromium, scripts/install-chromium.sh): it
shows the verdict and its figures, every image decodes, nothing is fetched from outside the
file, and the console stays quiet. A broken page is caught by the same checks (the control).

XCOST_REPORT_SCREENSHOT=DIR keeps the screenshots there, to look at.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from support.report_browser import find_chromium, render
from test_report import make_report_store

from xcost_tui.report import write_report
from xcost_tui.verdict.api import verdict

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="no chromium: scripts/install-chromium.sh installs it (as root, with apt-get)"
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def keep(shot: Path) -> None:
    where = os.environ.get("XCOST_REPORT_SCREENSHOT")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(where) / shot.name)


def check_rendered(html: Path, shot: Path, sentences: list[str], figures: list[str]):
    """The checks every report page must pass; returns what the browser saw."""
    seen = render(html, shot)
    keep(shot)
    assert seen.errors == [], seen.errors
    # the page itself, then only data: URIs (the embedded figures): nothing from the network or beside the file
    assert seen.requests[0] == html.resolve().as_uri()
    assert all(u.startswith("data:image/svg+xml;base64,") for u in seen.requests[1:]), seen.requests
    images = seen.page["images"]
    assert [i["figure"] for i in images] == [f"figure-{f}" for f in figures]
    for img in images:
        assert img["complete"] and img["error"] is None, img
        assert img["width"] > 300 and img["height"] > 200, img  # decoded at its natural size
        assert img["shown_width"] > 300, img
    assert seen.page["verdict_heading"] == "Verdict"
    assert seen.page["sentences"] == sentences
    assert seen.page["title"] == "xcost-tui report"
    width, height = png_size(shot)
    assert width == 1280 and height >= 2000 and shot.stat().st_size > 50_000
    return seen


def test_the_report_renders_in_a_real_browser(tmp_path):
    store = make_report_store(tmp_path / "store")
    result = write_report(store, tmp_path / "report")
    assert sorted(result.data.sentences) == sorted(verdict(store).sentences())
    seen = check_rendered(
        result.out / "report.html",
        tmp_path / "report-synthetic.png",
        result.data.sentences,
        ["frontier", "languages", "curves", "break_even"],
    )
    text = seen.page["text"]
    for heading in (
        "Configurations",
        "Figures",
        "Accuracy per language",
        "Comparisons per language",
        "Break-even",
        "Flags",
        "Environment",
        "Seeds",
        "Files",
    ):
        assert f"\n{heading}\n" in f"\n{text}\n", heading
    assert "one run; its intervals cover the test items only" in text


def test_the_checks_catch_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>broken</title></head><body>"
        "<figure id='figure-x'><img src='data:image/svg+xml;base64,bm90IGFuIFNWRw=='></figure>"
        "<img src='missing.png'><script>console.error('boom'); undefinedFunction();</script>"
        "</body></html>",
        encoding="utf-8",
    )
    seen = render(page, tmp_path / "broken.png")
    assert any("boom" in e for e in seen.errors)
    assert any(e.startswith("exception:") for e in seen.errors)
    assert any("missing.png" in u for u in seen.requests)
    figure = seen.page["images"][0]
    assert figure["width"] == 0 and figure["error"] is not None
    with pytest.raises(AssertionError):
        check_rendered(page, tmp_path / "broken2.png", [], ["x"])


def test_folded_sentences_and_tables_still_show_and_count(tmp_path, monkeypatch):
    from xcost_tui.report import render as report_render

    monkeypatch.setattr(report_render, "FOLD_SENTENCES", 1)
    monkeypatch.setattr(report_render, "COLLAPSE_ROWS", 3)
    store = make_report_store(tmp_path / "store")
    result = write_report(store, tmp_path / "report")
    check_rendered(
        result.out / "report.html",
        tmp_path / "report-folded.png",
        result.data.sentences,
        ["frontier", "languages", "curves", "break_even"],
    )
