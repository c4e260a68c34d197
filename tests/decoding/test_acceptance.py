"""Acceptance rules on tiny tensors, and exactness of speculative sampling (statistical, seeded)."""

from __future__ import annotations

import itertools

import torch
from scipy.stats import chisquare

from decoding.acceptance import accept_greedy, accept_speculative, logits_to_probs, sample
from decoding.drafters import ModelDrafter, ngram_lookup
from decoding.protocols import Sampling
from decoding.schedulers import speculative
from decoding.verifiers import ModelVerifier


def one_hot_logits(ids: list[int], vocab: int = 6) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(ids), vocab).float() * 5.0


def test_accept_greedy_prefix_and_correction():
    n, new = accept_greedy(torch.tensor([1, 2, 3]), one_hot_logits([1, 2, 4, 5]))
    assert n == 2 and new.tolist() == [1, 2, 4]


def test_accept_greedy_all_and_bonus():
    n, new = accept_greedy(torch.tensor([1, 2]), one_hot_logits([1, 2, 5]))
    assert n == 2 and new.tolist() == [1, 2, 5]


def test_accept_greedy_none_and_empty():
    assert accept_greedy(torch.tensor([3]), one_hot_logits([1, 0]))[1].tolist() == [1]
    n, new = accept_greedy(torch.empty(0, dtype=torch.long), one_hot_logits([4]))
    assert n == 0 and new.tolist() == [4]


def test_logits_to_probs_top_p_and_greedy():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    p = logits_to_probs(logits, Sampling(temperature=1.0, top_p=0.7))
    torch.testing.assert_close(p, torch.tensor([0.625, 0.375, 0.0, 0.0]))
    assert logits_to_probs(logits, Sampling()).tolist() == [1.0, 0.0, 0.0, 0.0]
    hot = logits_to_probs(logits, Sampling(temperature=0.5))
    assert hot[0] > 0.5 and abs(float(hot.sum()) - 1) < 1e-6


def test_speculative_always_accepts_when_q_equals_p():
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(4, 6, generator=g), -1)
    draft = sample(p[:3], g)
    n, new = accept_speculative(draft, p[:3], p, g)
    assert n == 3 and new[:3].tolist() == draft.tolist() and new.shape[0] == 4


def test_speculative_rejects_tokens_the_target_excludes():
    p = torch.tensor([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    q = torch.tensor([[1.0, 0.0, 0.0]])
    n, new = accept_speculative(torch.tensor([0]), q, p, torch.Generator().manual_seed(0))
    assert n == 0 and new.tolist() == [1]  # resampled from norm(max(0, p - q)) = token 1


def test_speculative_sampling_first_token_matches_target():
    """Drafts from q, accept/resample: the first token must follow p, whatever q is."""
    g = torch.Generator().manual_seed(1234)
    p = torch.tensor([[0.1, 0.4, 0.05, 0.3, 0.15], [0.2, 0.2, 0.2, 0.2, 0.2]])
    q = torch.tensor([[0.4, 0.1, 0.3, 0.1, 0.1]])
    trials = 8000
    counts = torch.zeros(5)
    for _ in range(trials):
        draft = sample(q[0], g).reshape(1)
        _, new = accept_speculative(draft, q, p, g)
        counts[new[0]] += 1
    expected = p[0] * trials
    assert chisquare(counts.numpy(), expected.numpy()).pvalue > 1e-3
    assert 0.5 * float((counts / trials - p[0]).abs().sum()) < 0.02


def test_speculative_decoding_matches_target_distribution(harness):
    """End to end on a tiny vocabulary: the joint law of the first two sampled tokens equals the target's
    (temperature 0.8, top-p 0.9 applied to drafter and target alike)."""
    vocab = 6
    target = harness.tiny_llama(3, vocab=vocab, hidden=16)
    with torch.no_grad():
        target.lm_head.weight.div_(10.0)  # undo part of the sharpening: keep the law spread out
    drafter = harness.perturbed(target, 1.0, seed=4)
    sampling = Sampling(temperature=0.8, top_p=0.9)
    prompt = torch.tensor([1, 2, 3])
    with torch.inference_mode():
        p1 = logits_to_probs(target(input_ids=prompt[None]).logits[0, -1], sampling)
        exact = torch.zeros(vocab, vocab)
        for a in range(vocab):
            if p1[a] > 0:
                ctx = torch.cat([prompt, torch.tensor([a])])
                exact[a] = p1[a] * logits_to_probs(target(input_ids=ctx[None]).logits[0, -1], sampling)
        g = torch.Generator().manual_seed(7)
        trials = 1500
        counts = torch.zeros(vocab, vocab)
        for _ in range(trials):
            trace = speculative(ModelVerifier(target), ModelDrafter(drafter, generator=g), prompt,
                                max_new_tokens=2, k=2, sampling=sampling, generator=g)
            counts[trace.tokens[0], trace.tokens[1]] += 1
    support = exact.flatten() > 0
    assert counts.flatten()[~support].sum() == 0  # never a token top-p excludes
    tv = 0.5 * float((counts.flatten() / trials - exact.flatten()).abs().sum())
    assert tv < 0.08, tv
    observed, expected = counts.flatten()[support], exact.flatten()[support] * trials
    assert chisquare(observed.numpy(), expected.numpy() * observed.sum().item() / expected.sum().item()).pvalue > 1e-4


def test_ngram_lookup():
    ctx = torch.tensor([5, 6, 7, 8, 1, 5, 6])
    assert ngram_lookup(ctx, 3).tolist() == [7, 8, 1]
    assert ngram_lookup(torch.tensor([1, 2, 3]), 3).tolist() == []
    assert ngram_lookup(torch.tensor([4, 9, 4]), 2).tolist() == [9, 4]
    repeat = torch.tensor([1, 2, 3, 1, 2, 3, 1, 2])  # latest match with a full continuation
    assert ngram_lookup(repeat, 4, max_ngram=2).tolist() == [3, 1, 2, 3]
    assert ngram_lookup(repeat, 2, max_ngram=2).tolist() == [3, 1]


def test_fake_verifier_harness(harness):
    table = torch.zeros(4, 4)
    for a, b in itertools.pairwise(range(5)):
        table[a, b % 4] = 1.0
    v = harness.fake_verifier(table)
    n, new = accept_greedy(torch.tensor([2, 3]), v.logits(torch.tensor([0, 1]), torch.tensor([2, 3])))
    assert n == 2 and new.tolist() == [2, 3, 0]
