"""A causal LM with its own KV cache and a record of which token ids the cache holds.

`CachedLM.forward(tokens)` reconciles the cache with `tokens` (a full context): it rolls back every
cached position after the longest common prefix (`DynamicCache.crop` with a negative count) and runs
only the tokens the cache lacks. Schedulers therefore never roll back by hand: rejected drafted
tokens disappear on the next call. No `generate()` inside.
"""

from __future__ import annotations

from typing import Any

import torch


def common_prefix_length(a: torch.Tensor, b: torch.Tensor) -> int:
    """Length of the longest common prefix of two 1-D token tensors."""
    m = min(a.shape[0], b.shape[0])
    if m == 0:
        return 0
    return int((a[:m] == b[:m]).cumprod(0).sum())


def new_cache(model: Any) -> Any:
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


class CachedLM:
    """model + DynamicCache + the ids whose keys/values are cached (batch size 1)."""

    def __init__(self, model: Any, capacity: int = 4096) -> None:
        self.model = model
        self.cache = new_cache(model)
        self.ids = torch.empty(capacity, dtype=torch.long)  # ids[:length] are cached
        self.length = 0

    def reset(self) -> None:
        self.cache = new_cache(self.model)
        self.length = 0

    def rollback(self, length: int) -> None:
        """Drop cached positions >= length."""
        if length < self.length:
            self.cache.crop(length - self.length)  # negative: number of positions to remove
            self.length = length

    def forward(self, tokens: torch.Tensor, keep: int = 1) -> torch.Tensor:
        """Make the cache hold `tokens` [n]; return logits [keep, V] for the last `keep` positions.

        Runs only the suffix the cache lacks (at least `keep` tokens, so the logits exist).
        """
        n = tokens.shape[0]
        if n > self.ids.shape[0]:
            self.ids = torch.cat([self.ids, torch.empty(n, dtype=torch.long)])
        start = min(common_prefix_length(self.ids[: self.length], tokens), n - keep)
        self.rollback(start)
        new = tokens[start:]
        out = self.model(input_ids=new[None], cache=self.cache, use_cache=True, logits_to_keep=keep)
        self.ids[start:n] = new
        self.length = n
        return out.logits[0]  # [keep, V]

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """Append one token (0-d or [1] tensor) to the cache; return logits [1, V] after it."""
        token = token.reshape(1)
        if self.length >= self.ids.shape[0]:
            self.ids = torch.cat([self.ids, torch.empty_like(self.ids)])
        out = self.model(input_ids=token[None], cache=self.cache, use_cache=True, logits_to_keep=1)
        self.ids[self.length] = token[0]
        self.length += 1
        return out.logits[0]
