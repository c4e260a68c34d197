"""The one Finding type shared by every detector and reporter."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from typing import Any


class Severity(str, enum.Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class Confidence(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {c: i for i, c in enumerate(Confidence)}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem at one place. `line`/`column` are 1-based; `path` is as given to the scanner
    (reporters make it relative). `evidence` holds detector-specific numbers."""

    rule_id: str
    detector: str  # "rules" | "anomaly" | "consensus" | "ci"
    severity: Severity
    confidence: Confidence
    message: str
    path: str
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None
    cwe: str | None = None  # e.g. "CWE-78"
    snippet: str = ""
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    fingerprint: str = ""

    def with_fingerprint(self, occurrence: int = 0) -> Finding:
        """Return a copy whose fingerprint is stable across runs and line shifts: rule, path and
        the whitespace-normalised snippet, plus the index among identical ones in the file."""
        normalised = " ".join(self.snippet.split())
        digest = hashlib.sha256(f"{self.rule_id}\0{self.path}\0{normalised}\0{occurrence}".encode()).hexdigest()
        return dataclasses.replace(self, fingerprint=digest[:32])

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["severity"] = self.severity.value
        data["confidence"] = self.confidence.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        kwargs["severity"] = Severity(kwargs["severity"])
        kwargs["confidence"] = Confidence(kwargs["confidence"])
        return cls(**kwargs)
