"""Drafters: things that propose the next k tokens. A small LM, or n-gram lookup in the context."""

from __future__ import annotations

from typing import Any

import torch

from decoding.acceptance import logits_to_probs, sample
from decoding.cache import CachedLM
from decoding.protocols import Draft, Sampling

EMPTY = torch.empty(0, dtype=torch.long)


def make_lm(model: Any, fast: bool) -> Any:
    """FastLM when asked for and the architecture allows it, else CachedLM (transformers forward)."""
    from decoding.fastlm import FastLM, supports

    return FastLM(model) if fast and supports(model) else CachedLM(model)


class ModelDrafter:
    """A small causal LM drafting token by token from its own KV cache.

    confidence: in greedy mode, stop drafting early once the drafter's top probability falls below
    this (0 disables); a cheap adaptive draft length.
    fast: run Llama-style drafters through `decoding.fastlm.FastLM` (static cache, lean forward);
    other architectures always use transformers' forward with a DynamicCache.
    """

    def __init__(self, model: Any, name: str = "drafter", confidence: float = 0.0,
                 generator: torch.Generator | None = None, fast: bool = True) -> None:
        self.name = name
        self.lm = make_lm(model, fast)
        self.confidence = confidence
        self.generator = generator

    def propose(self, context: torch.Tensor, k: int, sampling: Sampling) -> Draft:
        if k <= 0:
            return Draft(EMPTY)
        logits = self.lm.forward(context)[-1]  # [V]
        if sampling.greedy:
            return self._propose_greedy(logits, k)
        tokens, rows = [], []
        for i in range(k):
            probs = logits_to_probs(logits, sampling)
            tok = sample(probs, self.generator)
            tokens.append(tok)
            rows.append(probs)
            if i < k - 1:
                logits = self.lm.step(tok)[-1]
        return Draft(torch.stack(tokens), torch.stack(rows), self.name)

    def _propose_greedy(self, logits: torch.Tensor, k: int) -> Draft:
        tokens = torch.empty(k, dtype=torch.long)
        for i in range(k):
            tok = logits.argmax()
            tokens[i] = tok
            if self.confidence > 0 and i > 0 and float(torch.softmax(logits.float(), -1)[tok]) < self.confidence:
                return Draft(tokens[: i + 1], None, self.name)
            if i < k - 1:
                logits = self.lm.step(tok)[-1]
        return Draft(tokens, None, self.name)


def ngram_lookup(context: torch.Tensor, k: int, max_ngram: int = 3, min_ngram: int = 1) -> torch.Tensor:
    """Prompt lookup: find an earlier occurrence of the context's last n tokens (n from max_ngram down
    to min_ngram) and return up to k tokens that followed it; empty if none. Among several matches,
    the latest one that still has k tokens after it (recent text predicts best; a match right at the
    end would give a short draft)."""
    length = context.shape[0]
    for n in range(min(max_ngram, length - 1), min_ngram - 1, -1):
        tail = context[length - n:]
        windows = context[: length - 1].unfold(0, n, 1)  # [length-n, n]: every earlier n-gram
        hits = (windows == tail).all(-1).nonzero()[:, 0] + n  # where each match's continuation starts
        if hits.numel():
            # the latest match with a full k-token continuation, else the earliest (longest) one
            full = hits[hits + k <= length]
            start = int(full[-1]) if full.numel() else int(hits[0])
            return context[start: start + k]
    return EMPTY


class NGramDrafter:
    """Model-free drafter: continuations copied from the prompt and the output so far (one-hot q)."""

    def __init__(self, max_ngram: int = 3, min_ngram: int = 1, name: str = "ngram") -> None:
        self.name = name
        self.max_ngram = max_ngram
        self.min_ngram = min_ngram

    def propose(self, context: torch.Tensor, k: int, sampling: Sampling) -> Draft:
        if k <= 0:
            return Draft(EMPTY)
        tokens = ngram_lookup(context, k, self.max_ngram, self.min_ngram)
        return Draft(tokens.clone(), None, self.name)


class HybridDrafter:
    """Prompt lookup first, the model drafter when the context holds no match.

    Code repeats itself (names, call patterns, whole lines), and an n-gram draft costs nothing to
    produce, so every round that finds a match skips the drafter's k sequential forward passes. The
    model drafter's cache falls behind meanwhile and catches up in one multi-token pass when it is next
    asked. min_ngram: the shortest match trusted (a 1-token match is weak evidence, and the model drafts
    better there). Pairs well with the scheduler's adaptive k: long lookup drafts cost nothing to make
    and little to verify (a block of 17 costs about 2 target steps on the bundled target).
    Exact for sampling too: a lookup draft is a one-hot proposal, accepted with probability p(x).
    """

    def __init__(self, model: ModelDrafter, max_ngram: int = 3, min_ngram: int = 2, name: str = "") -> None:
        self.model = model
        self.ngram = NGramDrafter(max_ngram, min_ngram)
        self.name = name or f"ngram+{model.name}"

    def propose(self, context: torch.Tensor, k: int, sampling: Sampling) -> Draft:
        if k <= 0:
            return Draft(EMPTY)
        draft = self.ngram.propose(context, k, sampling)
        if draft.tokens.numel():
            return draft
        return self.model.propose(context, k, sampling)
