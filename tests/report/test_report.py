"""`xcost-tui report`: the files, what they say (the verdict API's numbers and sentences), the
selection (a plan, --where, everything), the options and the errors. On a synthetic store of
run directories (store_fixtures), ingested as a real store is."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support.store_fixtures import make_run_dir

from xcost_tui import XCOPA_LANGS, cli
from xcost_tui.report import ReportError, write_report
from xcost_tui.report.select import everything, from_plan, from_where
from xcost_tui.rundir import CurvePoint
from xcost_tui.store import db
from xcost_tui.store.ingest import ingest
from xcost_tui.verdict.api import verdict

LANGS = ["it", "zh", "qu", "sw"]
PLAN = """
[plan]
name = "report-test"
[defaults]
model = "tiny-xlmr"
langs = ["it", "zh", "qu", "sw"]
seeds = [0, 1, 2]
[[experiment]]
name = "direct"
method = "direct"
[[experiment]]
name = "siqa"
method = "intermediate"
intermediate = ["siqa"]
"""


def _curve(run_dir: Path, base: float, cost0: float, points: int = 4) -> None:
    """Learning-curve points of the target phase, appended as the job writes them."""
    with (run_dir / "events.jsonl").open("a", encoding="utf-8") as f:
        for p in range(1, points + 1):
            acc = {lang: base - 0.1 + 0.1 * p / points for lang in LANGS}
            ev = CurvePoint(
                "target:copa",
                p,
                10 * p,
                10 * points,
                "validation",
                acc,
                {lang: 80 for lang in LANGS},
                cum_train_device_hours=cost0 + 0.01 * p / points,
                cum_train_flops=1e13 * p,
                t=1_700_000_100.0 + p,
            )
            f.write(json.dumps(ev.to_dict()) + "\n")


def _contend(run_dir: Path, phase: str) -> None:
    """Marks one phase's measurement as contended (the executor's ``contended`` cost figure)."""
    path = run_dir / "events.jsonl"
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        ev = json.loads(line)
        if ev.get("type") == "phase_end" and ev.get("phase") == phase:
            ev["costs"]["contended"] = {"value": 1, "unit": "flag", "source": "psutil"}
        lines.append(json.dumps(ev))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_report_store(root: Path) -> Path:
    """direct, siqa→copa and few-shot k=16 with 3 seeds each, rte→copa with one, a failed run."""
    for seed in range(3):
        d = make_run_dir(
            root,
            method="direct",
            seed=seed,
            langs=LANGS,
            n_eval=100,
            accuracies={"it": 0.60 + 0.01 * seed, "zh": 0.58, "qu": 0.5, "sw": 0.57, "en": 0.70},
            device_hours={"target:copa": 0.010},
            latency_p50_s=0.004,
        )
        _curve(d, 0.60, 0.0)
        d = make_run_dir(
            root,
            method="intermediate",
            intermediate=["siqa"],
            seed=seed,
            langs=LANGS,
            n_eval=100,
            accuracies={"it": 0.70 + 0.01 * seed, "zh": 0.68, "qu": 0.52, "sw": 0.66, "en": 0.80},
            device_hours={"intermediate:siqa": 0.03, "target:copa": 0.010},
            latency_p50_s=0.004,
        )
        _curve(d, 0.68, 0.03)
        if seed == 1:
            _contend(d, "target:copa")
        make_run_dir(
            root,
            method="few-shot",
            k=16,
            seed=seed,
            langs=LANGS,
            n_eval=100,
            accuracies={"it": 0.61, "zh": 0.59, "qu": 0.5, "sw": 0.57, "en": 0.70},
            device_hours={"target:copa": 0.010, **{f"few-shot:{lang}": 0.001 for lang in LANGS}},
        )
    make_run_dir(
        root,
        method="intermediate",
        intermediate=["rte"],
        seed=0,
        langs=LANGS,
        n_eval=100,
        accuracies={"it": 0.62, "zh": 0.60, "qu": 0.5, "sw": 0.58, "en": 0.72},
        device_hours={"intermediate:rte": 0.02, "target:copa": 0.010},
    )
    make_run_dir(root, method="direct", seed=7, langs=LANGS, status="failed", run_id="direct-failed-s7")
    ingest(root)
    return root


# one worker runs this module, so its module-scoped fixtures are built once (pytest-xdist, pyproject)
pytestmark = pytest.mark.xdist_group("report")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_report_store(tmp_path_factory.mktemp("report") / "store")


@pytest.fixture(scope="module")
def report(store, tmp_path_factory):
    return write_report(store, tmp_path_factory.mktemp("out") / "report")


def _sql(store: Path, query: str) -> list[dict]:
    with db.connect_ro(store) as con:
        return con.sql(query).to_arrow_table().to_pylist()


def _csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---- the files ----------------------------------------------------------------------------------


def test_every_file_is_written(report):
    out = report.out
    for name in ("report.md", "report.html", "table.tex"):
        assert (out / name).stat().st_size > 0
    for fig in ("frontier", "languages", "curves", "break_even"):
        assert (out / f"{fig}.svg").read_bytes().lstrip().startswith((b"<?xml", b"<svg")), fig
        assert (out / f"{fig}.pdf").read_bytes().startswith(b"%PDF"), fig
    for table in (
        "configurations",
        "accuracy",
        "comparisons",
        "break_even",
        "cost_to_reach",
        "learning_curves",
        "runs",
        "environment",
        "flags",
    ):
        rows = _csv(out / f"{table}.csv")
        assert pq.read_table(out / f"{table}.parquet").num_rows == len(rows), table
    assert not list(out.glob(".*")), "no temporary or probe file is left behind"
    assert sorted(p.name for p in out.iterdir()) == sorted(report.files)


def test_the_report_says_the_verdict_of_the_api(report, store):
    v = verdict(store)
    md = (report.out / "report.md").read_text(encoding="utf-8")
    html = (report.out / "report.html").read_text(encoding="utf-8")
    assert len(v.sentences()) == 3  # siqa, rte and few-shot against direct
    for s in v.sentences():
        assert f"- {s}" in md
        assert f"<li>{_html_escape(s)}</li>" in html
    siqa = next(c for c in v.averaged() if c.label.startswith("siqa"))
    assert siqa.significant and siqa.diff > 0
    assert f"{100 * siqa.diff:+.1f} [{100 * siqa.low:+.1f}, {100 * siqa.high:+.1f}]" in md


def _html_escape(s: str) -> str:
    import html

    return html.escape(s)


def test_html_is_self_contained(report):
    html = (report.out / "report.html").read_text(encoding="utf-8")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html)
    assert refs and all(r.startswith("data:image/svg+xml;base64,") for r in refs), refs[:3]
    assert html.count("<img ") == 4
    for banned in ("<script", "<link", "@import", "url(", "http://", "https://"):
        assert banned not in html, banned


def test_tables_match_the_store_views(report, store):
    out = report.out
    view = {(r["config_id"], r["lang"]): r for r in _sql(store, "SELECT * FROM comparisons")}
    rows = _csv(out / "comparisons.csv")
    assert rows and len(rows) == len(view)
    for r in rows:
        ref = view[(r["config_id"], r["lang"])]
        assert float(r["diff"]) == pytest.approx(ref["diff"], abs=1e-12)
        assert float(r["ci_low"]) == pytest.approx(ref["ci_low"], abs=1e-12)
        # one p-value, stratified over seed pairs (issue 16; before: a list, one per seed pair)
        assert (float(r["mcnemar_p"]) if r["mcnemar_p"] else None) == pytest.approx(ref["mcnemar_p"], rel=1e-12)
        assert r["finding"].startswith(ref["outcome"])
    parquet = pq.read_table(out / "comparisons.parquet").to_pylist()
    assert [p["mcnemar_p"] for p in parquet] == [view[(p["config_id"], p["lang"])]["mcnemar_p"] for p in parquet]
    cfg = {r["config_id"]: r for r in _sql(store, "SELECT * FROM configurations")}
    mine = pq.read_table(out / "configurations.parquet").to_pylist()
    assert {r["config_id"] for r in mine} == set(cfg)
    for r in mine:
        assert r["avg_accuracy"] == cfg[r["config_id"]]["avg_accuracy"]
        assert r["train_device_hours"] == cfg[r["config_id"]]["train_device_hours"]


def test_latex_table_is_booktabs_and_balanced(report):
    tex = (report.out / "table.tex").read_text(encoding="utf-8")
    for word in (
        "\\toprule",
        "\\midrule",
        "\\bottomrule",
        "\\begin{tabularx}{\\textwidth}",  # issue 21: the label column wraps so the table fits \textwidth
        "\\begin{table*}",
        "\\end{table*}",
        "\\caption{",
        "S[table-format=",  # siunitx's aligned number columns
    ):
        assert word in tex
    body = tex.split("\\midrule", 1)[1].split("\\bottomrule")[0]
    # the configuration rows (the model's heading row apart: issue 21 groups the rows by model)
    rows = [line for line in body.splitlines() if line.endswith("\\\\") and not line.startswith("\\multicolumn")]
    assert len(rows) == 4  # direct, siqa, rte, few-shot
    assert "\\multicolumn{13}{@{}l}{\\textit{tiny-xlmr}}" in body
    header = next(line for line in tex.splitlines() if line.startswith("Configuration &"))

    def width(line: str) -> int:  # columns a row spans, a \multicolumn{n} counting n
        return sum(int(m.group(1)) if (m := re.match(r"\\multicolumn\{(\d+)\}", c)) else 1 for c in line.split(" & "))

    assert width(header) == 13 and all(width(line) == 13 for line in rows)
    assert "→" not in tex and "·" not in tex  # written as LaTeX, not as raw Unicode
    depth = 0
    for ch in tex.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert "\\bfseries +" in tex  # siqa's significant difference is bold (siunitx: detect-weight)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (texlive-latex-recommended)")
def test_latex_table_and_pdf_figures_compile(report, tmp_path):
    for sty in ("booktabs.sty", "siunitx.sty", "tabularx.sty"):
        if not subprocess.run(["kpsewhich", sty], capture_output=True, text=True).stdout.strip():
            pytest.skip(f"no {sty}: scripts/install-latex.sh installs it")
    figures = ["frontier", "languages", "curves", "break_even"]
    for name in figures:
        shutil.copy(report.out / f"{name}.pdf", tmp_path / f"{name}.pdf")
    doc = tmp_path / "paper.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{booktabs,siunitx,tabularx}\n\\usepackage{graphicx}\n\\begin{document}\n"
        + (report.out / "table.tex").read_text(encoding="utf-8")
        + "".join(f"\\includegraphics[width=\\linewidth]{{{name}.pdf}}\n" for name in figures)
        + "\\end{document}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "paper.pdf").exists()


def test_environment_seeds_and_flags(report):
    md = (report.out / "report.md").read_text(encoding="utf-8")
    assert "| torch | 2.5.1 (10 runs) |" in md
    assert "| git commit | abc1234 (10 runs) |" in md
    assert "| device | cpu (10 runs) |" in md
    assert re.search(r"\| direct · tiny-xlmr \| 3 \| 0–2 \| – \|", md)
    kinds = {f.kind: f for f in report.data.flags}
    assert "rte→copa · tiny-xlmr: one run" in kinds["single-seed"].text
    assert "one seed pair" in kinds["single-pair"].text
    assert "qu" in kinds["chance"].text
    assert "direct-failed-s7" in kinds["failed"].text and "left out of every number" in kinds["failed"].text
    assert "target:copa" in kinds["contended"].text and "siqa" in kinds["contended"].label
    flags = _csv(report.out / "flags.csv")
    assert {f["kind"] for f in flags} >= {"single-seed", "single-pair", "chance", "failed", "contended"}
    for f in report.data.flags:
        assert f"- {f.text}" in md


def test_figures_are_reproducible(report, store, tmp_path):
    again = write_report(store, tmp_path / "again")
    for name in (
        "frontier.svg",
        "frontier.pdf",
        "languages.svg",
        "curves.pdf",
        "break_even.svg",
        "table.tex",
        "comparisons.csv",
        "configurations.parquet",
    ):
        assert (again.out / name).read_bytes() == (report.out / name).read_bytes(), name


# ---- selection and options ---------------------------------------------------------------------


def test_a_plan_selects_its_configurations(store, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN, encoding="utf-8")
    r = write_report(store, tmp_path / "out", from_plan(str(plan)))
    assert {r.data.label(c) for c in r.data.selected} == {"direct · tiny-xlmr", "siqa→copa · tiny-xlmr"}
    assert len(r.data.sentences) == 1 and r.data.sentences[0].startswith("siqa→copa · tiny-xlmr vs direct")
    assert "plan report-test" in (r.out / "report.md").read_text(encoding="utf-8")


def test_where_selects_the_configurations_of_matching_runs(store, tmp_path):
    r = write_report(store, tmp_path / "out", from_where(store, "config_family = 'intermediate'"))
    assert sorted(r.data.label(c) for c in r.data.selected) == ["rte→copa · tiny-xlmr", "siqa→copa · tiny-xlmr"]
    assert "direct · tiny-xlmr" in [r.data.label(c) for c in r.data.shown]  # their baseline is shown
    md = (r.out / "report.md").read_text(encoding="utf-8")
    assert "direct · tiny-xlmr (baseline)" in md


def test_amortisation_adds_its_column(store, tmp_path):
    r = write_report(store, tmp_path / "out", amortise_n=3)
    rows = {x["label"]: x for x in pq.read_table(r.out / "configurations.parquet").to_pylist()}
    siqa = rows["siqa→copa · tiny-xlmr"]
    assert siqa["amortised_train_device_hours"] == pytest.approx(
        siqa["train_device_hours"] - siqa["intermediate_device_hours"] * (1 - 1 / 3)
    )
    md = (r.out / "report.md").read_text(encoding="utf-8")
    assert "amortised over 3" in md
    assert "intermediate phase amortised over 3 target tasks" in (r.out / "table.tex").read_text(encoding="utf-8")


def test_delta_changes_what_is_similar(store, tmp_path):
    few = lambda r: next(c for c in r.data.comparisons if c.lang == "avg" and c.label.startswith("few-shot"))  # noqa
    narrow = write_report(store, tmp_path / "narrow", delta=0.002)
    wide = write_report(store, tmp_path / "wide", delta=0.2)
    assert not few(narrow).similar and few(wide).similar
    assert "within ±20 points" in (wide.out / "report.md").read_text(encoding="utf-8")


def test_baseline_by_prefix_or_label(store, tmp_path):
    rows = _sql(store, "SELECT config_id, label FROM configurations")
    siqa = next(r["config_id"] for r in rows if r["label"].startswith("siqa"))
    r = write_report(store, tmp_path / "out", baseline=siqa[:6])
    assert r.data.verdict.baseline == siqa
    assert {c.baseline_id for c in r.data.comparisons} == {siqa}
    assert all(s.split(" vs ")[1].startswith("siqa→copa · tiny-xlmr") for s in r.data.sentences)
    r2 = write_report(store, tmp_path / "out2", baseline="siqa→copa · tiny-xlmr")
    assert r2.data.verdict.baseline == siqa
    assert write_report(store, tmp_path / "out3", baseline="siqa").data.verdict.baseline == siqa  # a label's start


# ---- errors: one line each ----------------------------------------------------------------------


def _cli_error(capsys, argv) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_bad_where_is_one_line(store, tmp_path, capsys):
    err = _cli_error(
        capsys, ["report", "--store", str(store), "--where", "method = = 'x'", "--out", str(tmp_path / "o")]
    )
    assert "--where \"method = = 'x'\" is not a condition on the runs table" in err
    assert err.rstrip().endswith('Parser Error: syntax error at or near "="')  # not DuckDB's echo of the SQL
    err = _cli_error(
        capsys, ["report", "--store", str(store), "--where", "no_such_column = 1", "--out", str(tmp_path / "o")]
    )
    assert "no_such_column" in err


def test_empty_selections_are_said(store, tmp_path, capsys):
    err = _cli_error(capsys, ["report", "--store", str(store), "--where", "seed = 99", "--out", str(tmp_path / "o")])
    assert "no run in the store" in err and "satisfies it" in err
    plan = tmp_path / "other.toml"
    plan.write_text(PLAN.replace('model = "tiny-xlmr"', 'model = "FacebookAI/xlm-roberta-base"'), encoding="utf-8")
    err = _cli_error(capsys, ["report", str(plan), "--store", str(store), "--out", str(tmp_path / "o")])
    assert "none of the 2 configurations of plan report-test has a succeeded run" in err
    empty = tmp_path / "empty"
    make_run_dir(empty, method="direct", seed=0, langs=LANGS, status="failed")
    ingest(empty)
    err = _cli_error(capsys, ["report", "--store", str(empty), "--out", str(tmp_path / "o")])
    assert "has no succeeded run to report on" in err
    err = _cli_error(capsys, ["report", "--store", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert "no results database" in err


def test_unwritable_out_is_one_line(store, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = _cli_error(capsys, ["report", "--store", str(store), "--out", str(blocker / "report")])
    assert f"--out {blocker / 'report'}: {blocker} is a file, not a folder" in err
    err = _cli_error(capsys, ["report", "--store", str(store), "--out", str(blocker)])
    assert "is a file, not a folder" in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
def test_an_out_folder_that_cannot_be_made(store):
    # /proc refuses a new folder to every user, root included (file permissions do not stop root)
    with pytest.raises(ReportError, match=r"--out /proc/xcost-report-test: cannot write there \(.+\): give a folder"):
        write_report(store, Path("/proc/xcost-report-test"))


def test_plan_and_where_together_and_bad_options(store, tmp_path, capsys):
    err = _cli_error(capsys, ["report", "demo", "--where", "seed = 0", "--store", str(store), "--out", str(tmp_path)])
    assert "a plan or --where, not both" in err
    err = _cli_error(capsys, ["report", "--baseline", "nosuch", "--store", str(store), "--out", str(tmp_path)])
    assert "--baseline 'nosuch': no configuration" in err
    for opt, value, message in (
        ("--delta", "0", "must be a number of points > 0"),
        ("--amortise-n", "0.5", "must be at least 1"),
    ):
        with pytest.raises(SystemExit):
            cli.main(["report", opt, value, "--out", str(tmp_path)])
        assert message in capsys.readouterr().err


def test_cli_prints_what_it_wrote(store, tmp_path, capsys):
    assert cli.main(["report", "--store", str(store), "--out", str(tmp_path / "r"), "--delta", "3"]) == 0
    out = capsys.readouterr().out
    assert "report: every configuration in the store; 4 configuration(s) with succeeded runs, 3 comparison(s)" in out
    assert f"wrote {tmp_path / 'r'}/: report.html, report.md, table.tex, 4 figure(s)" in out
    assert "within ±3 points" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")


# ---- the supervisor stays light -----------------------------------------------------------------


def test_help_does_not_import_the_report(tmp_path):
    code = (
        "import sys, contextlib, io\n"
        "from xcost_tui.cli import main\n"
        "for argv in (['--help'], ['report', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try: main(argv)\n"
        "        except SystemExit: pass\n"
        "heavy = [m for m in ('matplotlib', 'numpy', 'pyarrow', 'duckdb', 'xcost_tui.report') if m in sys.modules]\n"
        "print(heavy); print(out.getvalue())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[0] == "[]", proc.stdout + proc.stderr
    assert "--amortise-n" in proc.stdout and "--baseline" in proc.stdout


def test_the_report_imports_no_torch_nor_the_app(store, tmp_path):
    code = (
        "import sys\n"
        "from xcost_tui.report import write_report\n"
        f"write_report({str(store)!r}, {str(tmp_path / 'r')!r})\n"
        "print([m for m in ('torch', 'transformers', 'datasets', 'textual', 'xcost_tui.tui') if m in sys.modules])\n"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[]", "False"]
    assert "XCOPA" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")


def test_every_language_the_store_has_is_in_the_accuracy_table(report):
    md = (report.out / "report.md").read_text(encoding="utf-8")
    header = next(line for line in md.splitlines() if line.startswith("| configuration | en |"))
    assert [h.strip() for h in header.strip("|").split("|")][1:] == ["en", *[x for x in XCOPA_LANGS if x in LANGS]]


def test_everything_is_the_default_selection(store):
    assert everything().config_ids is None


def test_without_matplotlib_the_report_says_what_to_install(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    with pytest.raises(
        ReportError, match=r"the report's figures need matplotlib, which is not installed .*pip install"
    ):
        write_report(store, tmp_path / "out")


def test_configurations_that_share_a_label_are_told_apart(tmp_path):
    """Two direct configurations of other learning rates share the base label "direct ·
    xlm-roberta-base"; since issue 16 (item 9) the store's labels name the field that differs
    (configuration.distinguishing_labels), so the report needs no ids to tell them apart. (Before,
    this test asserted the shared label and the ids the report added; that requirement changed.)
    (The store comes from the benchmark's generator, which this also checks.)"""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from make_store import make_verdict_store

    make_verdict_store(tmp_path / "store", n_configs=27, n_seeds=2, n_items=30, en_items=10, curve_points=2)
    r = write_report(tmp_path / "store", tmp_path / "out")
    directs = [c for c in r.data.shown if r.data.config(c).family == "direct"]
    labels = {r.data.config(c).label for c in directs}
    assert len(directs) == 2 and len(labels) == 2
    assert all(lab.startswith("direct · xlm-roberta-base · ") and "learning_rate=" in lab for lab in labels)
    names = {r.data.label(c) for c in directs}
    assert names == labels  # unique labels: no id appended
    md = (r.out / "report.md").read_text(encoding="utf-8")
    assert all(f"| {n} |" in md for n in names)
    assert (
        r.data.label(next(c for c in r.data.shown if r.data.config(c).family == "intermediate")).endswith("]") is False
    )
    assert len(r.data.comparisons) > 0 and len({c.baseline_id for c in r.data.comparisons}) == 2


def test_long_lists_and_tables_fold_in_html_only(store, tmp_path, monkeypatch):
    from xcost_tui.report import render

    monkeypatch.setattr(render, "FOLD_SENTENCES", 1)
    monkeypatch.setattr(render, "COLLAPSE_ROWS", 3)
    r = write_report(store, tmp_path / "out")
    html = (r.out / "report.html").read_text(encoding="utf-8")
    assert '<div id="verdict-sentences"><ul><li>' in html and "<details><summary>2 more: show</summary>" in html
    for s in r.data.sentences:
        assert f"<li>{_html_escape(s)}</li>" in html
    assert "<details><summary>4 rows: show</summary>" in html  # the 4 configurations
    md = (r.out / "report.md").read_text(encoding="utf-8")
    assert "<details>" not in md and all(f"- {s}" in md for s in r.data.sentences)


def test_the_opening_paragraph_frames_the_intermediate_evidence(report, store, tmp_path):
    """Phang et al. (2020) did not evaluate XCOPA: where intermediate configurations are shown, the
    report says where the XCOPA evidence comes from and that jiant-simple is not the paper's values."""
    md = (report.out / "report.md").read_text(encoding="utf-8")
    assert "studied XTREME's target tasks, not XCOPA" in md and "Ponti et al. (2020)" in md
    assert "jiant-simple is jiant's defaults" in md
    direct = write_report(store, tmp_path / "direct", from_where(store, "config_family = 'direct'"))
    assert "not XCOPA" not in (direct.out / "report.md").read_text(encoding="utf-8")
