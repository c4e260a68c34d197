"""Quantized drafters: cheaper drafts, paid for in acceptance rate (measured by benchmarks/decode.py).

Every function takes a model and returns a quantized *copy* (the original is untouched):
    bf16        weights and activations in bfloat16
    int8        dynamic int8 quantization of every nn.Linear (torch.ao quantize_dynamic: int8 weights,
                activations quantized per batch at run time)
    bfp         block floating point (FAST, Zhang et al. 2022): each block of `block` consecutive
                weights shares one exponent e = floor(log2(max |w|)); each weight keeps a signed
                `mantissa_bits`-bit mantissa: w' = round(w / 2^(e+1-m)) * 2^(e+1-m)
    tr          Term Revealing (Kung et al. 2020): weights as 8-bit integers (per-row scale); each
                group of `group` integers keeps only its `terms` largest power-of-two terms in all
bfp and tr are weight quantizers simulated in float (values restricted to the format, fp32 storage):
they measure what the format does to acceptance, not the speed of hardware that computes in it.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def linear_weights(model: nn.Module) -> list[torch.Tensor]:
    """Weights of every Linear layer except the output head (kept exact, as is usual)."""
    head = getattr(model, "lm_head", None)
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear) and m is not head]


def to_bf16(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(torch.bfloat16)


def to_int8_dynamic(model: nn.Module) -> nn.Module:
    """torch.ao dynamic quantization of nn.Linear (x86 fbgemm / arm qnnpack kernels)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


def bfp_weight(w: torch.Tensor, block: int = 16, mantissa_bits: int = 4) -> torch.Tensor:
    """Block floating point along the input dimension. w [out, in] -> same shape, BFP values."""
    out_f, in_f = w.shape
    pad = (-in_f) % block
    blocks = torch.nn.functional.pad(w.float(), (0, pad)).view(out_f, -1, block)
    peak = blocks.abs().amax(-1, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)
    step = torch.exp2(torch.floor(torch.log2(peak)) + 1 - mantissa_bits)  # 2^(e+1-m)
    limit = 2 ** mantissa_bits - 1
    q = torch.round(blocks / step).clamp(-limit, limit) * step
    return q.view(out_f, -1)[:, :in_f].to(w.dtype)


def term_reveal_weight(w: torch.Tensor, terms: int = 8, group: int = 4, bits: int = 8) -> torch.Tensor:
    """Term Revealing: w [out, in] -> integers |q| < 2^(bits-1) (per-row scale), then per group of
    `group` consecutive weights keep only the `terms` largest power-of-two terms of their binary
    expansions (ties: earlier weight first), the rest are zeroed."""
    out_f, in_f = w.shape
    levels = 2 ** (bits - 1) - 1
    scale = w.abs().amax(-1, keepdim=True).clamp_min(1e-12) / levels
    q = torch.round(w.float() / scale).clamp(-levels, levels)
    pad = (-in_f) % group
    q = torch.nn.functional.pad(q, (0, pad)).view(out_f, -1, group)
    mag, sign = q.abs().long(), q.sign()
    powers = 2 ** torch.arange(bits - 1)  # [b]
    term = (mag[..., None] & powers) * 1.0  # [out, groups, group, b]: each set bit's value
    flat = term.flatten(-2)  # [out, groups, group*b]
    k = min(terms, flat.shape[-1])
    # rank terms by value; the tiny index penalty breaks ties towards earlier weights, larger bits
    order = flat - torch.arange(flat.shape[-1]) * 1e-6
    keep = torch.zeros_like(flat, dtype=torch.bool).scatter_(-1, order.topk(k, dim=-1).indices, True)
    kept = (flat * keep).view_as(term).sum(-1) * sign  # [out, groups, group]
    return (kept.view(out_f, -1)[:, :in_f] * scale).to(w.dtype)


def quantize_weights(model: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]) -> nn.Module:
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for w in linear_weights(clone):
            w.copy_(fn(w))
    return clone


def to_bfp(model: nn.Module, block: int = 16, mantissa_bits: int = 4) -> nn.Module:
    return quantize_weights(model, lambda w: bfp_weight(w, block, mantissa_bits))


def to_term_reveal(model: nn.Module, terms: int = 8, group: int = 4) -> nn.Module:
    return quantize_weights(model, lambda w: term_reveal_weight(w, terms, group))


QUANTIZERS: dict[str, Callable[..., nn.Module]] = {
    "bf16": to_bf16,
    "int8": to_int8_dynamic,
    "bfp": to_bfp,
    "tr": to_term_reveal,
}


def quantize(model: nn.Module, method: str, **options: Any) -> nn.Module:
    """A quantized copy of `model` by method name (see QUANTIZERS)."""
    if method not in QUANTIZERS:
        raise ValueError(f"unknown quantization {method!r}; choose one of {', '.join(QUANTIZERS)}")
    return QUANTIZERS[method](model, **options).eval()
