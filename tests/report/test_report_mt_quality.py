"""The report shows translate-test's MT quality beside its accuracy (issue 19): per configuration
and language, accuracy, chrF, BLEU and the reference; Quechua's missing score with its reason; the
store's mt_quality table and lang_accuracy's mt_chrf/mt_bleu carry the same figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support.store_fixtures import make_run_dir

from xcost_tui.report import write_report
from xcost_tui.rundir.records import MTScore
from xcost_tui.store import db
from xcost_tui.store.ingest import ingest

LANGS = ["it", "zh", "qu"]
CHRF = {"it": 63.25, "zh": 51.5}
BLEU = {"it": 31.75, "zh": 20.25}


def _with_mt_quality(run_dir: Path) -> None:
    """translate:<lang> phases' info.mt_quality as the job writes it (job/mtquality.py)."""
    path = run_dir / "events.jsonl"
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        ev = json.loads(line)
        if ev.get("type") == "phase_end" and str(ev.get("phase")).startswith("translate:"):
            lang = ev["phase"].split(":")[1]
            if lang in CHRF:
                m = MTScore(
                    lang, "test", "copa", "published", CHRF[lang], BLEU[lang], 100, 300, "nrefs:1|c", "nrefs:1|b"
                )
            else:
                m = MTScore(lang, "test", "copa", "published", *[None] * 6, "XCOPA ships none for Quechua")
            ev.setdefault("info", {})["mt_quality"] = [m.to_dict()]
        lines.append(json.dumps(ev))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mtq") / "store"

    def published(spec):
        spec.method = "translate-test"
        spec.translations = "published"

    for seed in (0, 1):
        make_run_dir(
            root, run_id=f"direct-s{seed}", seed=seed, langs=LANGS, accuracies={"it": 0.6, "zh": 0.58, "qu": 0.5}
        )
        d = make_run_dir(
            root,
            run_id=f"tt-s{seed}",
            seed=seed,
            langs=LANGS,
            accuracies={"it": 0.72, "zh": 0.66},
            spec_edit=published,
        )
        _with_mt_quality(d)
    ingest(root)
    return root


def test_the_store_holds_the_mt_quality(store):
    with db.connect_ro(store) as con:
        rows = con.sql("SELECT * FROM mt_quality ORDER BY run_id, lang").to_arrow_table().to_pylist()
        la = (
            con.sql(
                "SELECT run_id, lang, accuracy, mt_chrf, mt_bleu FROM lang_accuracy WHERE run_id = 'tt-s0' ORDER BY lang"
            )
            .to_arrow_table()
            .to_pylist()
        )
        direct = con.sql("SELECT mt_chrf FROM lang_accuracy WHERE run_id = 'direct-s0'").fetchall()
    assert len(rows) == 6 and {r["reference"] for r in rows} == {"copa"}
    by = {(r["run_id"], r["lang"]): r for r in rows}
    assert by[("tt-s1", "it")]["chrf"] == CHRF["it"] and by[("tt-s1", "zh")]["bleu"] == BLEU["zh"]
    assert by[("tt-s0", "qu")]["chrf"] is None and "Quechua" in by[("tt-s0", "qu")]["missing"]
    assert {r["lang"]: r["mt_chrf"] for r in la if r["lang"] != "en"} == {
        "it": CHRF["it"],
        "zh": CHRF["zh"],
        "qu": None,
    }
    assert all(v == (None,) for v in direct)


def test_the_report_shows_chrf_and_bleu_beside_translate_test_accuracy(store, tmp_path):
    out = write_report(store, tmp_path / "report").out
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Translate-test: accuracy and MT quality" in md
    section = md.split("## Translate-test: accuracy and MT quality", 1)[1].split("\n## ", 1)[0]
    assert "| language | accuracy | chrF | BLEU | reference | scored |" in section
    it_row = next(line for line in section.splitlines() if line.startswith("| it |"))
    assert "72" in it_row and "63.2" in it_row and "31.8" in it_row and "| copa |" in it_row
    qu_row = next(line for line in section.splitlines() if line.startswith("| qu |"))
    assert "XCOPA ships none for Quechua" in qu_row
    assert "direct" not in section.split("|", 1)[0]  # only translate-test configurations
    assert "sacrebleu signatures" in section
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Translate-test: accuracy and MT quality" in html
    with (out / "mt_quality.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    it = next(r for r in rows if r["lang"] == "it")
    assert float(it["chrf"]) == pytest.approx(CHRF["it"]) and it["n_runs"] == "2" and it["n_scored"] == "2"
