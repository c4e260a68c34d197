"""Inline suppressions: `# trustcheck: ignore[RULE-ID, ...]` (or `// trustcheck: ignore[...]`)
on a finding's line or on the line just before it.

A suppression must name the rules it silences: a bare `# trustcheck: ignore` silences nothing and
is itself reported (rule `suppression-missing-rule`), so a blanket ignore can never hide a
backdoor. The parsed suppressions are exposed (`parse_suppressions`) so the CI gate can tell which
ones a change added and report those instead of obeying them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterable

from trustcheck.findings import Confidence, Finding, Severity

MISSING_RULE_ID = "suppression-missing-rule"
MISSING_RULE_MESSAGE = (
    "Suppression comment names no rule, so it silences nothing; write `trustcheck: ignore[RULE-ID]` "
    "with the ids of the findings it is meant to hide."
)
# Metadata reporters (SARIF) show for the suppression finding, in the shape of a rule's docs.
MISSING_RULE_DOCS = {
    "what": "A `trustcheck: ignore` comment without a list of rule ids.",
    "why": "A blanket ignore would hide every finding on the line, including ones added later by "
           "a model or a malicious change; trustcheck only obeys suppressions that name rules.",
    "use_instead": "`# trustcheck: ignore[py-subprocess-shell-true]` (comma-separate several ids).",
    "references": [],
}

_MARKER = b"trustcheck:"
_PATTERN = re.compile(r"(?:#|//)\s*trustcheck:\s*ignore\b(?:\[([^\]\n]*)\])?")


@dataclasses.dataclass(frozen=True)
class Suppression:
    line: int  # 1-based line of the comment
    column: int  # 1-based column where the comment marker starts
    rule_ids: tuple[str, ...]  # empty for a bare ignore (which suppresses nothing)
    text: str  # the comment as written

    def covers(self, finding: Finding) -> bool:
        """True if this comment silences `finding`: same line or the line before, rule named
        (ids may be fnmatch globs such as `py-*`)."""
        if finding.line not in (self.line, self.line + 1):
            return False
        return any(fnmatch.fnmatchcase(finding.rule_id, rid) for rid in self.rule_ids)


def parse_suppressions(content: bytes) -> list[Suppression]:
    """Every suppression comment in a file's bytes, in line order."""
    if _MARKER not in content:  # fast path: almost every file has none
        return []
    found: list[Suppression] = []
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if _MARKER not in raw:
            continue
        line = raw.decode("utf-8", errors="replace")
        for match in _PATTERN.finditer(line):
            ids = tuple(i.strip() for i in (match.group(1) or "").split(",") if i.strip())
            found.append(Suppression(number, match.start() + 1, ids, match.group(0)))
    return found


Obey = Callable[[Suppression], bool]


def apply_suppressions(
    findings: Iterable[Finding], suppressions: list[Suppression], obey: Obey | None = None
) -> tuple[list[Finding], list[Finding]]:
    """(kept, suppressed). `obey(s)` may refuse a suppression (the CI gate refuses the ones a
    change adds); refused suppressions silence nothing."""
    active = [s for s in suppressions if s.rule_ids and (obey is None or obey(s))]
    if not active:
        return list(findings), []
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in findings:
        (suppressed if any(s.covers(finding) for s in active) else kept).append(finding)
    return kept, suppressed


def missing_rule_findings(path: str, suppressions: list[Suppression]) -> list[Finding]:
    """One finding per bare `trustcheck: ignore` comment."""
    return [
        Finding(
            rule_id=MISSING_RULE_ID,
            detector="suppressions",
            severity=Severity.MEDIUM,
            confidence=Confidence.HIGH,
            message=MISSING_RULE_MESSAGE,
            path=path,
            line=s.line,
            column=s.column,
            end_line=s.line,
            end_column=s.column + len(s.text),
            snippet=s.text,
        )
        for s in suppressions
        if not s.rule_ids
    ]
