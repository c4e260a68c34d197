"""Distillation of the drafter towards the target, to raise greedy acceptance.

Speculative decoding accepts a drafted token when it equals the target's argmax, so the drafter
should imitate the *target*, not the data. The loss is the forward KL from the target's
next-token distribution to the drafter's, on the target's own training shard, plus a small
cross-entropy term on the real next token that keeps the drafter anchored to the data:

    loss = KL(p_target || p_drafter) + ce_weight * CE(real next token, p_drafter)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def distill_loss(teacher, ce_weight: float = 0.1) -> Callable[[Any, Any], Any]:
    """A trainer loss_fn: (student, batch [B, T+1]) -> KL to `teacher` (frozen) + ce_weight * CE."""
    import torch
    import torch.nn.functional as F

    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    def loss_fn(student, batch):
        inputs, targets = batch[:, :-1], batch[:, 1:]
        with torch.no_grad():
            t_logp = F.log_softmax(teacher(input_ids=inputs).logits.float(), dim=-1)  # [B, T, V]
        s_logp = F.log_softmax(student(input_ids=inputs).logits.float(), dim=-1)  # [B, T, V]
        vocab = s_logp.size(-1)
        kl = F.kl_div(s_logp.reshape(-1, vocab), t_logp.reshape(-1, vocab), log_target=True, reduction="batchmean")
        ce = F.nll_loss(s_logp.reshape(-1, vocab), targets.reshape(-1))
        return kl + ce_weight * ce

    return loss_fn
