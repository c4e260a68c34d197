"""Greedy output of every scheduler equals the target's own greedy decoding, token for token."""

from __future__ import annotations

import pytest
import torch

from decoding.drafters import HybridDrafter, ModelDrafter, NGramDrafter
from decoding.protocols import GREEDY
from decoding.schedulers import autoregressive, multi_draft, next_draft_length, speculative
from decoding.verifiers import ModelVerifier

N = 24


def run(name, target, drafter_model, prompt, h):
    v = ModelVerifier(target)
    with torch.inference_mode():
        if name == "autoregressive":
            return autoregressive(v, prompt, max_new_tokens=N)
        if name == "speculative":
            return speculative(v, ModelDrafter(drafter_model), prompt, max_new_tokens=N, k=4)
        if name == "adaptive":
            return speculative(v, ModelDrafter(drafter_model, confidence=0.5), prompt, max_new_tokens=N,
                               adaptive=True)
        if name == "ngram":
            return speculative(v, NGramDrafter(), prompt, max_new_tokens=N, k=3)
        if name == "hybrid":
            return speculative(v, HybridDrafter(ModelDrafter(drafter_model)), prompt, max_new_tokens=N, k=4,
                               adaptive=True)
        if name == "random-drafter":  # almost everything rejected
            return speculative(v, ModelDrafter(h.tiny_llama(7)), prompt, max_new_tokens=N, k=3)
        drafters = [ModelDrafter(drafter_model, name="a"), NGramDrafter(),
                    ModelDrafter(h.perturbed(target, 0.6, seed=5), name="b")]
        return multi_draft(v, drafters, prompt, max_new_tokens=N, k=4)


@pytest.mark.parametrize("name", ["autoregressive", "speculative", "adaptive", "ngram", "hybrid",
                                  "random-drafter", "multi-draft"])
def test_greedy_identical_to_target(name, target, drafter_model, prompts, references, harness):
    assert len(prompts) >= 20
    for prompt, ref in zip(prompts, references):
        trace = run(name, target, drafter_model, prompt, harness)
        assert trace.tokens == ref[:N], f"{name} diverged on prompt {prompt.tolist()}"


def test_speculative_accepts_something(target, drafter_model, prompts, harness):
    trace = run("speculative", target, drafter_model, prompts[0], harness)
    assert sum(r.accepted for r in trace.rounds) > 0
    assert len(trace.rounds) < N


def test_hybrid_uses_lookup_when_it_matches(target, drafter_model, prompts, references):
    """Rounds are drafted by lookup when the context repeats itself, by the model otherwise; the
    trace names which one drafted each round."""
    for prompt, ref in zip(prompts, references):
        with torch.inference_mode():
            trace = speculative(ModelVerifier(target), HybridDrafter(ModelDrafter(drafter_model, name="lm")), prompt,
                                max_new_tokens=N, k=4)
        assert trace.tokens == ref[:N]
        assert {r.drafter for r in trace.rounds if r.drafted} <= {"ngram", "lm"}
    repeated = torch.tensor([5, 6, 7, 8, 5, 6, 7, 8, 5, 6])
    fresh = torch.tensor([1, 2, 3])
    drafter = HybridDrafter(ModelDrafter(drafter_model, name="lm"), min_ngram=2)
    with torch.inference_mode():
        looked_up = drafter.propose(repeated, 3, GREEDY)
        modelled = drafter.propose(fresh, 3, GREEDY)
    assert looked_up.source == "ngram" and looked_up.tokens.tolist() == [7, 8, 5]
    assert modelled.source == "lm" and modelled.tokens.shape == (3,)


def test_eos_stops_and_is_kept(target, prompts, references):
    ref = references[1]
    eos = ref[5]
    first = ref.index(eos)
    with torch.inference_mode():
        trace = speculative(ModelVerifier(target), NGramDrafter(), prompts[1], max_new_tokens=N, eos_token_id=eos)
    assert trace.tokens == ref[: first + 1]


def test_max_new_tokens_exact(target, drafter_model, prompts):
    for n in (1, 2, 7):
        with torch.inference_mode():
            trace = speculative(ModelVerifier(target), ModelDrafter(drafter_model), prompts[2], max_new_tokens=n, k=5)
        assert len(trace.tokens) == n


def test_next_draft_length():
    assert next_draft_length(5, 5, 5) == 7
    assert next_draft_length(5, 2, 5) == 4
    assert next_draft_length(1, 0, 1) == 1
    assert next_draft_length(16, 16, 16, k_max=16) == 16


def test_pipeline_chain_greedy_identical(target, drafter_model, prompts, references, harness):
    from decoding.schedulers.pipeline import pipeline

    middle = harness.perturbed(target, 0.15, seed=9)
    for prompt, ref in zip(prompts, references):
        with torch.inference_mode():
            trace = pipeline(ModelVerifier(target), [drafter_model, middle], prompt, max_new_tokens=N, k=6)
        assert trace.tokens == ref[:N]
