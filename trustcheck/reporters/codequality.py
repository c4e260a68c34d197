"""GitLab Code Quality report (the Code Climate JSON subset GitLab reads from
`artifacts:reports:codequality`): one issue per finding, shown on the merge request's diff."""

from __future__ import annotations

import json
import os
from typing import Any

from trustcheck.findings import Severity

SEVERITIES = {Severity.CRITICAL: "blocker", Severity.HIGH: "critical", Severity.MEDIUM: "major",
              Severity.LOW: "minor", Severity.INFO: "info"}


def report_codequality(result: Any, ctx: Any = None) -> str:
    """Render a ScanResult's findings as a Code Quality JSON array."""
    issues = []
    for f in sorted(result.findings, key=lambda f: (f.path, f.line, f.rule_id)):
        path = os.path.relpath(f.path) if os.path.isabs(f.path) else f.path
        issues.append({
            "type": "issue",
            "check_name": f.rule_id,
            "description": f"{f.rule_id}: {f.message}",
            "categories": ["Security"],
            "severity": SEVERITIES[f.severity],
            "fingerprint": f.fingerprint or f.with_fingerprint().fingerprint,
            "location": {"path": path.replace(os.sep, "/"), "lines": {"begin": f.line, "end": f.end_line or f.line}},
        })
    return json.dumps(issues, indent=2) + "\n"
