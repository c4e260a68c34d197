"""Wall-clock-budgeted training of a transformers causal LM, with exact checkpoint/resume.

The loop is plain: seeded batch -> (bf16 autocast) forward -> loss -> backward -> clip -> AdamW
with a cosine schedule. A phase stops at `max_steps` or when its wall-clock budget is spent; with
a budget, the cosine horizon is re-planned from the measured step time so the learning rate
still decays to its floor by the end.

Checkpoints are safetensors + JSON only (no pickle): model weights, the AdamW moments and step
counts as tensors, and step/planned horizon/tokens seen in state.json. Batches are a pure function
of (data_seed, step), so resuming reproduces an uninterrupted run exactly.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from decoding.training.tokens import batch_at, eval_batches

LossFn = Callable[[Any, Any], Any]  # (model, batch [B, T+1] LongTensor) -> scalar loss


@dataclass
class TrainConfig:
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine floor = lr * min_lr_ratio
    warmup_steps: int = 50
    batch_size: int = 16
    seq_len: int = 256
    max_steps: int = 100_000  # upper bound; the budget usually ends the phase first
    budget_s: float | None = None  # wall-clock budget for this phase (summed over resumes)
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    bf16: bool = True  # autocast on CPU: ~1.9x faster for the target on an AVX512-BF16 CPU
    data_seed: int = 0
    ckpt_every: int = 100
    log_every: int = 20
    replan_every: int = 25


@dataclass
class TrainState:
    step: int = 0
    planned_steps: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    last_loss: float = float("nan")
    history: list[list[float]] = field(default_factory=list)  # [step, loss, lr, tokens/s]
    finished: bool = False


def lr_at(step: int, cfg: TrainConfig, planned: int) -> float:
    """Linear warmup, then cosine from lr to lr * min_lr_ratio at `planned` steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, planned - cfg.warmup_steps))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * progress))


def lm_loss(model, batch):
    """Next-token cross-entropy on a [B, T+1] batch."""
    import torch.nn.functional as F

    logits = model(input_ids=batch[:, :-1]).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))


def make_optimizer(model, cfg: TrainConfig):
    import torch

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, foreach=False)


def save_checkpoint(ckpt_dir: Path, model, optimizer, state: TrainState, cfg: TrainConfig) -> None:
    """model.safetensors + optimizer.safetensors + state.json, written atomically-ish (tmp then rename)."""
    from safetensors.torch import save_file, save_model

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, str(ckpt_dir / "model.safetensors.tmp"))
    opt_tensors = {}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        for key, value in optimizer.state.get(p, {}).items():
            opt_tensors[f"{i}.{key}"] = value.detach().clone().contiguous().reshape(value.shape)
    save_file(opt_tensors, str(ckpt_dir / "optimizer.safetensors.tmp"))
    (ckpt_dir / "state.json.tmp").write_text(json.dumps({"state": asdict(state), "config": asdict(cfg)}))
    for name in ("model.safetensors", "optimizer.safetensors", "state.json"):
        (ckpt_dir / f"{name}.tmp").replace(ckpt_dir / name)


def load_checkpoint(ckpt_dir: Path, model, optimizer) -> TrainState | None:
    """Restore model, optimizer and state from `ckpt_dir`; None when there is no checkpoint."""
    from safetensors.torch import load_file, load_model

    if not (ckpt_dir / "state.json").exists():
        return None
    load_model(model, str(ckpt_dir / "model.safetensors"))
    tensors = load_file(str(ckpt_dir / "optimizer.safetensors"))
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        optimizer.state[params[int(index)]][key] = value
    return TrainState(**json.loads((ckpt_dir / "state.json").read_text())["state"])


def train(
    model,
    stream: np.ndarray,
    cfg: TrainConfig,
    ckpt_dir: Path,
    *,
    loss_fn: LossFn = lm_loss,
    log: Callable[[str], None] = print,
) -> TrainState:
    """Train `model` on `stream` until max_steps or the budget; resume from `ckpt_dir` if it holds a checkpoint."""
    import torch

    model.train()
    optimizer = make_optimizer(model, cfg)
    state = load_checkpoint(ckpt_dir, model, optimizer) or TrainState(planned_steps=cfg.max_steps)
    if state.finished:
        log(f"checkpoint at step {state.step} is final; nothing to do")
        return state
    if state.step:
        log(f"resumed at step {state.step} ({state.tokens_seen} tokens, {state.elapsed_s:.0f}s)")
    window_t, window_steps = time.perf_counter(), 0
    while state.step < state.planned_steps:
        t0 = time.perf_counter()
        lr = lr_at(state.step, cfg, state.planned_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = torch.from_numpy(batch_at(stream, state.step, cfg.batch_size, cfg.seq_len, cfg.data_seed))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = loss_fn(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.tokens_seen += cfg.batch_size * cfg.seq_len
        state.elapsed_s += time.perf_counter() - t0
        state.last_loss = loss.item()
        window_steps += 1
        if state.step % cfg.log_every == 0:
            rate = window_steps * cfg.batch_size * cfg.seq_len / (time.perf_counter() - window_t)
            state.history.append([state.step, round(state.last_loss, 4), lr, round(rate)])
            log(
                f"step {state.step}/{state.planned_steps} loss {state.last_loss:.4f} lr {lr:.2e} "
                f"{rate:.0f} tok/s elapsed {state.elapsed_s:.0f}s"
            )
            window_t, window_steps = time.perf_counter(), 0
        if cfg.budget_s is not None:
            if state.elapsed_s >= cfg.budget_s:
                log(f"budget of {cfg.budget_s:.0f}s spent at step {state.step}")
                break
            if state.step % cfg.replan_every == 0:
                # Re-plan the cosine horizon from the average step time so far (load from other
                # processes changes it); never below the current step.
                per_step = state.elapsed_s / state.step
                remaining = int((cfg.budget_s - state.elapsed_s) / per_step)
                state.planned_steps = min(cfg.max_steps, state.step + max(1, remaining))
        if state.step % cfg.ckpt_every == 0:
            save_checkpoint(ckpt_dir, model, optimizer, state, cfg)
    state.finished = True
    save_checkpoint(ckpt_dir, model, optimizer, state, cfg)
    return state


def evaluate(
    model, stream: np.ndarray, *, seq_len: int = 256, batch_size: int = 16, max_tokens: int = 65_536, bf16: bool = True
) -> dict[str, float]:
    """Mean next-token loss and perplexity on the first `max_tokens` tokens of a held-out stream."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for batch in eval_batches(stream, seq_len, batch_size, max_tokens):
            b = torch.from_numpy(batch)
            loss = lm_loss(model, b)
            n = b[:, 1:].numel()
            total += float(loss) * n
            count += n
    model.train()
    mean = total / max(1, count)
    return {"loss": round(mean, 4), "ppl": round(math.exp(mean), 3), "tokens": count}
