"""`--format json`: DESIGN.md's shape, `{"version", "findings", "errors", "stats"}`, findings as flat
objects with `path` relative to the working directory."""

from __future__ import annotations

import json
from typing import Any


def report_json(result: Any, ctx: Any) -> str:
    from trustcheck import __version__
    from trustcheck.reporters import relative_path

    findings = []
    for finding in result.findings:
        data = finding.to_dict()
        data["path"] = relative_path(finding.path, ctx.cwd)
        findings.append(data)
    errors = [{"path": relative_path(e.path, ctx.cwd), "message": e.message} for e in result.errors]
    document = {"version": __version__, "findings": findings, "errors": errors, "stats": result.stats}
    return json.dumps(document, indent=2, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    """numpy scalars and other oddities in `evidence` become plain JSON values."""
    for convert in (float, str):
        try:
            return convert(value)
        except (TypeError, ValueError):
            continue
    return repr(value)
