"""Calibration of the token-likelihood signal on held-out clean code, stored as JSON.

Per validator: the median and robust scale (MAD * 1.4826) of nats/char over clean lines, so each
validator's surprisal becomes a z-score. A line's agreement score is the *smallest* z over the
validators (every validator must find it improbable). The threshold is the (1 - fpr) quantile of
the agreement score on the clean lines: at most `fpr` of clean lines are flagged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from trustcheck.errors import TrustcheckError

CALIBRATION_VERSION = 1
# Generator boost: a line the generator found much more probable than the validators did (LLR in
# validator-scale units above LLR_MARGIN) gets LLR_WEIGHT * excess added to its agreement score.
LLR_WEIGHT, LLR_MARGIN = 0.5, 3.0


@dataclasses.dataclass(frozen=True)
class ValidatorStats:
    median: float
    scale: float

    def z(self, nats_per_char: float) -> float:
        return (nats_per_char - self.median) / self.scale


@dataclasses.dataclass(frozen=True)
class Calibration:
    fpr: float
    threshold: float  # on the agreement score
    validators: dict[str, ValidatorStats]
    lines: int = 0
    source: str = ""

    def stats_for(self, name: str) -> ValidatorStats | None:
        """Stats by model name; a local path also matches by its folder name."""
        return self.validators.get(name) or self.validators.get(Path(name.rstrip("/")).name)

    def to_dict(self) -> dict:
        return {"version": CALIBRATION_VERSION, "fpr": self.fpr, "threshold": self.threshold, "lines": self.lines,
                "source": self.source,
                "validators": {k: dataclasses.asdict(v) for k, v in sorted(self.validators.items())}}

    @classmethod
    def from_dict(cls, data: Mapping) -> Calibration:
        if data.get("version") != CALIBRATION_VERSION:
            raise TrustcheckError(f"consensus calibration version {data.get('version')!r} is not {CALIBRATION_VERSION}",
                                  hint="re-run `trustcheck consensus calibrate`")
        return cls(float(data["fpr"]), float(data["threshold"]),
                   {k: ValidatorStats(float(v["median"]), float(v["scale"])) for k, v in data["validators"].items()},
                   int(data.get("lines", 0)), str(data.get("source", "")))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError) as exc:
            raise TrustcheckError(f"cannot read consensus calibration {path}: {exc}",
                                  hint="re-run `trustcheck consensus calibrate`") from exc


def robust_stats(values: Sequence[float]) -> ValidatorStats:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return ValidatorStats(0.0, 1.0)
    median = float(np.median(arr))
    scale = float(np.median(np.abs(arr - median))) * 1.4826
    return ValidatorStats(median, max(scale, 1e-3))


def agreement(z_scores: Sequence[float]) -> float:
    """All validators must agree: the least surprised one decides."""
    return float(min(z_scores)) if len(z_scores) else 0.0


def boosted(agreement_score: float, llr_z: float | None) -> float:
    """Agreement plus the generator boost (see LLR_WEIGHT)."""
    if llr_z is None:
        return agreement_score
    return agreement_score + LLR_WEIGHT * max(0.0, llr_z - LLR_MARGIN)


def calibrate(per_validator: Mapping[str, Sequence[float]], fpr: float, source: str = "") -> Calibration:
    """`per_validator[name]` holds nats/char of the same clean lines in the same order."""
    if not 0 < fpr < 1:
        raise TrustcheckError(f"--fpr must be in (0, 1), got {fpr}")
    names = sorted(per_validator)
    if not names or not len(per_validator[names[0]]):
        raise TrustcheckError("no clean lines to calibrate on", hint="point calibration at a folder of clean code")
    stats = {n: robust_stats(per_validator[n]) for n in names}
    n_lines = len(per_validator[names[0]])
    scores = [agreement([stats[n].z(per_validator[n][i]) for n in names]) for i in range(n_lines)]
    threshold = float(np.quantile(np.asarray(scores), 1 - fpr))
    return Calibration(fpr, threshold, stats, n_lines, source)


def calibrate_models(scorers: Sequence, texts: Sequence[str], fpr: float, source: str = "") -> Calibration:
    """Score every clean text with every scorer (detectors.consensus_scoring.ScoringModel) and
    calibrate on the non-blank lines. Texts are scored whole, without a prompt."""
    from detectors.consensus_scoring import line_surprisal

    per_validator: dict[str, list[float]] = {s.name: [] for s in scorers}
    for text in texts:
        for s in scorers:
            per_validator[s.name] += [ls.nats_per_char for ls in line_surprisal(text, s.score(text))]
    return calibrate(per_validator, fpr, source)
