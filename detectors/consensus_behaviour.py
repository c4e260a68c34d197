"""Cross-model consensus, signal 2: behaviour voting.

N independent models write code for the same prompt. Every capability of the candidate (a
network call, a process spawn, a host, a URL, ...) gets one vote per independent version that
has it too; a capability that most independent versions lack is flagged with its vote count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from detectors.capabilities import Capability, CapabilitySet, extract_capabilities
from trustcheck.findings import Confidence, Finding, Severity

RULE_ID = "consensus-unshared-behaviour"
# How much an unshared capability matters: what a backdoor needs ranks highest.
KIND_SEVERITY = {
    "network": Severity.HIGH, "process": Severity.HIGH, "dynamic-code": Severity.HIGH, "host": Severity.HIGH,
    "url": Severity.HIGH, "ip": Severity.HIGH, "env": Severity.MEDIUM, "encoding": Severity.MEDIUM,
    "crypto": Severity.LOW, "file": Severity.LOW, "path": Severity.MEDIUM, "import": Severity.LOW,
}
KIND_CWE = {"network": "CWE-506", "host": "CWE-506", "url": "CWE-506", "ip": "CWE-506", "process": "CWE-78",
            "dynamic-code": "CWE-94", "env": "CWE-526"}


@dataclasses.dataclass(frozen=True)
class CapabilityVote:
    capability: Capability
    line: int
    votes: int  # independent versions that have it
    voters: int  # independent versions in all

    @property
    def unshared(self) -> bool:
        """Most independent versions lack it."""
        return self.votes * 2 < self.voters


def _has(caps: CapabilitySet, cap: Capability) -> bool:
    """Exact match, or for call categories any call of the same category (two ways to open a URL agree)."""
    if cap in caps:
        return True
    return cap.kind in ("network", "process", "file", "crypto", "env", "dynamic-code", "encoding") and cap.kind in caps.kinds()


def vote(candidate: str, independents: Sequence[str], language: str = "python") -> list[CapabilityVote]:
    """One vote record per capability of `candidate`, against the independent versions."""
    cand = extract_capabilities(candidate, language)
    others = [extract_capabilities(code, language) for code in independents]
    return [CapabilityVote(cap, cand.lines[cap], sum(_has(o, cap) for o in others), len(others)) for cap in cand]


def behaviour_findings(path: str, candidate: str, independents: Sequence[str], language: str = "python",
                       models: Sequence[str] = ()) -> list[Finding]:
    """One finding per line holding capabilities that most independent versions lack (votes in evidence)."""
    if not independents:
        return []
    by_line: dict[int, list[CapabilityVote]] = {}
    for v in vote(candidate, independents, language):
        if v.unshared:
            by_line.setdefault(v.line, []).append(v)
    lines = candidate.split("\n")
    findings = []
    for line, votes in sorted(by_line.items()):
        worst = max(votes, key=lambda v: (KIND_SEVERITY.get(v.capability.kind, Severity.LOW).rank, v.capability.kind))
        severity = KIND_SEVERITY.get(worst.capability.kind, Severity.LOW)
        listed = ", ".join(f"{v.capability} ({v.votes}/{v.voters})" for v in votes)
        findings.append(Finding(
            rule_id=RULE_ID, detector="consensus", severity=severity,
            confidence=Confidence.HIGH if worst.votes == 0 and worst.voters >= 3 else Confidence.MEDIUM,
            message=f"behaviour that most of {worst.voters} independent versions of this code lack: {listed}",
            path=path, line=line, cwe=KIND_CWE.get(worst.capability.kind),
            snippet=lines[line - 1].strip() if line <= len(lines) else "",
            evidence={"capabilities": [{"capability": str(v.capability), "kind": v.capability.kind,
                                        "value": v.capability.value, "votes": v.votes} for v in votes],
                      "voters": worst.voters, "models": list(models)}).with_fingerprint())
    return findings
