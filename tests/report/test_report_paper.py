"""Paper-ready outputs (issue 21, item 4): ``table.tex`` fits a standard article's \\textwidth
(compiled with pdflatex, the log read for overfull boxes), one number format per column, readable
labels, a languages column and a mark on contended costs; ``curves.pdf`` with the spread over runs
and log ticks whose labels do not overlap; the warnings at the top of the report; wide HTML
tables that scroll in their own box.

The store: two models, nine configurations with long labels (two learning rates of direct
fine-tuning tell themselves apart by the field), a translate-test without Quechua, icl (no
training cost), an intermediate run measured under contention. pdflatex, booktabs and siunitx
come from scripts/install-latex.sh; without them the compile is skipped, with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.latex import compile_table, latex_missing
from support.report_browser import find_chromium
from support.store_fixtures import make_run_dir

from xcost_tui import XCOPA_LANGS
from xcost_tui.report import figures, write_report
from xcost_tui.report.render import paper_label
from xcost_tui.report.texnum import column_format
from xcost_tui.store.ingest import ingest
from xcost_tui.tasks.registry import PAPER_NAMES, TASK_NAMES

pytestmark = [pytest.mark.xdist_group("report"), pytest.mark.filterwarnings("ignore:Glyph .* missing from font")]

LARGE = "FacebookAI/xlm-roberta-large"
XGLM = "facebook/xglm-564M"
NO_QU = [lang for lang in XCOPA_LANGS if lang != "qu"]


def _acc(base: float, seed: int) -> dict[str, float]:
    return {lang: base + 0.01 * seed + 0.002 * i for i, lang in enumerate(("en", *XCOPA_LANGS))}


def _lr(rate: float):
    def edit(spec):
        spec.hparams.learning_rate = rate

    return edit


def _published(spec) -> None:
    spec.translations = "published"


def _released_question(spec) -> None:
    spec.hparams.learning_rate = 1e-5
    spec.xcopa_question = "published"


def make_paper_store(root: Path) -> Path:
    for seed in range(3):
        common = {"seed": seed, "n_eval": 100, "curve_points": 4}
        make_run_dir(
            root,
            model=LARGE,
            accuracies=_acc(0.60, seed),
            device_hours=0.9,
            spec_edit=_lr(1e-5),
            run_id=f"d1-{seed}",
            **common,
        )
        make_run_dir(
            root,
            model=LARGE,
            accuracies=_acc(0.58, seed),
            device_hours=0.9,
            spec_edit=_lr(3e-5),
            run_id=f"d3-{seed}",
            **common,
        )
        # direct with XCOPA's released questions: a comparability variant of d1 (a second table)
        make_run_dir(
            root,
            model=LARGE,
            accuracies=_acc(0.59, seed),
            device_hours=0.9,
            spec_edit=_released_question,
            run_id=f"dq-{seed}",
            **common,
        )
        make_run_dir(
            root,
            model=LARGE,
            method="intermediate",
            intermediate=["siqa"],
            accuracies=_acc(0.68, seed),
            device_hours={"intermediate:siqa": 5.6, "target:copa": 0.9},
            contended={"intermediate:siqa": True} if seed == 1 else None,
            spec_edit=_lr(1e-5),
            run_id=f"siqa-{seed}",
            **common,
        )
        make_run_dir(
            root,
            model=LARGE,
            method="few-shot",
            k=16,
            shot_seed=seed,
            accuracies=_acc(0.61, seed),
            device_hours=0.95,
            spec_edit=_lr(1e-5),
            run_id=f"fs-{seed}",
            **common,
        )
        make_run_dir(
            root,
            model=LARGE,
            method="translate-test",
            langs=NO_QU,
            accuracies=_acc(0.70, seed),
            device_hours=0.9,
            spec_edit=lambda s: (_published(s), _lr(1e-5)(s)),
            run_id=f"tt-{seed}",
            **common,
        )
        make_run_dir(
            root,
            model=XGLM,
            method="icl",
            k=4,
            shot_seed=seed,
            accuracies=_acc(0.55, seed),
            seed=0,
            run_id=f"icl-{seed}",
        )
    for seed in range(2):
        make_run_dir(
            root,
            model=LARGE,
            method="intermediate",
            intermediate=["mnli", "siqa"],
            seed=seed,
            n_eval=100,
            accuracies=_acc(0.69, seed),
            device_hours={"intermediate:mnli": 24.0, "intermediate:siqa": 5.6, "target:copa": 0.9},
            spec_edit=_lr(1e-5),
            run_id=f"mnli-{seed}",
        )
    ingest(root)
    return root


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    store = make_paper_store(tmp_path_factory.mktemp("paper") / "store")
    return store, write_report(store, tmp_path_factory.mktemp("out") / "report")


def _rows(tex: str) -> list[list[str]]:
    """The configuration rows of the first table (not the model headings), split into cells."""
    body = tex.split("\\end{tabularx}")[0].split("\\midrule", 1)[1]
    return [
        [c.strip() for c in line.removesuffix("\\\\").split(" & ")]
        for line in body.splitlines()
        if line.endswith("\\\\") and not line.startswith("\\multicolumn")
    ]


def _plain(label: str) -> str:
    return label.replace("\\allowbreak{}", "")


# ---- table.tex --------------------------------------------------------------------------------


@pytest.mark.skipif(latex_missing() is not None, reason=str(latex_missing()))
def test_table_tex_fits_the_textwidth_of_an_article(paper, tmp_path):
    _, report = paper
    log = compile_table(report.out / "table.tex", tmp_path)
    assert "tab:xcost-variants" in (report.out / "table.tex").read_text()  # both tables are compiled
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)
    assert "X Columns too narrow" not in log
    assert (tmp_path / "doc.pdf").stat().st_size > 0


@pytest.mark.skipif(latex_missing() is not None, reason=str(latex_missing()))
def test_the_overfull_check_catches_a_too_wide_table(paper, tmp_path):
    """The control: the same table with every number column twice as wide must overflow."""
    _, report = paper
    text = (report.out / "table.tex").read_text()
    wide = re.sub(r"table-format=(\+?)(\d)", lambda m: f"table-format={m.group(1)}{int(m.group(2)) + 6}", text)
    (tmp_path / "wide.tex").write_text(wide)
    log = compile_table(tmp_path / "wide.tex", tmp_path)
    assert "Overfull \\hbox" in log or "X Columns too narrow" in log


def test_each_number_column_has_one_format(paper):
    _, report = paper
    tex = (report.out / "table.tex").read_text()
    rows = _rows(tex)
    assert len(rows) == len(report.data.shown) == 8
    costs = [[r[-4 + i] for r in rows] for i in range(4)]  # train device-hours, FLOPs; query ms, FLOPs
    for col in costs:
        numbers = [re.sub(r"\$.*\$$", "", c) for c in col if not c.startswith("{")]
        sci = {"e" in n for n in numbers}
        assert len(sci) == 1, col
        if sci == {False}:
            assert len({len(n.split(".")[1]) if "." in n else 0 for n in numbers}) == 1, col
    hours = costs[0]
    assert "0.90" in hours[0] and any(c.startswith("30.50") for c in hours)  # fixed, two decimals


def test_number_formats_follow_the_column_range():
    assert column_format([0.004, 0.01, None]).cell(0.004) == "0.0040"
    fixed = column_format([0.9, 30.5, 0.0])
    assert (fixed.cell(0.9), fixed.cell(30.5), fixed.cell(0.0), fixed.cell(None)) == ("0.90", "30.50", "0.00", "{--}")
    flops = column_format([9.5e15, 3.1e16])
    assert flops.header_scale == "$10^{15}$" and flops.cell(9.5e15) == "9.5" and flops.cell(3.1e16) == "31.0"
    wide = column_format([2e-6, 40.0])
    assert wide.sci and wide.cell(2e-6) == "2.0e-6" and wide.cell(40.0) == "4.0e1" and wide.table_format == "1.1e-1"
    assert column_format([0.00996, 1e-8]).cell(0.00996) == "1.0e-2"


def test_labels_are_readable_and_grouped_by_model(paper):
    _, report = paper
    tex = (report.out / "table.tex").read_text()
    assert "\\multicolumn{13}{@{}l}{\\textit{xlm-roberta-large}}" in tex
    assert "\\multicolumn{13}{@{}l}{\\textit{xglm-564M}}" in tex
    labels = [_plain(r[0]) for r in _rows(tex)]
    # tasks as the papers name them (tasks/registry.py PAPER_NAMES), not the registry's code names
    assert "SIQA$\\rightarrow$COPA" in labels and "MNLI+SIQA$\\rightarrow$COPA" in labels
    heads = [lab.split(" $\\cdot$ ")[0] for lab in labels]
    assert not any(task in head for head in heads for task in ("siqa", "mnli", "copa"))
    assert any(lab.startswith("direct $\\cdot$ learning\\_rate=3e-05") for lab in labels)
    assert not any("xlm-roberta-large" in lab or "intermediate:" in lab for lab in labels)


def test_languages_column_counts_and_names_them(paper):
    _, report = paper
    tex = (report.out / "table.tex").read_text()
    rows = {_plain(r[0]): r for r in _rows(tex)}
    tt = next(r for lab, r in rows.items() if lab.startswith("translate-test"))
    assert tt[2] == "10" and rows["SIQA$\\rightarrow$COPA"][2] == "11"
    assert "10 = all but qu" in tex and "11 = all: et, ht, id, it, qu, sw, ta, th, tr, vi, zh" in tex


def test_contended_costs_are_marked(paper, tmp_path):
    store, report = paper
    tex = (report.out / "table.tex").read_text()
    siqa = next(r for r in _rows(tex) if _plain(r[0]) == "SIQA$\\rightarrow$COPA")
    assert siqa[-4].endswith("$^\\ddagger$") and siqa[-2].endswith("$^\\ddagger$")  # device-hours, latency
    assert not siqa[-3].endswith("$") and not siqa[-1].endswith("$")  # FLOPs are counted, not timed
    assert "$^\\ddagger$: 1 run measured while other work shared the machine left out" in tex
    assert sum(line.count("$^\\ddagger$") for line in tex.splitlines() if line.endswith("\\\\")) == 2
    included = write_report(store, tmp_path / "inc", include_contended=True)
    inc = (included.out / "table.tex").read_text()
    siqa = next(r for r in _rows(inc) if _plain(r[0]) == "SIQA$\\rightarrow$COPA")
    assert siqa[-4].endswith("$^\\dagger$") and "$^\\dagger$: includes 1 run measured" in inc


# ---- curves.pdf ---------------------------------------------------------------------------------


def _shown(ax) -> list:
    """The x tick labels drawn: with text, inside the axis' view (matplotlib keeps labels of ticks
    just outside it, which are not drawn)."""
    lo, hi = sorted(ax.get_xlim())
    return [t for t in ax.get_xticklabels(which="both") if t.get_text() and lo <= t.get_position()[0] <= hi]


def _overlaps(labels) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent()) for t in labels if t.get_visible() and t.get_text()]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1 :] if ba.overlaps(bb)]


def test_curves_show_the_spread_over_runs_and_clean_log_ticks(paper):
    import matplotlib
    from matplotlib.collections import PolyCollection

    _, report = paper
    d = report.data
    with matplotlib.rc_context(figures.RC):
        fig = figures.curves(d)
        assert fig is not None
        fig.canvas.draw()
        ax = fig.axes[0]
        assert ax.get_xscale() == "log"  # 0.9 to 30.5 device-hours
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        with_runs = [c for c in d.figure_configs if any(p[3] >= 2 for p in d.curve_spread.get(c, []))]
        assert len(with_runs) >= 5 and len(bands) == len(with_runs)
        ticks = _shown(ax)
        assert len(ticks) >= 3, [t.get_text() for t in ticks]  # 0.2 to 8 device-hours: not one lone 10^0
        assert _overlaps(ticks) == []
    spread = d.curve_spread[with_runs[0]]
    assert all(lo <= hi for _, lo, hi, _ in spread) and any(lo < hi for _, lo, hi, _ in spread)


def test_the_overlap_check_catches_the_default_log_ticks(paper, monkeypatch):
    """The control: matplotlib's default log ticks label the minor ticks (2x10^-1, 3x10^-1, ...) on
    this store's curves axis (0.9 to 30.5 device-hours), and those labels overlap."""
    import matplotlib

    _, report = paper
    monkeypatch.setattr(figures, "clean_log_ticks", lambda axis, values=None: None)
    with matplotlib.rc_context(figures.RC):
        fig = figures.curves(report.data)
        fig.canvas.draw()
        assert _overlaps(_shown(fig.axes[0]))


