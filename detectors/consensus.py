"""Cross-model consensus, signal 1: token likelihood under independent validators.

Every validator scores the code (conditioned on its prompt when known); scores are aligned on
characters (see consensus_scoring) and turned into per-validator z-scores with the calibration
from clean code. A line is flagged when *all* validators find it improbable (the smallest z is
above the calibrated threshold), and more readily when the generator found it far more probable
than the validators did (log-likelihood ratio, from the DecodeTrace when there is one).

Signals 2 and 3 (behaviour voting, best-of-N) live in consensus_behaviour and consensus_best.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.consensus_calibration import Calibration, ValidatorStats, agreement, boosted, robust_stats
from detectors.consensus_scoring import LineSurprisal, ScoringModel, TokenScores, line_surprisal
from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.sources import Source

RULE_ID = "consensus-improbable-line"
CWE = "CWE-506"  # embedded malicious code
DEFAULT_THRESHOLD = 3.0  # agreement z when no calibration is available
BUNDLED_CALIBRATION = Path(__file__).resolve().parent.parent / "decoding" / "bundled" / "consensus-calibration.json"


@dataclasses.dataclass(frozen=True)
class LineVerdict:
    line: int
    text: str
    nats_per_char: dict[str, float]  # per validator
    z: dict[str, float]
    agreement: float
    generator_nats_per_char: float | None
    llr: float | None  # mean validator nats/char - generator nats/char (> 0: generator preferred it)
    score: float
    threshold: float
    calibrated: bool

    @property
    def flagged(self) -> bool:
        return self.score > self.threshold

    def evidence(self) -> dict[str, Any]:
        r = lambda x: None if x is None else round(float(x), 4)
        return {"nats_per_char": {k: r(v) for k, v in self.nats_per_char.items()},
                "z": {k: r(v) for k, v in self.z.items()}, "agreement": r(self.agreement),
                "generator_nats_per_char": r(self.generator_nats_per_char), "llr": r(self.llr),
                "score": r(self.score), "threshold": r(self.threshold), "calibrated": self.calibrated}


def judge_lines(text: str, validator_scores: Mapping[str, TokenScores], calibration: Calibration | None = None,
                generator: TokenScores | None = None) -> list[LineVerdict]:
    """A verdict for every non-blank line of `text` from the validators' (and generator's) token scores."""
    per_model: dict[str, list[LineSurprisal]] = {n: line_surprisal(text, s) for n, s in validator_scores.items()}
    if not per_model:
        return []
    names = sorted(per_model)
    lines = per_model[names[0]]
    stats: dict[str, ValidatorStats] = {}
    calibrated = calibration is not None and all(calibration.stats_for(n) for n in names)
    for n in names:
        known = calibration.stats_for(n) if calibration is not None else None
        # An uncalibrated validator is compared with the document's own lines (weaker; said in evidence).
        stats[n] = known or robust_stats([ls.nats_per_char for ls in per_model[n]])
    threshold = calibration.threshold if calibrated and calibration is not None else DEFAULT_THRESHOLD
    gen_lines = {ls.line: ls.nats_per_char for ls in line_surprisal(text, generator)} if generator else {}
    verdicts = []
    for i, ls in enumerate(lines):
        npc = {n: per_model[n][i].nats_per_char for n in names}
        z = {n: stats[n].z(npc[n]) for n in names}
        agree = agreement(list(z.values()))
        g = gen_lines.get(ls.line)
        llr = llr_z = None
        if g is not None:
            llr = float(np.mean(list(npc.values()))) - g
            llr_z = llr / float(np.mean([stats[n].scale for n in names]))
        verdicts.append(LineVerdict(ls.line, ls.text, npc, z, agree, g, llr, boosted(agree, llr_z), threshold,
                                    calibrated))
    return verdicts


def verdict_findings(path: str, verdicts: Sequence[LineVerdict]) -> list[Finding]:
    """One Finding per flagged line."""
    findings = []
    for v in verdicts:
        if not v.flagged:
            continue
        boosted_by_generator = v.score > v.agreement
        strong = v.score > v.threshold + 2
        message = (f"independent models find this line improbable (agreement z={v.agreement:.1f} > "
                   f"{v.threshold:.1f}" + (f", generator preferred it by {v.llr:.2f} nats/char" if boosted_by_generator
                                           and v.llr is not None else "") + "): review it for injected behaviour")
        findings.append(Finding(
            rule_id=RULE_ID, detector="consensus",
            severity=Severity.HIGH if strong or boosted_by_generator else Severity.MEDIUM,
            confidence=Confidence.HIGH if strong and v.calibrated else (Confidence.MEDIUM if v.calibrated else Confidence.LOW),
            message=message, path=path, line=v.line, column=1, end_line=v.line, end_column=len(v.text) + 1,
            cwe=CWE, snippet=v.text.strip(), evidence=v.evidence()).with_fingerprint())
    return findings


def score_with(validators: Sequence[ScoringModel], text: str, prompt: str = "",
               precomputed: Mapping[str, TokenScores] | None = None) -> dict[str, TokenScores]:
    """Each validator's token scores; those in `precomputed` (e.g. from a DecodeTrace) cost no pass."""
    out = dict(precomputed or {})
    for v in validators:
        if v.name not in out:
            out[v.name] = v.score(text, prompt)
    return out


