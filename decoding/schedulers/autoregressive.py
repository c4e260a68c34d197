"""Baseline: one target forward pass per token."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from decoding.acceptance import logits_to_probs, sample
from decoding.protocols import GREEDY, Sampling, Verifier
from decoding.schedulers.common import OnTokens, Output, now, record
from decoding.trace import DecodeTrace, Round

EMPTY = torch.empty(0, dtype=torch.long)


def autoregressive(verifier: Verifier, prompt_ids: torch.Tensor, *, max_new_tokens: int = 128,
                   sampling: Sampling = GREEDY, eos_token_id: int | None = None,
                   extra_verifiers: Sequence[Verifier] = (), on_tokens: OnTokens | None = None,
                   generator: torch.Generator | None = None) -> DecodeTrace:
    """Decode token by token from the target alone; returns the trace (tokens in trace.tokens)."""
    out = Output(prompt_ids, max_new_tokens, eos_token_id)
    trace = DecodeTrace("autoregressive", verifier.name, prompt_tokens=prompt_ids.shape[0])
    start = now()
    while not out.done:
        t0 = now()
        context = out.context
        logits = verifier.logits(context, EMPTY)  # [1, V]
        tok = logits[-1].argmax() if sampling.greedy else sample(logits_to_probs(logits[-1], sampling), generator)
        appended = out.append(tok.reshape(1))
        t1 = now()
        extra_s = record(trace, verifier.name, logits, context, appended, extra_verifiers, on_tokens)
        trace.rounds.append(Round(0, 0, 0.0, t1 - t0, extra_s))
    trace.total_s = now() - start
    return trace
