"""Synchronous k-model hierarchy (PipeSpec's chain, run in one process).

A `ChainDrafter` turns (intermediate model, inner drafter) into a Drafter: it produces its k tokens
by speculative decoding of the intermediate model with the inner drafter. Stacking them gives any
depth: drafter -> intermediate -> target is `speculative(target, ChainDrafter(intermediate, drafter))`.
Greedy only (the chain's drafts are the intermediate's greedy tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from decoding.acceptance import accept_greedy
from decoding.drafters import ModelDrafter
from decoding.protocols import GREEDY, Draft, Drafter, Sampling, Verifier
from decoding.schedulers.common import OnTokens
from decoding.schedulers.speculative import speculative
from decoding.trace import DecodeTrace
from decoding.verifiers import ModelVerifier


class ChainDrafter:
    """Drafts k tokens = the intermediate model's greedy continuation, itself drafted by `inner`."""

    def __init__(self, intermediate: Any, inner: Drafter, inner_k: int = 4, name: str = "") -> None:
        self.verifier = intermediate if hasattr(intermediate, "logits") else ModelVerifier(intermediate, fast=True)
        self.inner = inner
        self.inner_k = inner_k
        self.name = name or f"{inner.name}>{self.verifier.name}"
        self.inner_drafted = 0
        self.inner_accepted = 0

    def propose(self, context: torch.Tensor, k: int, sampling: Sampling) -> Draft:
        if not sampling.greedy:
            raise ValueError("the chained drafter is greedy only")
        n0 = context.shape[0]
        seq = context
        while seq.shape[0] - n0 < k:
            draft = self.inner.propose(seq, min(self.inner_k, k - (seq.shape[0] - n0) - 1), sampling)
            n, new = accept_greedy(draft.tokens, self.verifier.logits(seq, draft.tokens))
            self.inner_drafted += draft.tokens.shape[0]
            self.inner_accepted += n
            seq = torch.cat([seq, new])
        return Draft(seq[n0: n0 + k])


def pipeline(verifier: Verifier, models: Sequence[Any], prompt_ids: torch.Tensor, *, max_new_tokens: int = 128,
             k: int = 8, inner_k: int = 4, sampling: Sampling = GREEDY, eos_token_id: int | None = None,
             extra_verifiers: Sequence[Verifier] = (), on_tokens: OnTokens | None = None,
             generator: torch.Generator | None = None) -> DecodeTrace:
    """models: [smallest drafter, ..., largest intermediate]; the target (verifier) checks the top one."""
    drafter: Drafter = ModelDrafter(models[0], name="stage0")
    for i, model in enumerate(models[1:], start=1):
        drafter = ChainDrafter(ModelVerifier(model, f"stage{i}", fast=True), drafter, inner_k)
    trace = speculative(verifier, drafter, prompt_ids, max_new_tokens=max_new_tokens, k=k, sampling=sampling,
                        eos_token_id=eos_token_id, extra_verifiers=extra_verifiers, on_tokens=on_tokens,
                        generator=generator)
    trace.strategy = "pipeline"
    if isinstance(drafter, ChainDrafter):
        trace.meta["inner_alpha"] = drafter.inner_accepted / max(1, drafter.inner_drafted)
    return trace
