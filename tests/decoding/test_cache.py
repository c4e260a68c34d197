"""KV-cache rollback leaves the cache equal to one built fresh from the kept tokens."""

from __future__ import annotations

import torch

from decoding.cache import CachedLM, common_prefix_length


def cache_tensors(lm: CachedLM) -> list[torch.Tensor]:
    return [t for layer in lm.cache.layers for t in (layer.keys, layer.values)]


def test_rollback_equals_fresh(target):
    tokens = torch.arange(20) % 90
    with torch.inference_mode():
        rolled = CachedLM(target)
        rolled.forward(tokens[:12])
        rolled.forward(torch.cat([tokens[:12], torch.tensor([5, 6, 7, 8])]))  # a draft, to be rejected
        rolled.forward(tokens[:15])  # reconciles: drops 5..8, appends tokens 12..14
        fresh = CachedLM(target)
        fresh.forward(tokens[:15])
    assert rolled.length == fresh.length == 15
    assert rolled.cache.get_seq_length() == 15
    for a, b in zip(cache_tensors(rolled), cache_tensors(fresh)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_explicit_rollback_then_logits_match(target):
    tokens = torch.arange(10)
    with torch.inference_mode():
        lm = CachedLM(target)
        lm.forward(tokens)
        lm.rollback(6)
        assert lm.cache.get_seq_length() == 6
        got = lm.forward(tokens[:8], keep=2)
        want = target(input_ids=tokens[None, :8]).logits[0, -2:]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_batched_verify_keeps_the_chosen_row(target):
    from decoding.verifiers import ModelVerifier

    ctx = torch.arange(9)
    blocks = torch.tensor([[1, 2, 3], [4, 5, 6]])
    with torch.inference_mode():
        v = ModelVerifier(target)
        v.logits(ctx, torch.tensor([7]))
        batch = v.score_batch(ctx, blocks)
        v.keep_row(1)
        single = target(input_ids=torch.cat([ctx, blocks[1]])[None]).logits[0, -4:]
        fresh = CachedLM(target)
        fresh.forward(torch.cat([ctx, blocks[1]]))
    torch.testing.assert_close(batch[1], single, rtol=1e-4, atol=1e-4)
    assert v.lm.cache.layers[0].keys.shape[0] == 1
    for a, b in zip(cache_tensors(v.lm), cache_tensors(fresh)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_common_prefix_length():
    assert common_prefix_length(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4, 5])) == 2
    assert common_prefix_length(torch.tensor([], dtype=torch.long), torch.tensor([1])) == 0
    assert common_prefix_length(torch.tensor([1, 2]), torch.tensor([1, 2, 3])) == 2
