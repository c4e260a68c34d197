"""One entry point for local generation: names or models in, a Generation with its trace out.

    generate_code("def add(a, b):", target="bundled:target", drafter="bundled:drafter",
                  validators=["bundled:validator-a"], strategy="speculative", max_new_tokens=128,
                  on_token=print) -> Generation

Strategies: autoregressive | speculative | adaptive (speculative, adaptive draft length) |
multi-draft (model drafter + n-gram drafter, batched verification) | ngram (prompt lookup only) |
hybrid (prompt lookup when the context has a match, the model drafter otherwise; adaptive k) |
async (drafter in its own process, AMUSD) | pipeline (drafter -> intermediate -> target chain) |
async-pipeline (the same chain, one process per stage, PipeSpec).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from decoding.drafters import HybridDrafter, ModelDrafter, NGramDrafter
from decoding.protocols import GREEDY, Generation, OnToken, Sampling
from decoding.schedulers import autoregressive, multi_draft, speculative
from decoding.schedulers.common import now
from decoding.trace import DecodeTrace
from decoding.verifiers import ModelVerifier

STRATEGIES = ("autoregressive", "speculative", "adaptive", "multi-draft", "ngram", "hybrid", "async", "pipeline",
              "async-pipeline")


@dataclass
class Loaded:
    """A model and its tokenizer (what `decoding.loading.load_model` returns has the same fields)."""

    model: Any
    tokenizer: Any
    name: str


def resolve(spec: Any) -> Loaded:
    """A name/path (loaded via decoding.loading.load_model), a LoadedModel, or a (model, tokenizer) pair."""
    if isinstance(spec, str):
        from decoding.loading import load_model

        spec = load_model(spec)
    if isinstance(spec, tuple):
        model, tokenizer = spec
        return Loaded(model.eval(), tokenizer, getattr(model.config, "name_or_path", "") or "model")
    return Loaded(spec.model.eval(), spec.tokenizer, str(getattr(spec, "name", "model")))


def same_tokenizer(a: Any, b: Any) -> bool:
    return a is b or a.get_vocab() == b.get_vocab()


def measure_single_step(verifier: ModelVerifier, context: torch.Tensor, repeats: int = 5) -> float:
    """Median seconds of one single-token target step at this context length (for c and v)."""
    times = []
    for _ in range(repeats):
        verifier.lm.rollback(context.shape[0] - 1)
        t0 = now()
        verifier.lm.forward(context)
        times.append(now() - t0)
    return statistics.median(times)


def score_text(loaded: Loaded, prompt: str, text: str) -> list[tuple[str, float]]:
    """Per-token (piece, log-prob) of `text` after `prompt` under a model with its own tokenizer."""
    tok = loaded.tokenizer
    p_ids = tok(prompt, return_tensors="pt").input_ids[0]
    all_ids = tok(prompt + text, return_tensors="pt").input_ids[0]
    start = max(1, min(p_ids.shape[0], all_ids.shape[0] - 1))
    logits = loaded.model(input_ids=all_ids[None]).logits[0, start - 1: -1].float()
    targets = all_ids[start:]
    lps = (logits.gather(-1, targets[:, None])[:, 0] - logits.logsumexp(-1)).tolist()
    return list(zip(tok.convert_ids_to_tokens(targets.tolist()), lps))


def unique_names(target: Loaded, validators: list[Loaded]) -> list[Loaded]:
    """Validators keyed by name in the trace: make every name distinct from the target's and each other's."""
    seen = {target.name}
    for i, v in enumerate(validators):
        if v.name in seen:
            v.name = f"{v.name}-validator{i + 1}"
        seen.add(v.name)
    return validators


def make_drafters(strategy: str, drafter: Loaded | None, confidence: float) -> list[Any]:
    if strategy == "ngram":
        return [NGramDrafter()]
    if drafter is None:
        raise ValueError(f"strategy {strategy!r} needs a drafter model")
    model_drafter = ModelDrafter(drafter.model, name=drafter.name, confidence=confidence)
    if strategy == "hybrid":
        return [HybridDrafter(model_drafter)]
    return [model_drafter, NGramDrafter()] if strategy == "multi-draft" else [model_drafter]


def run_strategy(strategy: str, verifier: ModelVerifier, drafters: list[Any], prompt_ids: torch.Tensor,
                 k: int, intermediate: Loaded | None = None, **kw: Any) -> DecodeTrace:
    if strategy == "autoregressive":
        return autoregressive(verifier, prompt_ids, **kw)
    if strategy == "multi-draft":
        return multi_draft(verifier, drafters, prompt_ids, k=k, **kw)
    if strategy == "async":
        from decoding.schedulers.asynchronous import DraftWorker, asynchronous

        drafter = drafters[0]
        with DraftWorker(drafter.lm.model, name=drafter.name, max_ahead=k) as worker:
            return asynchronous(verifier, worker, prompt_ids, max_block=k, **kw)
    if strategy == "async-pipeline":
        from decoding.schedulers.asynchronous import PipelineWorker, asynchronous

        if intermediate is None:
            raise ValueError("strategy 'async-pipeline' needs an intermediate model")
        with PipelineWorker([drafters[0].lm.model, intermediate.model], max_ahead=k) as chain_worker:
            trace = asynchronous(verifier, chain_worker, prompt_ids, max_block=k, **kw)
        trace.strategy = "async-pipeline"
        return trace
    if strategy == "pipeline":
        from decoding.schedulers.pipeline import ChainDrafter

        if intermediate is None:
            raise ValueError("strategy 'pipeline' needs an intermediate model")
        chain = ChainDrafter(ModelVerifier(intermediate.model, intermediate.name, fast=True), drafters[0])
        trace = speculative(verifier, chain, prompt_ids, k=k, **kw)
        trace.strategy = "pipeline"
        return trace
    return speculative(verifier, drafters[0], prompt_ids, k=k, adaptive=strategy in ("adaptive", "hybrid"), **kw)


def generate_code(prompt: str, *, target: Any = "bundled:target", drafter: Any = "bundled:drafter",
                  validators: Sequence[Any] = (), strategy: str = "speculative", max_new_tokens: int = 128,
                  k: int = 4, sampling: Sampling = GREEDY, confidence: float = 0.0,
                  on_token: OnToken | None = None, calibrate: bool = True,
                  intermediate: Any = "bundled:validator-a") -> Generation:
    """Generate a continuation of `prompt` with the chosen strategy; validators score every token.

    Validators sharing the target's tokenizer score each round's accepted tokens (trace.token_logprobs
    [name], aligned with trace.tokens); others score the finished text with their own tokenizer
    (trace.meta["validator_pieces"][name] = [(piece, log-prob), ...]). Neither changes the output.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    tgt = resolve(target)
    drf = resolve(drafter) if drafter is not None and strategy not in ("autoregressive", "ngram") else None
    mid = resolve(intermediate) if "pipeline" in strategy and intermediate is not None else None
    vals = unique_names(tgt, [resolve(v) for v in validators])
    tok = tgt.tokenizer
    inline = [ModelVerifier(v.model, v.name) for v in vals if same_tokenizer(v.tokenizer, tok)]
    posthoc = [v for v in vals if not same_tokenizer(v.tokenizer, tok)]
    prompt_ids = tok(prompt, return_tensors="pt").input_ids[0]
    if prompt_ids.numel() == 0:  # an empty prompt: start from the document separator
        prompt_ids = torch.tensor([tok.eos_token_id if tok.eos_token_id is not None else 0])
    generated: list[int] = []
    emitted = [""]

    def on_tokens(ids: list[int]) -> None:  # incremental detokenisation for streaming
        generated.extend(ids)
        text = tok.decode(generated, skip_special_tokens=True)
        # hold back a trailing partial UTF-8 sequence (decoded as U+FFFD) until it completes
        if on_token is not None and len(text) > len(emitted[0]) and not text.endswith("\ufffd"):
            on_token(text[len(emitted[0]):])
            emitted[0] = text

    generator = torch.Generator().manual_seed(sampling.seed) if sampling.seed is not None else None
    verifier = ModelVerifier(tgt.model, tgt.name)
    with torch.inference_mode():
        drafters = make_drafters(strategy, drf, confidence) if strategy != "autoregressive" else []
        trace = run_strategy(strategy, verifier, drafters, prompt_ids, k, intermediate=mid,
                             max_new_tokens=max_new_tokens, sampling=sampling, eos_token_id=tok.eos_token_id,
                             extra_verifiers=inline, on_tokens=on_tokens if on_token is not None else None,
                             generator=generator)
        text = tok.decode(trace.tokens, skip_special_tokens=True)
        if on_token is not None and text.startswith(emitted[0]) and len(text) > len(emitted[0]):
            on_token(text[len(emitted[0]):])  # flush what was held back
        if calibrate and trace.tokens:
            full = torch.cat([prompt_ids, torch.tensor(trace.tokens)])
            trace.t_single = measure_single_step(verifier, full[:-1] if full.shape[0] > 1 else full)
        if posthoc:
            trace.meta["validator_pieces"] = {v.name: score_text(v, prompt, text) for v in posthoc}
    trace.meta["strategy"] = strategy
    trace.meta["token_texts"], trace.meta["token_offsets"] = token_spans(tok, trace.tokens)
    return Generation(text=text, token_ids=trace.tokens, trace=trace, prompt=prompt, model=tgt.name)


def token_spans(tokenizer: Any, tokens: list[int]) -> tuple[list[str], list[int]]:
    """Each generated token's text and its start offset in the decoded text, for mapping per-token
    scores to lines. texts concatenate to the text exactly; a multi-byte character split across
    tokens belongs to the token that completes it."""
    final = tokenizer.decode(tokens, skip_special_tokens=True)
    offsets: list[int] = []
    for i in range(len(tokens)):
        prefix = tokenizer.decode(tokens[:i], skip_special_tokens=True) if i else ""
        n = min(len(prefix), len(final))
        while n and prefix[:n] != final[:n]:  # a trailing partial character decodes differently
            n -= 1
        offsets.append(max(n, offsets[-1] if offsets else 0))
    ends = offsets[1:] + [len(final)]
    return [final[a:b] for a, b in zip(offsets, ends)], offsets