def trace_scores(generation: Any) -> dict[str, TokenScores]:
    """TokenScores per model from a Generation's DecodeTrace (token_logprobs aligned with tokens;
    character offsets from trace.meta["token_offsets"]). Empty when there is no trace."""
    trace = getattr(generation, "trace", None)
    if trace is None or not getattr(trace, "token_logprobs", None):
        return {}
    text = generation.text
    offsets = list(trace.meta.get("token_offsets") or [])
    if len(offsets) != len(trace.tokens):
        return {}
    ends = offsets[1:] + [len(text)]
    spans = tuple(zip(offsets, ends))
    return {name: TokenScores(name, spans[: len(lps)], tuple(float(x) for x in lps))
            for name, lps in trace.token_logprobs.items() if len(lps) == len(spans)}


class ConsensusDetector:
    """Detector protocol: token-likelihood consensus on one source."""

    name = "consensus"

    def __init__(self, validators: Sequence[ScoringModel], calibration: Calibration | None = None,
                 prompt: str = "", precomputed: Mapping[str, TokenScores] | None = None,
                 generator: TokenScores | None = None):
        self.validators, self.calibration, self.prompt = list(validators), calibration, prompt
        self.precomputed, self.generator = dict(precomputed or {}), generator
        self.last_verdicts: list[LineVerdict] = []

    def detect(self, source: Source) -> list[Finding]:
        names = [v.name for v in self.validators]
        scores = score_with(self.validators, source.text, self.prompt,
                            {k: s for k, s in self.precomputed.items() if k in names})
        self.last_verdicts = judge_lines(source.text, scores, self.calibration, self.generator)
        return verdict_findings(source.path, self.last_verdicts)


def load_calibration(path: Path | None = None) -> Calibration | None:
    """The calibration at `path`, else the bundled one, else None (then DEFAULT_THRESHOLD applies)."""
    path = path or BUNDLED_CALIBRATION
    return Calibration.load(path) if Path(path).exists() else None


def load_scoring_model(spec: Any, name: str | None = None) -> ScoringModel:
    """A ScoringModel from a bundled name, a local directory, a hub id, or a (model, tokenizer) pair."""
    if isinstance(spec, ScoringModel):
        return spec
    if isinstance(spec, tuple):
        model, tokenizer = spec
        return ScoringModel(name or str(getattr(model.config, "name_or_path", "") or "model"), model.eval(), tokenizer)
    if isinstance(spec, str):
        from decoding.loading import load_model

        spec = load_model(spec)
    return ScoringModel(name or str(spec.name), spec.model.eval(), spec.tokenizer)
