"""A lean forward pass for Llama-style models with a static, preallocated KV cache.

Same interface as `decoding.cache.CachedLM` (forward / step / rollback / length / ids), built from
a transformers `LlamaForCausalLM`'s own weights (nothing is copied but q|k|v and gate|up, which are
fused into one matrix each). Why: for 1-15M parameter models on a CPU, transformers' generic forward
spends most of its time in Python dispatch, masks and cache objects, not in arithmetic. Here a step
is ~10 tensor ops per layer, and rollback is free (the cache length is just an integer).

    x = embed[tokens]                                          # [n, h]
    per layer:  q,k,v = rope(rms(x) @ Wqkv);  cache[pos:pos+n] = k,v
                x += sdpa(q, K[:pos+n], V[:pos+n], causal) @ Wo
                x += (silu(g) * u) @ Wdown   where g|u = rms(x) @ Wgu
    logits = rms(x[-keep:]) @ Wlm
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from decoding.cache import common_prefix_length

SUPPORTED = ("llama", "mistral")


def supports(model: Any) -> bool:
    """Llama-style decoders without biases, sliding windows or exotic rope: what this forward computes."""
    cfg = getattr(model, "config", None)
    try:  # quantized Linear modules (torch.ao) have no plain weight tensor: not for us
        plain = isinstance(model.model.layers[0].self_attn.q_proj.weight, torch.Tensor)
    except AttributeError:
        return False
    return (plain and getattr(cfg, "model_type", "") in SUPPORTED and not getattr(cfg, "attention_bias", False)
            and not getattr(cfg, "mlp_bias", False) and getattr(cfg, "sliding_window", None) is None
            and getattr(cfg, "hidden_act", "silu") == "silu")


class FastLM:
    """Static-cache Llama forward; batch size 1."""

    def __init__(self, model: Any, capacity: int | None = None) -> None:
        cfg = model.config
        self.model = model
        self.capacity = capacity or int(cfg.max_position_embeddings)
        self.heads = cfg.num_attention_heads
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = cfg.rms_norm_eps
        inner = model.model
        self.embed = inner.embed_tokens.weight
        self.final_norm = inner.norm.weight
        self.lm_head = model.lm_head.weight
        self.layers = []
        for layer in inner.layers:
            a, m = layer.self_attn, layer.mlp
            wqkv = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).detach()
            wgu = torch.cat([m.gate_proj.weight, m.up_proj.weight]).detach()
            self.layers.append((layer.input_layernorm.weight, wqkv, a.o_proj.weight, layer.post_attention_layernorm.weight,
                                wgu, m.down_proj.weight))
        dtype = self.embed.dtype
        shape = (len(self.layers), 1, self.kv_heads, self.capacity, self.head_dim)
        self.k_cache = torch.zeros(shape, dtype=dtype)
        self.v_cache = torch.zeros(shape, dtype=dtype)
        positions = torch.arange(self.capacity)[None]
        with torch.no_grad():
            cos, sin = inner.rotary_emb(self.embed[:1], position_ids=positions)
        # [capacity, head_dim]; sin carries rotate_half's sign (see `rope`)
        self.cos, self.sin = cos[0].to(dtype), signed_sin(sin[0].to(dtype))
        self.ids = torch.empty(self.capacity, dtype=torch.long)
        self.length = 0
        self.scale = getattr(model.model.layers[0].self_attn, "scaling", self.head_dim ** -0.5)

    # -- the CachedLM interface -------------------------------------------------------------
    def reset(self) -> None:
        self.length = 0

    def rollback(self, length: int) -> None:
        self.length = min(self.length, length)

    def forward(self, tokens: torch.Tensor, keep: int = 1) -> torch.Tensor:
        n = tokens.shape[0]
        start = min(common_prefix_length(self.ids[: self.length], tokens), n - keep)
        self.length = start
        return self.run(tokens[start:], keep)

    def step(self, token: torch.Tensor) -> torch.Tensor:
        return self.run(token.reshape(1), 1)

    # -- the maths ----------------------------------------------------------------------------
    def run(self, new: torch.Tensor, keep: int) -> torch.Tensor:
        """Append `new` [n] at position self.length; logits [keep, V] of the last keep positions."""
        pos, n = self.length, new.shape[0]
        end = pos + n
        if end > self.capacity:
            raise ValueError(f"context of {end} tokens exceeds the cache capacity {self.capacity}")
        self.ids[pos:end] = new
        hq, hk, d = self.heads, self.kv_heads, self.head_dim
        cos, sin = self.cos[pos:end], self.sin[pos:end]  # [n, d]
        mask = None
        if n > 1:  # new token i sees cached positions and new positions <= i
            mask = torch.arange(end)[None, :] <= torch.arange(pos, end)[:, None]  # [n, end]
        x = F.embedding(new, self.embed)  # [n, h]
        qk_heads = hq + hk
        for li, (w_in, wqkv, wo, w_post, wgu, wdown) in enumerate(self.layers):
            h = F.rms_norm(x, w_in.shape, w_in, self.eps)
            qkv = h @ wqkv.T  # [n, (hq + 2 hk) d]
            # q and k side by side in one rope (a third of the ops of roping them apart)
            qk = rope(qkv[:, : qk_heads * d].view(n, qk_heads, d), cos, sin).transpose(0, 1)  # [hq+hk, n, d]
            kc, vc = self.k_cache[li, 0], self.v_cache[li, 0]  # [hk, capacity, d]
            kc[:, pos:end] = qk[hq:]
            vc[:, pos:end] = qkv[:, qk_heads * d:].view(n, hk, d).transpose(0, 1)
            att = F.scaled_dot_product_attention(qk[None, :hq], kc[None, :, :end], vc[None, :, :end], attn_mask=mask,
                                                 scale=self.scale, enable_gqa=hq != hk)  # [1, hq, n, d]
            x = torch.addmm(x, att[0].transpose(0, 1).reshape(n, hq * d), wo.T)  # x + att @ Wo, one op
            h = F.rms_norm(x, w_post.shape, w_post, self.eps)
            g, u = (h @ wgu.T).chunk(2, dim=-1)
            x = torch.addmm(x, F.silu(g) * u, wdown.T)
        self.length = end
        x = F.rms_norm(x[-keep:], self.final_norm.shape, self.final_norm, self.eps)
        return x @ self.lm_head.T  # [keep, V]


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding, rotate-half form: x*cos + rotate_half(x)*sin. x [n, heads, d], cos/sin [n, d],
    sin already through `signed_sin`.

    rotate_half(x) = [-x2, x1] is computed as flip([x1, x2]) = [x2, x1] times sin with its first half
    negated: the same products, bit for bit, in 3 ops instead of 7.
    """
    n, heads, d = x.shape
    swapped = x.view(n, heads, 2, d // 2).flip(2).view(n, heads, d)
    return x * cos[:, None] + swapped * sin[:, None]


def signed_sin(sin: torch.Tensor) -> torch.Tensor:
    """sin [n, d] with its first half negated (rotate_half's sign, moved onto sin)."""
    half = sin.shape[-1] // 2
    return torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)
