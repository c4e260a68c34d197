"""Cross-model consensus, signal 3: best-of-N.

N candidates (different models or seeds) for one prompt are each scored by every model, as
log-likelihood per character (comparable across tokenizers); the cross-model score is the mean
over models, and the candidate that all models together find most probable wins. A payload that
only the poisoned generator likes drags its candidate down under every other model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from detectors.consensus_scoring import ScoringModel, TokenScores, mean_logprob_per_char


@dataclasses.dataclass(frozen=True)
class CandidateScore:
    index: int
    label: str  # which model / seed wrote it
    text: str
    per_model: dict[str, float]  # log-likelihood per character under each model
    score: float  # mean over models


def rank_candidates(candidates: Sequence[tuple[str, str]], scorers: Sequence[ScoringModel], prompt: str = "",
                    precomputed: Sequence[Mapping[str, TokenScores]] | None = None) -> list[CandidateScore]:
    """Candidates `(label, text)` scored by every model (precomputed[i][name] reuses a trace's scores),
    best first. Ties keep the original order."""
    ranked = []
    for i, (label, text) in enumerate(candidates):
        known = precomputed[i] if precomputed is not None and i < len(precomputed) else {}
        per_model = {}
        for s in scorers:
            scores = known.get(s.name) or s.score(text, prompt)
            per_model[s.name] = mean_logprob_per_char(text, scores) if text.strip() else float("-inf")
        ranked.append(CandidateScore(i, label, text, per_model, float(np.mean(list(per_model.values())))))
    return sorted(ranked, key=lambda c: (-c.score, c.index))