# ---- the report's warnings and wide tables ----------------------------------------------------


def test_warnings_come_first_contention_first(paper):
    _, report = paper
    md = (report.out / "report.md").read_text(encoding="utf-8")
    assert md.index("## Warnings") < md.index("## Verdict") < md.index("## Flags")
    warnings = md.split("## Warnings", 1)[1].split("\n## ", 1)[0]
    items = [line for line in warnings.splitlines() if line.startswith("- ")]
    assert items[0].startswith("- Contention:") and "siqa→copa" in items[0]
    assert len(items) <= 8
    html = (report.out / "report.html").read_text(encoding="utf-8")
    assert html.index('id="warnings"') < html.index('id="verdict"')
    assert "<li>Contention:" in html


def test_wide_tables_scroll_in_their_own_box(paper):
    _, report = paper
    html = (report.out / "report.html").read_text(encoding="utf-8")
    assert re.search(r"\.scroll \{[^}]*overflow-x: auto", html)
    for table in re.findall(r"<table[^>]*>", html):
        assert html.count(f'<div class="scroll">{table}') == 1, table


@pytest.mark.skipif(find_chromium() is None, reason="no chromium: scripts/install-chromium.sh installs it")
def test_wide_tables_scroll_in_a_real_browser(paper, tmp_path, monkeypatch):
    """In a 1800 px window the configurations table (wider than that) takes the window's width,
    not the text's 72rem (1152 px), and scrolls inside its box; the page itself is no wider than
    the window, so nothing is cut at its edge."""
    from support import report_browser

    boxes = (
        "boxes: [...document.querySelectorAll('div.scroll')].map(b => "
        "({id: b.firstElementChild.id, client: b.clientWidth, scroll: b.scrollWidth}))"
    )
    monkeypatch.setattr(
        report_browser,
        "CHECK_JS",
        report_browser.CHECK_JS.replace("text: document.body.innerText", f"{boxes}, text: document.body.innerText"),
    )
    _, report = paper
    seen = report_browser.render(report.out / "report.html", tmp_path / "shot.png", width=1800)
    assert seen.errors == []
    assert seen.page["width"] <= 1800, seen.page["width"]
    box = next(b for b in seen.page["boxes"] if b["id"] == "configurations-table")
    assert box["client"] > 1600, box  # the window's width less the page's margins
    assert box["scroll"] > box["client"], box  # wider still: it scrolls, inside its box


def test_paper_label_names_the_tasks_as_papers_do():
    assert paper_label("mnli+siqa→copa · lr=1e-05") == "MNLI+SIQA→COPA · lr=1e-05"
    assert paper_label("arc_challenge→few-shot k=4") == "ARC-Challenge→few-shot k=4"
    assert paper_label("anli_plus→copa") == "ANLI+→COPA"
    assert paper_label("direct · translations=published") == "direct · translations=published"
    assert paper_label("icl k=16") == "icl k=16"
    assert paper_label("my_task→copa") == "my_task→COPA"  # not registered: as it is


def test_every_registered_task_has_a_paper_name():
    assert set(PAPER_NAMES) == set(TASK_NAMES)
