"""Backends: prompt in, Generation out. Local speculative decoding, or a remote model via litellm.

    backend_for("bundled:target")              -> LocalBackend (our schedulers)
    backend_for("openai/gpt-4o-mini")          -> LiteLLMBackend (also anthropic/, ollama/, hosted_vllm/)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from decoding.protocols import GREEDY, Generation, OnToken, Sampling
from decoding.trace import DecodeTrace

REMOTE_PREFIXES = ("openai/", "anthropic/", "ollama/", "ollama_chat/", "hosted_vllm/")


@dataclass
class LocalBackend:
    """Local models through `decoding.generate.generate_code` (names, paths or loaded models)."""

    target: Any = "bundled:target"
    drafter: Any = "bundled:drafter"
    validators: Sequence[Any] = ()
    strategy: str = "speculative"
    k: int = 4  # best measured on the bundled pair (benchmarks/decode.py)
    name: str = "local"

    def __post_init__(self) -> None:
        from decoding.generate import resolve

        # load once; later calls reuse the models
        self.target = resolve(self.target)
        if self.drafter is not None and self.strategy not in ("autoregressive", "ngram"):
            self.drafter = resolve(self.drafter)
        self.validators = [resolve(v) for v in self.validators]
        if self.name == "local":
            self.name = f"local/{self.target.name}"

    def generate(self, prompt: str, *, max_new_tokens: int = 128, sampling: Sampling = GREEDY,
                 on_token: OnToken | None = None) -> Generation:
        from decoding.generate import generate_code

        return generate_code(prompt, target=self.target, drafter=self.drafter, validators=self.validators,
                             strategy=self.strategy, max_new_tokens=max_new_tokens, k=self.k,
                             sampling=sampling, on_token=on_token)


def _as_dict(obj: Any) -> Any:
    if obj is None or isinstance(obj, (dict, list, str, int, float)):
        return obj
    return obj.model_dump() if hasattr(obj, "model_dump") else dict(vars(obj))


def _field(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def logprob_pieces(choice: Any) -> list[tuple[str, float]]:
    """(token, log-prob) pairs from an OpenAI-style choice: chat form {"content": [{token, logprob}]}
    or completion form {"tokens": [...], "token_logprobs": [...]}; [] when there are none."""
    lp = _as_dict(_field(choice, "logprobs"))
    if not isinstance(lp, dict):
        return []
    if lp.get("content"):
        return [(str(c["token"]), float(c["logprob"])) for c in map(_as_dict, lp["content"])]
    if lp.get("tokens") and lp.get("token_logprobs"):
        return [(str(t), float(v)) for t, v in zip(lp["tokens"], lp["token_logprobs"]) if v is not None]
    return []


@dataclass
class LiteLLMBackend:
    """A remote model through litellm: `openai/...`, `anthropic/...`, `ollama/...`, `hosted_vllm/...`.

    mode "chat" (default) or "completion" (raw continuation). Log-probs are requested and kept when
    the provider returns them (trace.token_logprobs[model], pieces in trace.meta["pieces"]).
    """

    model: str
    api_base: str | None = None
    api_key: str | None = None
    mode: str = "chat"
    logprobs: bool = True
    timeout: float = 120.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model

    def generate(self, prompt: str, *, max_new_tokens: int = 128, sampling: Sampling = GREEDY,
                 on_token: OnToken | None = None) -> Generation:
        import time

        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map
        import litellm

        kwargs: dict[str, Any] = dict(model=self.model, max_tokens=max_new_tokens, temperature=sampling.temperature,
                                      timeout=self.timeout, **self.extra)
        if sampling.top_p < 1.0:
            kwargs["top_p"] = sampling.top_p
        if sampling.seed is not None:
            kwargs["seed"] = sampling.seed
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.logprobs and not self.model.startswith("anthropic/"):
            kwargs["logprobs"] = True if self.mode == "chat" else 1
        start = time.perf_counter()
        if self.mode == "chat":
            resp = litellm.completion(messages=[{"role": "user", "content": prompt}], **kwargs)
            choice = resp.choices[0]
            text = choice.message.content or ""
        else:
            resp = litellm.text_completion(prompt=prompt, **kwargs)
            choice = resp.choices[0]
            text = _field(choice, "text") or ""
        pieces = logprob_pieces(choice)
        trace = DecodeTrace("remote", self.model, total_s=time.perf_counter() - start)
        if pieces:
            trace.token_logprobs[self.model] = [lp for _, lp in pieces]
            trace.meta["pieces"] = pieces
        if on_token is not None and text:
            on_token(text)
        return Generation(text=text, token_ids=[], trace=trace, prompt=prompt, model=self.model)


def backend_for(name: str, **options: Any) -> Any:
    """A Backend for a model name: remote provider prefixes go to litellm, everything else is local."""
    if name.startswith(REMOTE_PREFIXES):
        return LiteLLMBackend(name, **options)
    return LocalBackend(target=name, **options)
