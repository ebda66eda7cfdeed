"""Labels that tell the store's configurations apart (issue 16, item 9): the pure rule
(configuration.distinguishing_labels) and the store writing it back at every ingest."""

from __future__ import annotations

import dataclasses

from support.store_fixtures import make_run_dir

from xcost_tui.configuration import configuration_id, distinguishing_labels, label
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest
from xcost_tui.verdict.api import verdict

TT = {
    "method": "translate-test",
    "model": "FacebookAI/xlm-roberta-large",
    "seed": 0,
    "hparams": {"learning_rate": 1e-5},
}
DIRECT = {"method": "direct", "model": "FacebookAI/xlm-roberta-large", "seed": 0, "hparams": {"learning_rate": 1e-5}}


def _by_id(*specs: dict) -> dict[str, dict]:
    return {configuration_id(s): s for s in specs}


def test_two_translate_test_configurations_are_named_by_their_translations():
    published = {**TT, "translations": "published"}
    mt = {**TT, "translations": "Helsinki-NLP/opus-mt-{lang}-en"}
    assert label(published) == label(mt)  # the base label alone cannot tell them apart
    out = distinguishing_labels(_by_id(published, mt))
    assert out[configuration_id(published)] == label(published) + " · translations=published"
    assert out[configuration_id(mt)] == label(mt) + " · translations=opus-mt-{lang}-en"


def test_every_varied_field_is_named_and_unique_labels_are_left_alone():
    a = DIRECT
    b = {**DIRECT, "hparams": {"learning_rate": 3e-5, "recipe": "phang2020"}}
    other = {**DIRECT, "model": "xlm-roberta-base"}  # its own base label: nothing added
    out = distinguishing_labels(_by_id(a, b, other))
    assert out[configuration_id(a)] == label(a) + " · learning_rate=1e-05 · recipe=none"
    assert out[configuration_id(b)] == label(b) + " · learning_rate=3e-05 · recipe=phang2020"
    assert out[configuration_id(other)] == label(other)
    assert len(set(out.values())) == 3


def test_seeds_and_names_never_enter_a_label():
    # runs of one configuration differ by seed, shot seed and name: one configuration, one label
    s0, s1 = {**DIRECT, "name": "a"}, {**DIRECT, "seed": 1, "shot_seed": 2, "name": "b"}
    assert configuration_id(s0) == configuration_id(s1)
    assert distinguishing_labels(_by_id(s0)) == {configuration_id(s0): label(s0)}


def test_a_field_left_out_counts_at_its_default():
    # an old spec without translations and a new one with the default: the same configuration fields
    old, new = dict(DIRECT), {**DIRECT, "translations": None, "mt_beams": 1}
    assert configuration_id(old) == configuration_id(new)
    lr = {**DIRECT, "hparams": {"learning_rate": 2e-5}}
    out = distinguishing_labels(_by_id(new, lr))
    assert "translations" not in out[configuration_id(new)] and "mt_beams" not in out[configuration_id(new)]


def _lr(value: float):
    def edit(spec):
        spec.hparams = dataclasses.replace(spec.hparams, learning_rate=value)

    return edit


def test_the_store_writes_distinguishing_labels_at_ingest_and_the_verdict_reads_them(tmp_path):
    langs = ["it", "zh"]
    for seed in (0, 1):
        make_run_dir(tmp_path, run_id=f"lr1-s{seed}", seed=seed, langs=langs, spec_edit=_lr(1e-5))
    ingest(tmp_path, [tmp_path / "runs" / "lr1-s0", tmp_path / "runs" / "lr1-s1"])
    with connect_ro(tmp_path) as con:
        alone = {r[0] for r in con.execute("SELECT config_label FROM runs").fetchall()}
    assert alone == {"direct · tiny-xlmr"}  # one configuration: its base label
    make_run_dir(tmp_path, run_id="lr3-s0", seed=0, langs=langs, spec_edit=_lr(3e-5))
    ingest(tmp_path)
    with connect_ro(tmp_path) as con:
        by_run = dict(con.execute("SELECT run_id, config_label FROM runs").fetchall())
        board = dict(con.execute("SELECT run_id, config_label FROM leaderboard").fetchall())
        views = {r[0] for r in con.execute("SELECT label FROM configurations").fetchall()}
    assert by_run == board
    assert by_run["lr1-s0"] == by_run["lr1-s1"] == "direct · tiny-xlmr · learning_rate=1e-05"
    assert by_run["lr3-s0"] == "direct · tiny-xlmr · learning_rate=3e-05"
    assert views == {"direct · tiny-xlmr · learning_rate=1e-05", "direct · tiny-xlmr · learning_rate=3e-05"}
    labels = {c.label for c in verdict(tmp_path).configurations.values()}
    assert labels == views


def test_a_single_draw_few_shot_configuration_is_flagged(tmp_path):
    langs = ["it", "zh"]
    make_run_dir(tmp_path, run_id="fs-s0", method="few-shot", k=16, seed=0, langs=langs)
    make_run_dir(tmp_path, run_id="d-s0", seed=0, langs=langs)
    ingest(tmp_path)
    configs = {c.family: c for c in verdict(tmp_path).configurations.values()}
    assert configs["few-shot"].single_draw is True and configs["few-shot"].label.endswith(" (1 shot draw)")
    assert configs["direct"].single_draw is False and "shot draw" not in configs["direct"].label
    # a second draw: no longer a single draw (a shot seed left out is draw 0, as the job reads it)

    def draw(spec):
        spec.shot_seed = 1

    make_run_dir(tmp_path, run_id="fs-s0-d1", method="few-shot", k=16, seed=0, langs=langs, spec_edit=draw)
    ingest(tmp_path)
    configs = {c.family: c for c in verdict(tmp_path).configurations.values()}
    assert configs["few-shot"].single_draw is False and "shot draw" not in configs["few-shot"].label
