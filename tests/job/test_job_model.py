"""The heads score in fp32 whatever the autocast; ties are not given to choice 0; a saved encoder
loads as it was saved (no pooler added)."""

from __future__ import annotations

import collections

import torch
from support.jobtiny import tiny

from xcost_tui.job.batching import collate
from xcost_tui.job.loops import pick_choice
from xcost_tui.job.model import EncoderWithHeads, build_tiny_encoder, load_checkpoint, save_checkpoint


def test_head_scores_are_fp32_under_bf16_autocast(data_dir):
    model, tok, data = tiny(data_dir, 4, dtype=torch.float32)
    batch = collate(data, "mc", tok.pad_token_id)
    model.eval()
    with torch.no_grad(), torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        hidden = model.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        scores = model(batch.input_ids, batch.attention_mask, "mc")
        old_path = model.heads["mc"](hidden[:, 0])  # the head called under the autocast, as before
    assert old_path.dtype == torch.bfloat16  # the linear layers ran in bf16: close scores tie
    assert scores.dtype == torch.float32  # the head compares choices in fp32
    # the fp32 head on the bf16 features: not rounded to bf16's 8-bit mantissa
    assert not torch.equal(scores, scores.to(torch.bfloat16).float())


def test_ties_are_not_given_to_choice_zero():
    picks = collections.Counter(pick_choice([0.25, 0.25], idx)[0] for idx in range(1000))
    assert 400 < picks[0] < 600 and picks[0] + picks[1] == 1000
    assert pick_choice([0.25, 0.25], 7) == pick_choice([0.25, 0.25], 7)  # deterministic per example
    assert pick_choice([0.1, 0.3], 0) == (1, False) and pick_choice([0.3, 0.1], 0) == (0, False)
    assert pick_choice([1.0, 2.0, 2.0], "x")[0] in (1, 2) and pick_choice([1.0, 2.0, 2.0], "x")[1]


def test_a_saved_encoder_loads_without_a_pooler_and_with_identical_weights(tmp_path, data_dir):
    _, tok, data = tiny(data_dir, 4)
    model = EncoderWithHeads(
        build_tiny_encoder(
            tok, {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}, seed=3
        )
    )
    model.ensure_head("mc")
    assert getattr(model.encoder, "pooler", None) is None
    save_checkpoint(tmp_path / "ckpt", model, tok, {"key": {}})
    tok2, again, meta = load_checkpoint(tmp_path / "ckpt")
    assert getattr(again.encoder, "pooler", None) is None, "a random pooler was added on load"
    ours, theirs = model.state_dict(), again.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    batch = collate(data, "mc", tok.pad_token_id)
    model.eval(), again.eval()
    with torch.no_grad():
        assert torch.equal(
            model(batch.input_ids, batch.attention_mask, "mc"), again(batch.input_ids, batch.attention_mask, "mc")
        )
