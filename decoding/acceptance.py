"""Token choice and speculative acceptance rules as pure functions on tensors.

Everything here is stateless: logits/probs in, decisions out. A `torch.Generator` makes sampling
reproducible. Shapes: k drafted tokens, V vocabulary.
"""

from __future__ import annotations

import torch

from decoding.protocols import Sampling


def logits_to_probs(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Logits [..., V] -> probabilities [..., V] after temperature and top-p (nucleus) filtering.

    The same function is applied to the drafter's and the verifier's logits, so that speculative
    sampling reproduces the *filtered* target distribution exactly. Greedy (temperature 0) gives a
    one-hot row at the argmax.
    """
    logits = logits.float()
    if sampling.greedy:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        # keep the smallest set of tokens whose mass reaches top_p (the top token always survives)
        sorted_p, order = probs.sort(dim=-1, descending=True)
        mass_before = sorted_p.cumsum(-1) - sorted_p
        sorted_p = sorted_p.masked_fill(mass_before >= sampling.top_p, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def sample(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token id per row of probs [..., V] (a 0-d tensor for a single row)."""
    flat = probs.reshape(-1, probs.shape[-1])
    out = torch.multinomial(flat, 1, generator=generator).squeeze(-1)
    return out.reshape(probs.shape[:-1])


def accept_greedy(draft: torch.Tensor, target_logits: torch.Tensor) -> tuple[int, torch.Tensor]:
    """Greedy acceptance: the longest prefix of draft [k] equal to the verifier's argmax, plus one token.

    target_logits [k+1, V] (logits or log-probs: only the argmax matters). Returns (n accepted drafted
    tokens, the n+1 tokens to append): draft[:n] followed by the verifier's own choice at position n
    (the correction on a mismatch, the bonus token when all k match). Since draft[:n] == argmax[:n],
    the tokens to append are simply argmax[:n+1].
    """
    best = target_logits.argmax(-1)  # [k+1]
    k = draft.shape[0]
    n = int((best[:k] == draft).cumprod(0).sum()) if k else 0
    return n, best[: n + 1]


def accept_speculative(
    draft: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[int, torch.Tensor]:
    """Exact speculative sampling (Leviathan et al. 2023; Chen et al. 2023).

    draft [k], draft_probs q [k, V], target_probs p [k+1, V] (both already temperature/top-p filtered).
        accept draft[i] with probability min(1, p_i(x) / q_i(x))   (always when q <= p)
        at the first rejection i, resample from norm(max(0, p_i - q_i))
        if all k are accepted, sample a bonus token from p_k
    The result is distributed exactly as sampling from p token by token.
    Returns (n accepted drafted tokens, the n+1 tokens to append).
    """
    k = draft.shape[0]
    rows = torch.arange(k)
    p_x = target_probs[rows, draft]
    q_x = draft_probs[rows, draft]
    u = torch.rand(k, generator=generator)
    # u < p/q  <=>  u * q < p (avoids dividing by q = 0, which cannot be drafted anyway)
    n = int((u * q_x < p_x).cumprod(0).sum()) if k else 0
    if n < k:
        residual = (target_probs[n] - draft_probs[n]).clamp_min(0.0)
        total = residual.sum()
        # total == 0 only if p_n == q_n, where a rejection has probability 0; guard against rounding
        nxt = sample(residual / total if total > 0 else target_probs[n], generator)
    else:
        nxt = sample(target_probs[k], generator)
    return n, torch.cat([draft[:n], nxt.reshape(1)])
