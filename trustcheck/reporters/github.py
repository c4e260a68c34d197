"""GitHub Actions workflow commands: one `::error|warning|notice file=..,line=..::message` per
finding, which the runner shows inline on the pull request's diff."""

from __future__ import annotations

import os
from typing import Any

from trustcheck.findings import Finding, Severity

LEVELS = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "notice", Severity.INFO: "notice"}


def report_github(result: Any, ctx: Any = None) -> str:
    """Render a ScanResult as workflow-command lines (errors of the scan as `::error` too)."""
    out = [annotation(f) for f in sorted(result.findings, key=lambda f: (f.path, f.line, f.rule_id))]
    for error in getattr(result, "errors", []) or []:
        path = _escape_property(workspace_path(str(getattr(error, "path", ""))))
        out.append(f"::error file={path},title=trustcheck could not scan::{_escape_data(str(getattr(error, 'message', error)))}")
    return "".join(line + "\n" for line in out)


def annotation(f: Finding) -> str:
    props = [f"file={_escape_property(workspace_path(f.path))}", f"line={f.line}"]
    if f.end_line and f.end_line != f.line:
        props.append(f"endLine={f.end_line}")
    else:  # columns are only honoured on single-line annotations
        props.append(f"col={f.column}")
        if f.end_column:
            props.append(f"endColumn={f.end_column}")
    title = f"{f.rule_id} ({f.severity.value}" + (f", {f.cwe})" if f.cwe else ")")
    props.append(f"title={_escape_property(title)}")
    return f"::{LEVELS[f.severity]} {','.join(props)}::{_escape_data(f.message)}"


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def workspace_path(path: str) -> str:
    """The path as GitHub names it: relative to GITHUB_WORKSPACE (the checkout) when that is set,
    so a run from a subfolder still points at the right file; else relative to the cwd. Shared by
    the annotation and markdown (PR comment) reporters."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    try:
        if workspace:
            rel = os.path.relpath(os.path.abspath(path), workspace)
            if not rel.startswith(".."):
                path = rel
        elif os.path.isabs(path):
            path = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        pass
    return path.replace(os.sep, "/")


# The escaping rules of @actions/core (toCommandValue / escapeData / escapeProperty).
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
