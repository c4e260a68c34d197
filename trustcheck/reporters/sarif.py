"""`--format sarif`: SARIF 2.1.0 as GitHub code scanning reads it.

Per rule: short/full description and help (text + markdown from the rule's docs), a
`security-severity` score and tags including `external/cwe/cwe-N`. Per result: a URI relative to
`%SRCROOT%` (the working directory), a region, and `partialFingerprints` that survive line shifts.
Scan errors become tool execution notifications.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from trustcheck.findings import Finding, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/trustcheck/trustcheck"
SRCROOT = "%SRCROOT%"
# GitHub buckets security-severity: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "1.0"}
LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}
PRECISION = {"high": "high", "medium": "medium", "low": "low"}
FINGERPRINT_KEY = "trustcheck/v1"


def report_sarif(result: Any, ctx: Any) -> str:
    from trustcheck import __version__

    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for finding in result.findings:
        if finding.rule_id not in index:
            index[finding.rule_id] = len(rules)
            rules.append(_rule_descriptor(finding, ctx.rules.get(finding.rule_id)))
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "trustcheck", "version": __version__, "semanticVersion": __version__,
                            "informationUri": INFORMATION_URI, "rules": rules}},
        "originalUriBaseIds": {SRCROOT: {"uri": Path(ctx.cwd).resolve().as_uri().rstrip("/") + "/"}},
        "results": [_result(f, index[f.rule_id], ctx.cwd) for f in result.findings],
        "invocations": [_invocation(result, ctx.cwd)],
        "columnKind": "unicodeCodePoints",
    }
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, default=str) + "\n"


def _rule_descriptor(finding: Finding, rule: Any) -> dict[str, Any]:
    docs = dict(getattr(rule, "docs", None) or {})
    if finding.rule_id == "suppression-missing-rule" and not docs:
        from trustcheck.suppressions import MISSING_RULE_DOCS

        docs = MISSING_RULE_DOCS
    message = getattr(rule, "message", None) or finding.message
    cwe = getattr(rule, "cwe", None) or finding.cwe
    severity = getattr(rule, "severity", None) or finding.severity
    severity = Severity(severity) if not isinstance(severity, Severity) else severity
    tags = ["security", finding.detector]
    tags += list(getattr(rule, "tags", ()) or ())
    if cwe and re.fullmatch(r"CWE-\d+", cwe):
        tags.append(f"external/cwe/{cwe.lower()}")
    confidence = getattr(getattr(rule, "confidence", None), "value", None) or finding.confidence.value
    descriptor: dict[str, Any] = {
        "id": finding.rule_id,
        "name": _camel(finding.rule_id),
        "shortDescription": {"text": _first_sentence(message)},
        "fullDescription": {"text": str(docs.get("what") or message)},
        "help": _help(message, docs, cwe),
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {
            "tags": sorted(set(tags), key=tags.index),
            "security-severity": SECURITY_SEVERITY[severity],
            "precision": PRECISION.get(confidence, "medium"),
            "problem.severity": "error" if LEVEL[severity] == "error" else ("warning" if LEVEL[severity] == "warning" else "recommendation"),
        },
    }
    references = [str(r) for r in docs.get("references") or [] if str(r).startswith(("http://", "https://"))]
    if references:
        descriptor["helpUri"] = references[0]
    return descriptor


def _help(message: str, docs: dict[str, Any], cwe: str | None) -> dict[str, str]:
    text = [message]
    markdown = [message]
    for key, title in (("what", "What it finds"), ("why", "Why it matters"), ("use_instead", "Use instead")):
        value = str(docs.get(key) or "").strip()
        if value:
            text.append(f"{title}: {value}")
            markdown.append(f"**{title}.** {value}")
    references = [str(r) for r in docs.get("references") or []]
    if cwe:
        number = cwe.split("-")[-1]
        markdown.append(f"CWE: [{cwe}](https://cwe.mitre.org/data/definitions/{number}.html)")
    if references:
        text.append("References: " + ", ".join(references))
        markdown.append("References:\n" + "\n".join(f"- <{r}>" for r in references))
    return {"text": "\n\n".join(text), "markdown": "\n\n".join(markdown)}


def _result(f: Finding, rule_index: int, cwd: str) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, f.line), "startColumn": max(1, f.column)}
    if f.end_line:
        region["endLine"] = max(f.end_line, region["startLine"])
        if f.end_column and (f.end_line > f.line or f.end_column > f.column):
            region["endColumn"] = f.end_column
    if f.snippet:
        region["snippet"] = {"text": f.snippet}
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(f.path, cwd), "region": region}}],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint or f.with_fingerprint().fingerprint},
        "properties": {"severity": f.severity.value, "confidence": f.confidence.value, "detector": f.detector},
    }
    if f.evidence:
        result["properties"]["evidence"] = f.evidence
    return result


def _artifact(path: str, cwd: str) -> dict[str, str]:
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, cwd)
    except ValueError:
        rel = ".."
    if rel.startswith(".."):
        return {"uri": Path(absolute).as_uri()}
    return {"uri": urllib.parse.quote(rel.replace(os.sep, "/")), "uriBaseId": SRCROOT}


def _invocation(result: Any, cwd: str) -> dict[str, Any]:
    notes = [
        {"level": "error", "message": {"text": e.message},
         "locations": [{"physicalLocation": {"artifactLocation": _artifact(e.path, cwd)}}]}
        for e in result.errors
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not result.errors}
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return (match.group(1) if match else text)[:200]


def _camel(rule_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part)
