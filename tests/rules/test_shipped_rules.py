"""Every shipped rule's embedded examples, and a lint of the pack. Adding a rule needs no code here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from detectors.languages import LANGUAGES
from detectors.rules import default_rules_dir, load_rules
from detectors.rules.model import check_query
from detectors.rules.testing import run_rule, shipped_rules

RULES = shipped_rules()
EXAMPLES = [
    pytest.param(rule_id, kind, index, id=f"{rule_id}-{kind}-{index}")
    for rule_id, rule in RULES.items()
    for kind in ("match", "no_match")
    for index in range(len(rule.examples[kind]))
]


@pytest.mark.parametrize(("rule_id", "kind", "index"), EXAMPLES)
def test_rule_example(rule_id: str, kind: str, index: int) -> None:
    rule = RULES[rule_id]
    code = rule.examples[kind][index]
    findings = run_rule(rule_id, code)
    if kind == "match":
        assert findings, f"{rule_id} should flag:\n{code}"
    else:
        assert not findings, f"{rule_id} should not flag line {findings[0].line}:\n{code}"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_lint(rule_id: str) -> None:
    rule = RULES[rule_id]
    path = Path(rule.path)
    assert path.stem == rule.id
    assert path.parent.name in LANGUAGES and path.parent.name in rule.languages
    prefix = {"python": "py-", "javascript": "js-", "typescript": "js-", "tsx": "js-", "go": "go-", "bash": "sh-"}
    assert rule.id.startswith(prefix.get(rule.language, "")), "ids carry the language prefix"
    assert re.fullmatch(r"CWE-\d+", rule.cwe)
    assert len(rule.message) >= 30
    assert all(rule.docs.get(k) for k in ("what", "why", "use_instead", "references"))
    assert rule.examples["match"] and rule.examples["no_match"]
    assert check_query(rule) >= 1


def test_pack_has_unique_ids_and_enough_python_rules() -> None:
    rules = load_rules([default_rules_dir()])
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    assert sum(1 for r in rules if "python" in r.languages) >= 30


def test_severity_discipline() -> None:
    """Blocking severities (high/critical) need at least medium confidence."""
    for rule in RULES.values():
        if rule.severity.rank >= 3:
            assert rule.confidence.rank >= 1, rule.id
