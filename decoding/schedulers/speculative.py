"""Speculative decoding, chain form: one drafter proposes, the target verifies the block in one pass.

Works with any Drafter (a small LM, n-gram lookup, a quantized LM). Greedy output equals the
target's own greedy output; sampled output follows the target's (temperature/top-p) distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from decoding.acceptance import accept_greedy, accept_speculative, logits_to_probs
from decoding.protocols import GREEDY, Draft, Drafter, Sampling, Verifier
from decoding.schedulers.common import OnTokens, Output, now, record
from decoding.trace import DecodeTrace, Round


def next_draft_length(k: int, accepted: int, drafted: int, k_min: int = 1, k_max: int = 16) -> int:
    """Adaptive draft length (the heuristic of HF's assisted generation):
    all drafted tokens accepted -> k + 2; otherwise -> k - 1; clamped to [k_min, k_max]."""
    k = k + 2 if accepted == drafted else k - 1
    return max(k_min, min(k_max, k))


def accept(draft: Draft, logits: torch.Tensor, sampling: Sampling,
           generator: torch.Generator | None) -> tuple[int, torch.Tensor]:
    """Greedy or exact-sampling acceptance of one draft against the target logits [k+1, V]."""
    if sampling.greedy:
        return accept_greedy(draft.tokens, logits)
    p = logits_to_probs(logits, sampling)
    q = draft.probs
    if q is None:  # model-free drafter: its proposal is deterministic, q is one-hot
        q = torch.nn.functional.one_hot(draft.tokens, p.shape[-1]).to(p.dtype)
    return accept_speculative(draft.tokens, q, p, generator)


def speculative(verifier: Verifier, drafter: Drafter, prompt_ids: torch.Tensor, *, max_new_tokens: int = 128,
                k: int = 5, adaptive: bool = False, k_min: int = 1, k_max: int = 16,
                sampling: Sampling = GREEDY, eos_token_id: int | None = None,
                extra_verifiers: Sequence[Verifier] = (), on_tokens: OnTokens | None = None,
                generator: torch.Generator | None = None) -> DecodeTrace:
    """Draft k tokens, verify them in one target pass, keep the accepted prefix plus one; repeat."""
    out = Output(prompt_ids, max_new_tokens, eos_token_id)
    trace = DecodeTrace("speculative", verifier.name, [drafter.name], prompt_ids.shape[0],
                        meta={"k": k, "adaptive": adaptive})
    start = now()
    while not out.done:
        context = out.context
        t0 = now()
        # never draft past max_new_tokens: the round appends up to k + 1 tokens
        draft = drafter.propose(context, min(k, out.remaining - 1), sampling)
        t1 = now()
        logits = verifier.logits(context, draft.tokens)  # [k+1, V]
        n, new = accept(draft, logits, sampling, generator)
        appended = out.append(new)
        t2 = now()
        extra_s = record(trace, verifier.name, logits, context, appended, extra_verifiers, on_tokens)
        drafted = draft.tokens.shape[0]
        trace.rounds.append(Round(drafted, n, t1 - t0, t2 - t1, extra_s, draft.source or drafter.name))
        if adaptive and drafted:
            k = next_draft_length(k, n, drafted, k_min, k_max)
    trace.total_s = now() - start
    return trace
