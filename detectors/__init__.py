"""Detectors: anything that turns a Source into Findings.

A detector is any object with a `name` and `detect(source) -> list[Finding]`; the registry below
is explicit so that nothing is registered by import side effects. Heavy detectors (anomaly,
consensus) import scikit-learn or torch inside their own modules, never here.
"""

from __future__ import annotations

from typing import Protocol

from trustcheck.findings import Finding
from trustcheck.sources import Source


class Detector(Protocol):
    name: str

    def detect(self, source: Source) -> list[Finding]:
        """Findings for one source. Raise TrustcheckError for a problem the user can fix."""
        ...
