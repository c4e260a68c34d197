"""`trustcheck generate` and `trustcheck consensus` without the terminal: generate candidates, pick
the best across models, then rules + consensus (+ anomaly when fitted) on the result.

Validators that share the target's tokenizer are handed to the decoder as extra verifiers, so their
per-token log-probs arrive in the DecodeTrace and consensus needs no forward pass of its own; the
others are scored afterwards (one pass each, counted in `consensus_passes`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from detectors.consensus import ConsensusDetector, LineVerdict, load_scoring_model, trace_scores
from detectors.consensus_behaviour import behaviour_findings
from detectors.consensus_best import CandidateScore, rank_candidates
from detectors.consensus_calibration import Calibration
from detectors.consensus_scoring import ScoringModel, TokenScores
from trustcheck.findings import Finding
from trustcheck.sources import Source


def is_remote(spec: Any) -> bool:
    from decoding.backends import REMOTE_PREFIXES

    return isinstance(spec, str) and spec.startswith((*REMOTE_PREFIXES, "litellm:"))


def shifted(scores: TokenScores, offset: int) -> TokenScores:
    """Spans moved right by `offset` characters (generated text -> prompt + generated text)."""
    return TokenScores(scores.model, tuple((s + offset, e + offset) for s, e in scores.spans), scores.logprobs)


@dataclasses.dataclass
class GenerateReport:
    prompt: str
    code: str  # prompt + the chosen completion
    path: str
    generation: Any  # decoding.protocols.Generation of the chosen candidate
    candidates: list[CandidateScore]
    findings: list[Finding]
    verdicts: list[LineVerdict]
    consensus_passes: int  # forward passes consensus itself made (0 when the trace had every validator)
    independents: dict[str, str] = dataclasses.field(default_factory=dict)  # model -> its version
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)


def load_validators(specs: Sequence[Any]) -> tuple[list[ScoringModel], list[str]]:
    """(local scoring models, remote litellm names); remote models can write but not score."""
    local, remote = [], []
    for spec in specs:
        if is_remote(spec):
            remote.append(str(spec).removeprefix("litellm:"))
        else:
            local.append(load_scoring_model(spec))
    return local, remote


def _same_tokenizer(a: Any, b: Any) -> bool:
    return a is b or a.get_vocab() == b.get_vocab()


def _generate_one(prompt: str, target: Any, drafter: Any, inline: Sequence[ScoringModel], strategy: str,
                  max_new_tokens: int, seed: int | None, on_token: Callable[[str], None] | None):
    from decoding.protocols import GREEDY, Sampling

    sampling = GREEDY if seed is None else Sampling(temperature=0.8, seed=seed)
    if is_remote(target):
        from decoding.backends import backend_for

        return backend_for(str(target).removeprefix("litellm:")).generate(
            prompt, max_new_tokens=max_new_tokens, sampling=sampling, on_token=on_token)
    from decoding.generate import generate_code

    return generate_code(prompt, target=target, drafter=drafter, validators=[(v.model, v.tokenizer) for v in inline],
                         strategy=strategy, max_new_tokens=max_new_tokens, sampling=sampling, on_token=on_token,
                         calibrate=seed is None)


def _renamed_trace_scores(generation: Any, inline: Sequence[ScoringModel], target_name: str) -> dict[str, TokenScores]:
    """Trace scores keyed by our validator names (the decoder names extra verifiers itself)."""
    found = trace_scores(generation)
    trace = getattr(generation, "trace", None)
    out: dict[str, TokenScores] = {}
    if trace is not None and getattr(trace, "target", None) in found:
        out[target_name] = found.pop(trace.target)
    for v, (name, scores) in zip(inline, [(k, s) for k, s in found.items() if k != target_name]):
        out[v.name] = TokenScores(v.name, scores.spans, scores.logprobs)
    return out


def run_generate(prompt: str, *, target: Any = "bundled:target", drafter: Any = "bundled:drafter",
                 validators: Sequence[Any] = ("bundled:validator-a", "bundled:validator-b"),
                 independents: Sequence[Any] | None = None, strategy: str = "speculative", max_new_tokens: int = 128,
                 candidates: int = 1, calibration: Calibration | None = None, language: str = "python",
                 path: str = "<generated>", on_token: Callable[[str], None] | None = None,
                 rule_detectors: Sequence[Any] | None = None) -> GenerateReport:
    """Generate `candidates` completions, pick the one all models find most probable, check it."""
    local, remote = load_validators(validators)
    target_model = None if is_remote(target) else load_scoring_model(target, name="generator")
    inline = [v for v in local if target_model is not None and _same_tokenizer(v.tokenizer, target_model.tokenizer)]
    passes_before = sum(v.passes for v in local)

    generations, precomputed = [], []
    for i in range(max(1, candidates)):
        gen = _generate_one(prompt, target if target_model is None else (target_model.model, target_model.tokenizer),
                            drafter, inline, strategy, max_new_tokens, None if i == 0 else i,
                            on_token if i == 0 else None)
        generations.append(gen)
        precomputed.append(_renamed_trace_scores(gen, inline, "generator"))
    ranked = rank_candidates([(f"seed-{i}" if i else "greedy", g.text) for i, g in enumerate(generations)], local,
                             prompt, precomputed) if len(generations) > 1 else []
    best = ranked[0].index if ranked else 0
    generation, known = generations[best], precomputed[best]

    code = prompt + generation.text
    offset = len(prompt)
    detector = ConsensusDetector(local, calibration, prompt="",
                                 precomputed={k: shifted(s, offset) for k, s in known.items()},
                                 generator=shifted(known["generator"], offset) if "generator" in known else None)
    # Validators the trace lacks score the completion with the prompt as context, then shift.
    for v in local:
        if v.name not in detector.precomputed:
            detector.precomputed[v.name] = shifted(v.score(generation.text, prompt), offset)
    source = Source(path, language, code.encode("utf-8"))
    findings = list(detector.detect(source))
    consensus_passes = sum(v.passes for v in local) - passes_before - _ranking_passes(ranked, precomputed, local)

    versions: dict[str, str] = {}
    writers = list(independents) if independents is not None else [*local, *remote]
    for w in writers:
        name = w.name if isinstance(w, ScoringModel) else str(w)
        model = (w.model, w.tokenizer) if isinstance(w, ScoringModel) else w
        other = _generate_one(prompt, model, None, [], "autoregressive", max_new_tokens, None, None)
        versions[name] = prompt + other.text
    findings += behaviour_findings(path, code, list(versions.values()), language, models=list(versions))
    findings += _rule_findings(source, rule_detectors)
    findings.sort(key=lambda f: (f.line, -f.severity.rank, f.rule_id))
    stats = {"candidates": len(generations), "validators": [v.name for v in local], "remote_validators": remote,
             "inline_validators": [v.name for v in inline], "consensus_forward_passes": consensus_passes,
             "calibrated": calibration is not None}
    return GenerateReport(prompt, code, path, generation, ranked, findings, detector.last_verdicts, consensus_passes,
                          versions, stats)


def _ranking_passes(ranked: Sequence[CandidateScore], precomputed: Sequence[dict], local: Sequence[ScoringModel]) -> int:
    """Passes best-of-N spent scoring candidates (reported apart from consensus' own)."""
    if not ranked:
        return 0
    return sum(1 for pre in precomputed for v in local if v.name not in pre)


def _rule_findings(source: Source, detectors: Sequence[Any] | None) -> list[Finding]:
    """Rules (+ anomaly when a baseline is fitted) through the app's pipeline, as for `scan`."""
    from trustcheck.pipeline import check_source

    return check_source(source.path, source.language, source.content, detectors=detectors)


def run_consensus(code: str, path: str, *, prompt: str = "", validators: Sequence[Any] = (),
                  calibration: Calibration | None = None, language: str = "python",
                  generator: Any = None) -> tuple[list[Finding], list[LineVerdict]]:
    """The token-likelihood signal on existing code (for reviewing code written elsewhere); with
    the model that wrote it (`generator`), also the log-likelihood ratio."""
    local, _ = load_validators(validators)
    gen_scores = load_scoring_model(generator, name="generator").score(code, prompt) if generator else None
    detector = ConsensusDetector(local, calibration, prompt=prompt, generator=gen_scores)
    return detector.detect(Source(path, language, code.encode("utf-8"))), detector.last_verdicts
