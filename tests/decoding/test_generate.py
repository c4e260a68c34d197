"""generate_code and LocalBackend: strategies agree, validators score every token, streaming works."""

from __future__ import annotations

import pytest

from decoding.backends import LocalBackend, backend_for
from decoding.generate import STRATEGIES, generate_code
from decoding.protocols import Backend


def test_all_strategies_same_text(tokenizer, lm_pair, harness):
    target, drafter = lm_pair
    validator = harness.perturbed(target, 0.5, seed=13)
    texts = {}
    for strategy in STRATEGIES:
        gen = generate_code("def add(a, b):", target=(target, tokenizer), drafter=(drafter, tokenizer),
                            validators=[(validator, tokenizer)], strategy=strategy, max_new_tokens=20,
                            intermediate=(harness.perturbed(target, 0.1, seed=14), tokenizer))
        texts[strategy] = gen.text
        trace = gen.trace
        assert len(gen.token_ids) == len(trace.token_logprobs["model"]) <= 20
        assert trace.t_single and trace.t_single > 0
    assert len(set(texts.values())) == 1, texts


def test_streaming_callback_reassembles_text(tokenizer, lm_pair):
    target, drafter = lm_pair
    pieces: list[str] = []
    gen = generate_code("for i in", target=(target, tokenizer), drafter=(drafter, tokenizer),
                        max_new_tokens=16, on_token=pieces.append)
    assert "".join(pieces) == gen.text


def test_local_backend_is_a_backend(tokenizer, lm_pair):
    target, drafter = lm_pair
    backend = LocalBackend(target=(target, tokenizer), drafter=(drafter, tokenizer), strategy="adaptive")
    assert isinstance(backend, Backend)
    assert backend.generate("import os", max_new_tokens=8).trace.strategy == "speculative"


def test_unknown_strategy(tokenizer, lm_pair):
    with pytest.raises(ValueError, match="unknown strategy"):
        generate_code("x", target=(lm_pair[0], tokenizer), strategy="nope")


def test_backend_for_routes_remote_names():
    assert type(backend_for("openai/gpt-4o-mini")).__name__ == "LiteLLMBackend"
    assert type(backend_for("hosted_vllm/m", api_base="http://127.0.0.1:1/v1")).__name__ == "LiteLLMBackend"


def test_token_spans_cover_the_text(tokenizer, lm_pair):
    gen = generate_code("def add(a, b):", target=(lm_pair[0], tokenizer), strategy="autoregressive", max_new_tokens=12)
    texts, offsets = gen.trace.meta["token_texts"], gen.trace.meta["token_offsets"]
    assert len(texts) == len(offsets) == len(gen.token_ids)
    assert "".join(texts) == gen.text
    assert offsets == sorted(offsets) and offsets[0] == 0


def test_empty_prompt(tokenizer, lm_pair):
    gen = generate_code("", target=(lm_pair[0], tokenizer), drafter=(lm_pair[1], tokenizer), max_new_tokens=5)
    assert len(gen.token_ids) == 5


def test_cli_offers_every_decoding_strategy():
    from trustcheck.cli.generate import STRATEGIES as CLI_STRATEGIES  # kept apart: the CLI must not import torch

    assert list(CLI_STRATEGIES) == list(STRATEGIES)
