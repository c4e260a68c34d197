"""The anomaly detector: scores a file's units against a fitted baseline and explains the outliers.

Severity policy (also in detectors/anomaly/README.md):
- below the baseline's `threshold_percentile` (default 99: about 1% of the repository's own units
  would be reported): no finding;
- above it: `low`, confidence low: unusual code, nothing dangerous in it;
- above it and the unit can act (network, process, dynamic code, clipboard/screen capture) or
  does two of hide/collect (encoding, environment, system information): `medium`, CWE-506
  (embedded malicious code), confidence medium;
- above the 99.9th percentile, acting and doing one more dangerous thing (another action or a
  hide/collect), with a capability or suspicious-literal feature among the top reasons: `high`.
  Only this combination can fail the default `--fail-on=high` gate; the score alone never does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detectors.anomaly.capabilities import ACTIONS, HIDE_OR_COLLECT
from detectors.anomaly.explain import BaselineStats, top_pulls
from detectors.anomaly.features import SCHEMA_VERSION, Unit, extract_units
from detectors.anomaly.model import Baseline, fit_model
from detectors.anomaly.syntax import SYNTAX
from detectors.anomaly.vocabulary import Vocabulary
from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.sources import Source

HIGH_PERCENTILE = 99.9
_ALARM_PREFIXES = ("cap.", "context.rare_modules", "string.encoded_blob", "string.url", "string.ipv4", "string.shell",
                   "string.sensitive_path", "string.executable", "number.", "ident.obfuscated")


class AnomalyDetector:
    """`detect(source)` scores every unit; `score_functions(source, line_ranges)` only changed ones."""

    name = "anomaly"

    def __init__(self, baseline: Baseline, *, threshold: float | None = None) -> None:
        self.baseline = baseline
        self.language = baseline.settings["language"]
        self.kind = baseline.settings["model"]
        self.threshold = float(threshold if threshold is not None else baseline.settings["threshold_percentile"])
        self.vocabulary = Vocabulary.from_json(baseline.settings.get("vocabulary", {}))
        self.model = fit_model(baseline.matrix, self.kind, baseline.settings["feature_names"])
        self.stats = BaselineStats.of(baseline.matrix, baseline.settings["feature_names"], self.model.scale)

    @classmethod
    def from_dir(cls, directory: Path, *, threshold: float | None = None) -> AnomalyDetector:
        return cls(Baseline.load(directory, schema_version=SCHEMA_VERSION), threshold=threshold)

    def score_units(self, source: Source) -> list[tuple[Unit, float, float]]:
        """(unit, raw score, baseline percentile) for every unit of the source, in file order."""
        syntax, own = SYNTAX.get(source.language), SYNTAX[self.language]
        if syntax is None or syntax.node_types != own.node_types:  # a JS baseline also scores TS
            return []
        units = extract_units(source.content, source.language)
        if not units:
            return []
        vectors = [self.vocabulary.vector(u) for u in units]
        for unit, vector in zip(units, vectors):
            unit.vector = vector  # explanations read the full vector
        scores = self.model.raw_scores(np.asarray(vectors, dtype=np.float32))
        percentiles = self.model.percentiles(scores)
        return [(u, float(s), float(p)) for u, s, p in zip(units, scores, percentiles)]

    def detect(self, source: Source) -> list[Finding]:
        return self.score_functions(source, None)

    def score_functions(self, source: Source, line_ranges: list[tuple[int, int]] | None) -> list[Finding]:
        """Findings for units overlapping any (start, end) 1-based inclusive line range; all when None.

        The CI gate passes the changed lines of a diff so that only added or edited functions count.
        """
        return self.findings_for(source, self.score_units(source), line_ranges)

    def findings_for(self, source: Source, scored: list[tuple[Unit, float, float]],
                     line_ranges: list[tuple[int, int]] | None = None) -> list[Finding]:
        """Findings for already scored units (see score_units), optionally limited to line ranges."""
        findings = []
        for unit, score, percentile in scored:
            if line_ranges is not None and not any(a <= unit.end_line and unit.start_line <= b for a, b in line_ranges):
                continue
            if percentile >= self.threshold:
                findings.append(self._finding(source, unit, score, percentile))
        return findings

    def _finding(self, source: Source, unit: Unit, score: float, percentile: float) -> Finding:
        pulls = top_pulls(unit, self.stats, vocabulary=self.vocabulary)
        actions = [c for c in unit.capabilities if c in ACTIONS]
        others = [c for c in unit.capabilities if c in HIDE_OR_COLLECT]
        dangerous = sorted(actions + others) if actions or len(others) >= 2 else []
        severity, confidence = Severity.LOW, Confidence.LOW
        if dangerous:
            severity, confidence = Severity.MEDIUM, Confidence.MEDIUM
            alarm = any(p.feature.startswith(_ALARM_PREFIXES) and p.z > 0 for p in pulls)
            if percentile >= HIGH_PERCENTILE and actions and len(dangerous) >= 2 and alarm:
                severity = Severity.HIGH
        what = "Function" if unit.kind == "function" else "Top-level code"
        reasons = "; ".join(p.describe() for p in pulls[:3])
        caps = f" It uses {', '.join(dangerous)} capabilities." if dangerous else ""
        message = (f"{what} `{unit.name}` looks unlike the rest of this codebase (scores above "
                   f"{percentile:.1f}% of the baseline's units, {self.kind}).{caps} Most unusual: {reasons}.")
        return Finding(
            rule_id="anomaly-unusual-function" if unit.kind == "function" else "anomaly-unusual-block",
            detector="anomaly", severity=severity, confidence=confidence, message=message,
            path=source.path, line=unit.start_line, column=1, end_line=unit.end_line,
            cwe="CWE-506" if dangerous else None, snippet=source.line(unit.start_line).strip(),
            evidence={
                "unit": unit.name, "kind": unit.kind, "model": self.kind, "score": round(score, 4),
                "percentile": round(percentile, 2), "threshold_percentile": self.threshold,
                "capabilities": dict(sorted(unit.capabilities.items())),
                "top_features": [p.to_dict() for p in pulls],
                "baseline_content_hash": self.baseline.settings["fitted_on"]["content_hash"],
            },
        )

