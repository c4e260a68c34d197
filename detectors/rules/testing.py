"""A tiny harness for rule tests: `run_rule("py-eval-dynamic-code", "eval(x)")`."""

from __future__ import annotations

import functools
import textwrap

from detectors.rules.engine import RuleDetector
from detectors.rules.model import Rule, load_rules
from trustcheck.findings import Finding
from trustcheck.sources import Source


@functools.cache
def shipped_rules() -> dict[str, Rule]:
    """The shipped pack by id (loaded once per process)."""
    return {r.id: r for r in load_rules()}


@functools.cache
def _detector_for(rule_id: str) -> RuleDetector:
    return RuleDetector([shipped_rules()[rule_id]])


def run_rule(rule: Rule | str, code: str, language: str | None = None) -> list[Finding]:
    """Findings of one rule (a Rule or a shipped id) on `code` (dedented). The language defaults
    to the rule's first language."""
    detector = _detector_for(rule) if isinstance(rule, str) else RuleDetector([rule])
    chosen = detector.rules[0]
    source = Source("example", language or chosen.language, textwrap.dedent(code).encode())
    return [f for f in detector.detect(source) if f.rule_id == chosen.id]


def lines(findings: list[Finding]) -> list[int]:
    """The 1-based lines of `findings`, for compact assertions."""
    return [f.line for f in findings]
