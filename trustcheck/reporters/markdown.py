"""Markdown for a pull-request comment or a job summary: counts by severity, then the new findings
in a collapsed table whose locations link to the file and line on GitHub when the Actions
variables (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA) say where the code lives."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from trustcheck.findings import Finding, Severity
from trustcheck.reporters.github import workspace_path

MARKER = "<!-- trustcheck-report -->"  # lets a workflow find and update its previous comment
FOOTER = ("base", "head", "changed_files", "files", "lines", "baselined", "suppressed", "seconds")  # stats shown


def report_markdown(result: Any, ctx: Any = None) -> str:
    """Render a ScanResult (findings, errors, stats) as GitHub-flavoured markdown."""
    findings: list[Finding] = sorted(result.findings, key=lambda f: (-f.severity.rank, f.path, f.line, f.rule_id))
    errors = list(getattr(result, "errors", []) or [])
    counts = Counter(f.severity for f in findings)
    link = _linker()
    lines = [MARKER]
    if findings:
        noun = "finding" if len(findings) == 1 else "findings"
        lines.append(f"### trustcheck: {len(findings)} new {noun}")
    else:
        lines.append("### trustcheck: no new findings")
    lines += ["", "| " + " | ".join(s.value for s in reversed(Severity)) + " |",
              "|" + "---:|" * len(Severity),
              "| " + " | ".join(str(counts.get(s, 0)) for s in reversed(Severity)) + " |"]
    if findings:
        lines += ["", f"<details><summary>New findings ({len(findings)})</summary>", "",
                  "| Severity | Rule | Location | Message |", "|---|---|---|---|"]
        for f in findings:
            rule = f"`{f.rule_id}`" + (f" ({f.cwe})" if f.cwe else "")
            lines.append(f"| {f.severity.value} | {rule} | {link(f.path, f.line)} | {_cell(f.message)} |")
        lines += ["", "</details>"]
    if errors:
        lines += ["", f"<details><summary>Files that could not be scanned ({len(errors)})</summary>", ""]
        lines += [f"- `{workspace_path(getattr(e, 'path', '?'))}`: {_cell(str(getattr(e, 'message', e)))}" for e in errors]
        lines += ["", "</details>"]
    stats = getattr(result, "stats", None) or {}
    summary = ", ".join(f"{k.replace('_', ' ')}: {stats[k]}" for k in FOOTER if k in stats)
    if summary:
        lines += ["", f"<sub>{_cell(summary)}</sub>"]
    return "\n".join(lines) + "\n"


def _linker() -> Any:
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repo, sha = os.environ.get("GITHUB_REPOSITORY"), os.environ.get("GITHUB_SHA")

    def link(path: str, line: int) -> str:
        rel = workspace_path(path)
        text = f"`{rel}:{line}`"
        if repo and sha:
            return f"[{text}]({server.rstrip('/')}/{repo}/blob/{sha}/{_url_path(rel)}#L{line})"
        return text

    return link


def _url_path(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _cell(text: str) -> str:
    """One table cell: no newlines, pipes escaped, HTML-ish characters neutralised."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
