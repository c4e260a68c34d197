"""FastLM (lean static-cache Llama forward) agrees with transformers' forward, including after rollback."""

from __future__ import annotations

import torch

from decoding.cache import CachedLM
from decoding.drafters import ModelDrafter
from decoding.fastlm import FastLM, supports
from decoding.schedulers import speculative
from decoding.verifiers import ModelVerifier


def test_logits_match_transformers(target):
    ids = torch.arange(30) % 90
    with torch.inference_mode():
        hf, fast = CachedLM(target), FastLM(target)
        for length, keep in ((12, 3), (18, 6), (14, 1), (15, 2), (25, 4)):  # grows, rolls back, grows
            torch.testing.assert_close(fast.forward(ids[:length], keep), hf.forward(ids[:length], keep),
                                       rtol=1e-4, atol=1e-4)
        assert fast.length == hf.length == 25


def test_gqa_and_support(harness):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=48, max_position_embeddings=64)
    model = LlamaForCausalLM(cfg).eval()
    assert supports(model)
    ids = torch.arange(20) % 50
    with torch.inference_mode():
        torch.testing.assert_close(FastLM(model).forward(ids, 5), model(input_ids=ids[None]).logits[0, -5:],
                                   rtol=1e-4, atol=1e-4)


def test_fast_verifier_greedy_identical(target, drafter_model, prompts, references):
    for prompt, ref in zip(prompts, references):
        with torch.inference_mode():
            trace = speculative(ModelVerifier(target, fast=True), ModelDrafter(drafter_model), prompt,
                                max_new_tokens=24, k=4)
        assert trace.tokens == ref[:24]
