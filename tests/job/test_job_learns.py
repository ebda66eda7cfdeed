"""Training really learns: on a synthetic task whose answer needs context and choice together,
accuracy goes well above chance. A broken label, head or choice order would stay near 50%."""

from __future__ import annotations

from support.jobutil import eval_results, run_job
from support.synthetic import write_synthetic_data_dir


def test_training_learns_a_synthetic_task(tmp_path):
    data = write_synthetic_data_dir(tmp_path / "data", langs=("it",))
    proc = run_job(
        tmp_path / "run",
        data,
        "--method",
        "direct",
        "--langs",
        "it",
        "--lr",
        "1e-3",
        "--epochs",
        "20",
        "--batch-size",
        "16",
        "--grad-accum",
        "1",
        "--max-seq-len",
        "32",
        quick=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = eval_results(tmp_path / "run")
    assert results["it"]["n"] == 200
    assert results["it"]["accuracy"] >= 0.85, results
    assert results["en"]["accuracy"] >= 0.85, results
    # a model that learnt is not flagged as collapsed
    from support.jobutil import events

    (check,) = [e for e in events(tmp_path / "run") if e["type"] == "collapse_check"]
    assert check["collapsed"] is False and check["reasons"] == [] and check["p_value"] < 0.05
    assert check["phase"] == "target:copa" and check["eval_phase"] == "eval:en" and check["retry"] is False
