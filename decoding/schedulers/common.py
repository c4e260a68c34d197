"""What every scheduler loop shares: the growing output, stopping, and per-token bookkeeping."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch

from decoding.protocols import Verifier
from decoding.trace import DecodeTrace

OnTokens = Callable[[list[int]], None]
now = time.perf_counter


class Output:
    """Prompt + accepted tokens in one preallocated buffer; knows when to stop (EOS, max_new_tokens)."""

    def __init__(self, prompt_ids: torch.Tensor, max_new_tokens: int, eos_token_id: int | None) -> None:
        self.prompt_len = prompt_ids.shape[0]
        self.buf = torch.empty(self.prompt_len + max_new_tokens + 1, dtype=torch.long)
        self.buf[: self.prompt_len] = prompt_ids
        self.length = self.prompt_len
        self.max_new_tokens = max_new_tokens
        self.eos_token_id = eos_token_id
        self.done = max_new_tokens <= 0

    @property
    def context(self) -> torch.Tensor:
        return self.buf[: self.length]

    @property
    def remaining(self) -> int:
        return self.max_new_tokens - (self.length - self.prompt_len)

    @property
    def new_tokens(self) -> torch.Tensor:
        return self.buf[self.prompt_len: self.length]

    def append(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append tokens [n], cut at max_new_tokens and just after EOS; returns what was appended."""
        tokens = tokens[: self.remaining]
        if self.eos_token_id is not None:
            hits = (tokens == self.eos_token_id).nonzero()
            if hits.numel():
                tokens = tokens[: int(hits[0]) + 1]
                self.done = True
        self.buf[self.length: self.length + tokens.shape[0]] = tokens
        self.length += tokens.shape[0]
        if self.remaining <= 0:
            self.done = True
        return tokens


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> list[float]:
    """log p(tokens[i]) under row i of logits [>=n, V]: logit - logsumexp(row)."""
    n = tokens.shape[0]
    rows = logits[:n].float()
    return (rows.gather(-1, tokens[:, None])[:, 0] - rows.logsumexp(-1)).tolist()


def record(trace: DecodeTrace, verifier_name: str, logits: torch.Tensor, context: torch.Tensor,
           appended: torch.Tensor, extra_verifiers: Sequence[Verifier], on_tokens: OnTokens | None) -> float:
    """Bookkeeping after a round: the target's log-probs of the appended tokens, then each extra
    verifier's (one forward each over the appended block). Returns the seconds the extras took."""
    trace.tokens.extend(appended.tolist())
    trace.token_logprobs.setdefault(verifier_name, []).extend(token_logprobs(logits, appended))
    t0 = now()
    for ev in extra_verifiers:
        scores = ev.logits(context, appended[:-1])  # rows predict appended[0..n-1]
        trace.token_logprobs.setdefault(ev.name, []).extend(token_logprobs(scores, appended))
    extra_s = now() - t0
    if on_tokens is not None:
        on_tokens(appended.tolist())
    return extra_s
