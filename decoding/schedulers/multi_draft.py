"""Several independent drafters at once; all drafts verified in ONE batched target pass.

The target's cache is expanded to one row per draft for the pass; the row of the longest accepted
draft is kept (`keep_row`), so the cache is batch 1 again afterwards. Greedy only: exact sampling
over several drafts needs a different acceptance scheme (SpecTr), not implemented here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from decoding.protocols import GREEDY, Drafter, Sampling
from decoding.schedulers.common import OnTokens, Output, now, record
from decoding.trace import DecodeTrace, Round
from decoding.verifiers import ModelVerifier


def pad_drafts(drafts: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack drafts of different lengths into blocks [B, k] (padded with 0) and lengths [B]."""
    k = max(d.shape[0] for d in drafts)
    blocks = torch.zeros(len(drafts), k, dtype=torch.long)
    for i, d in enumerate(drafts):
        blocks[i, : d.shape[0]] = d
    return blocks, torch.tensor([d.shape[0] for d in drafts])


def accept_greedy_batch(blocks: torch.Tensor, lengths: torch.Tensor, logits: torch.Tensor) -> tuple[int, int, torch.Tensor]:
    """Greedy acceptance of B drafts at once. blocks [B, k], lengths [B], logits [B, k+1, V].

    n_b = longest prefix of block b (within its length) equal to the argmax of row b; the best row
    is b* = argmax n_b; the tokens to append are argmax[b*, :n_b*+1]. Returns (b*, n_b*, tokens).
    """
    best = logits.argmax(-1)  # [B, k+1]
    k = blocks.shape[1]
    valid = torch.arange(k)[None, :] < lengths[:, None]
    n = ((best[:, :k] == blocks) & valid).cumprod(1).sum(1)  # [B]
    row = int(n.argmax())
    n_row = int(n[row])
    return row, n_row, best[row, : n_row + 1]


def multi_draft(verifier: ModelVerifier, drafters: Sequence[Drafter], prompt_ids: torch.Tensor, *,
                max_new_tokens: int = 128, k: int = 5, sampling: Sampling = GREEDY,
                eos_token_id: int | None = None, extra_verifiers: Sequence[ModelVerifier] = (),
                on_tokens: OnTokens | None = None, generator: torch.Generator | None = None) -> DecodeTrace:
    """Each round: every drafter proposes k tokens; distinct non-empty drafts are verified together."""
    if not sampling.greedy:
        raise ValueError("multi-drafter decoding is greedy only; use the speculative scheduler to sample")
    out = Output(prompt_ids, max_new_tokens, eos_token_id)
    trace = DecodeTrace("multi-draft", verifier.name, [d.name for d in drafters], prompt_ids.shape[0],
                        meta={"k": k})
    start = now()
    while not out.done:
        context = out.context
        t0 = now()
        kk = min(k, out.remaining - 1)
        proposals = [(d.name, d.propose(context, kk, sampling).tokens) for d in drafters]
        # identical or empty drafts would only repeat work in the batch
        unique: dict[tuple[int, ...], tuple[str, torch.Tensor]] = {}
        for name, toks in proposals:
            if toks.numel():
                unique.setdefault(tuple(toks.tolist()), (name, toks))
        t1 = now()
        if len(unique) <= 1:
            name, toks = next(iter(unique.values()), ("", torch.empty(0, dtype=torch.long)))
            logits = verifier.logits(context, toks)
            best = logits.argmax(-1)
            n = int((best[: toks.shape[0]] == toks).cumprod(0).sum()) if toks.numel() else 0
            new, drafted = best[: n + 1], toks.shape[0]
        else:
            names = [v[0] for v in unique.values()]
            blocks, lengths = pad_drafts([v[1] for v in unique.values()])
            batch_logits = verifier.score_batch(context, blocks)  # [B, k+1, V]
            row, n, new = accept_greedy_batch(blocks, lengths, batch_logits)
            verifier.keep_row(row)
            logits, name, drafted = batch_logits[row], names[row], int(lengths[row])
        appended = out.append(new)
        t2 = now()
        extra_s = record(trace, verifier.name, logits, context, appended, extra_verifiers, on_tokens)
        trace.rounds.append(Round(drafted, n, t1 - t0, t2 - t1, extra_s, name))
    trace.total_s = now() - start
    return trace
