"""Verifiers: a causal LM scoring a drafted block in one forward pass from its own KV cache."""

from __future__ import annotations

from typing import Any

import torch

from decoding.cache import common_prefix_length


class ModelVerifier:
    """Wraps a causal LM; `score(context, block)` -> log-probs [len(block)+1, V] (see protocols).

    fast: use `decoding.fastlm.FastLM` for Llama-style models (no batched `score_batch` then).
    Default off: the verifier is the reference, so by default it runs transformers' own forward.
    """

    def __init__(self, model: Any, name: str = "target", fast: bool = False) -> None:
        from decoding.drafters import make_lm

        self.name = name
        self.lm = make_lm(model, fast)

    @property
    def vocab_size(self) -> int:
        return int(self.lm.model.config.vocab_size)

    def logits(self, context: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
        """Raw logits [len(block)+1, V]; cheaper than `score` when only the argmax is needed."""
        tokens = torch.cat([context, block]) if block.numel() else context
        return self.lm.forward(tokens, keep=block.shape[0] + 1)

    def score(self, context: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.logits(context, block).float(), dim=-1)

    def score_batch(self, context: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """Several equal-length blocks [B, k] after one context in ONE batched forward pass.

        Returns logits [B, k+1, V]. The cache is expanded to B rows for the pass; call `keep_row(b)`
        afterwards to keep row b (the others are dropped, and the cache is batch 1 again).
        """
        lm = self.lm
        if not hasattr(lm, "cache"):
            raise ValueError("batched verification needs the transformers forward: ModelVerifier(fast=False)")
        b, k = blocks.shape
        start = min(common_prefix_length(lm.ids[: lm.length], context), context.shape[0] - 1)
        lm.rollback(start)
        lm.cache.batch_repeat_interleave(b)
        new = torch.cat([context[start:].expand(b, -1), blocks], dim=1)  # [B, n_new]
        out = lm.model(input_ids=new, cache=lm.cache, use_cache=True, logits_to_keep=k + 1)
        self._pending = (blocks, context, start)
        return out.logits  # [B, k+1, V]

    def keep_row(self, row: int) -> None:
        blocks, context, start = self._pending
        lm = self.lm
        lm.cache.batch_select_indices(torch.tensor([row]))
        n = context.shape[0]
        k = blocks.shape[1]
        if n + k > lm.ids.shape[0]:
            lm.ids = torch.cat([lm.ids, torch.empty(n + k, dtype=torch.long)])
        lm.ids[start:n] = context[start:]
        lm.ids[n: n + k] = blocks[row]
        lm.length = n + k
