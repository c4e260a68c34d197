"""Architectures of the bundled models, built from transformers configs (no custom code).

Sizes are chosen for a 2-core CPU: the target is the biggest model that still sees a few million
tokens in ~40 minutes; the drafter is ~10x smaller so drafting is cheap; the validators use other
families (GPT-NeoX, Qwen2) and other seeds so their errors are independent of the target's.
"""

from __future__ import annotations

from typing import Any

VOCAB_SIZE = 4096
MAX_POSITIONS = 1024

# name -> (model_type, kwargs). Parameter counts are printed by `trustcheck models info`.
ARCHITECTURES: dict[str, tuple[str, dict[str, Any]]] = {
    "target": (
        "llama",
        {
            "hidden_size": 320,
            "num_hidden_layers": 8,
            "num_attention_heads": 5,
            "num_key_value_heads": 5,
            "intermediate_size": 864,
            "tie_word_embeddings": False,
        },
    ),
    "drafter": (
        "llama",
        {
            "hidden_size": 128,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "intermediate_size": 384,
            "tie_word_embeddings": True,
        },
    ),
    "validator-a": (
        "gpt_neox",
        {
            "hidden_size": 224,
            "num_hidden_layers": 6,
            "num_attention_heads": 4,
            "intermediate_size": 896,
            "tie_word_embeddings": False,
            "rotary_pct": 0.5,
        },
    ),
    "validator-b": (
        "qwen2",
        {
            "hidden_size": 224,
            "num_hidden_layers": 6,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "intermediate_size": 640,
            "tie_word_embeddings": True,
        },
    ),
    # Seconds-scale model for tests.
    "tiny": (
        "llama",
        {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "intermediate_size": 64,
            "tie_word_embeddings": True,
        },
    ),
}


def build_config(arch: str, vocab_size: int = VOCAB_SIZE, eos_id: int = 0, pad_id: int = 1):
    """A transformers PretrainedConfig for one of ARCHITECTURES."""
    from transformers import AutoConfig

    model_type, kwargs = ARCHITECTURES[arch]
    return AutoConfig.for_model(
        model_type,
        vocab_size=vocab_size,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        **kwargs,
    )


def build_model(arch: str, seed: int, vocab_size: int = VOCAB_SIZE, eos_id: int = 0, pad_id: int = 1):
    """A freshly initialised causal LM (fp32) for `arch`, initialised from `seed`."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = build_config(arch, vocab_size, eos_id, pad_id)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def count_parameters(model) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
