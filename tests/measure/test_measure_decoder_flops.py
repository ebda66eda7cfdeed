"""Decoder (causal LM) and seq2seq (MT) FLOPs: the analytic count from the config against torch's
FlopCounterMode on real transformers models, with and without a KV cache."""

from __future__ import annotations

import pytest
import torch

from xcost_tui.measure.flops import DecoderDims, Seq2SeqDims, count_flops, decoder_forward_flops, seq2seq_generate_flops


def gpt2(attn: str, **kw):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=300,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=128,
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation=attn,
        **kw,
    )
    torch.manual_seed(0)
    return GPT2LMHeadModel(cfg).eval()


def llama():
    """A gated feed-forward and grouped-query attention (4 query heads, 2 key/value heads)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=56,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg).eval()


def test_hand_computed_decoder_forward():
    d = DecoderDims(hidden=4, layers=1, heads=1, kv_heads=1, head_dim=4, intermediate=8, vocab=10)
    # 2 rows x 3 tokens: q,o 2*6*4*4 each, k,v the same, FFN 2 matrices 2*6*4*8, attention 2*2*2*3*3*4, head 2*2*3*4*10
    assert decoder_forward_flops(d, 2, 3) == (4 * 192 + 2 * 384 + 288) + 480
    # with a cache of 5 before 3 new tokens and the LM head at one position per row
    assert (
        decoder_forward_flops(d, 2, 3, kv_len=8, logits=1)
        == (4 * 192 + 2 * 384 + 2 * 2 * 2 * 3 * 8 * 4) + 2 * 2 * 4 * 10
    )


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_gpt2_analytic_matches_flop_counter_with_and_without_cache(attn):
    m = gpt2(attn)
    d = DecoderDims.from_hf_config(m.config)
    assert (d.hidden, d.layers, d.heads, d.kv_heads, d.intermediate, d.gated) == (
        32,
        2,
        2,
        2,
        128,
        False,
    )  # n_inner: 4h
    x = torch.randint(0, 300, (3, 7))
    with torch.inference_mode():
        out, counted = count_flops(lambda: m(x, use_cache=True))
        assert counted == decoder_forward_flops(d, 3, 7)
        y = torch.randint(0, 300, (3, 4))
        mask = torch.ones(3, 11, dtype=torch.long)
        mask[0, 2] = 0  # a pad between real tokens, as the icl scorer makes them
        positions = torch.arange(7, 11).expand(3, 4)
        _, counted = count_flops(
            lambda: m(y, cache=out.cache, attention_mask=mask, position_ids=positions, logits_to_keep=1)
        )
        assert counted == decoder_forward_flops(d, 3, 4, kv_len=11, logits=1)


def test_gated_grouped_query_decoder_matches_flop_counter():
    m = llama()
    d = DecoderDims.from_hf_config(m.config)
    assert d.gated and (d.heads, d.kv_heads, d.head_dim) == (4, 2, 8)
    x = torch.randint(0, 300, (2, 9))
    with torch.inference_mode():
        _, counted = count_flops(lambda: m(x, logits_to_keep=3))
    assert counted == decoder_forward_flops(d, 2, 9, logits=3)


def test_dims_of_the_families_the_plans_name():
    from transformers import BloomConfig, GPT2Config, XGLMConfig

    xglm = DecoderDims.from_hf_config(
        XGLMConfig(vocab_size=1000, d_model=64, num_layers=3, attention_heads=4, ffn_dim=96)
    )
    assert (xglm.hidden, xglm.layers, xglm.heads, xglm.intermediate, xglm.vocab) == (64, 3, 4, 96, 1000)
    bloom = DecoderDims.from_hf_config(BloomConfig(vocab_size=500, hidden_size=64, n_layer=2, n_head=4))
    assert (bloom.hidden, bloom.layers, bloom.intermediate) == (64, 2, 256)  # 4h
    mgpt = DecoderDims.from_hf_config(GPT2Config(n_embd=64, n_layer=2, n_head=4, n_inner=100, vocab_size=10))
    assert mgpt.intermediate == 100


@pytest.mark.parametrize("beams", [1, 2])
def test_seq2seq_generation_matches_flop_counter(beams):
    from transformers import MarianConfig, MarianMTModel

    cfg = MarianConfig(
        vocab_size=300,
        d_model=32,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=48,
        max_position_embeddings=128,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    torch.manual_seed(0)
    m = MarianMTModel(cfg).eval()
    x = torch.randint(2, 300, (3, 9))
    mask = torch.ones_like(x)
    mask[0, 7:] = 0
    with torch.inference_mode():
        gen, counted = count_flops(
            lambda: m.generate(
                input_ids=x, attention_mask=mask, max_new_tokens=6, min_new_tokens=6, num_beams=beams, do_sample=False
            )
        )
    steps = gen.shape[1] - 1  # the decoder start token is not generated
    assert counted == seq2seq_generate_flops(Seq2SeqDims.from_hf_config(m.config), 3, 9, steps, beams)
