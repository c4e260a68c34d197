from __future__ import annotations

from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.suppressions import MISSING_RULE_ID, apply_suppressions, missing_rule_findings, parse_suppressions


def finding(line: int, rule: str = "py-eval") -> Finding:
    return Finding(rule, "rules", Severity.HIGH, Confidence.HIGH, "m", "a.py", line)


def test_parse_hash_and_slash_forms() -> None:
    code = b"x = 1  # trustcheck: ignore[py-eval, py-exec]\n// trustcheck: ignore[js-eval]\n#trustcheck:ignore\n"
    found = parse_suppressions(code)
    assert [(s.line, s.rule_ids) for s in found] == [(1, ("py-eval", "py-exec")), (2, ("js-eval",)), (3, ())]


def test_same_line_and_line_before_only() -> None:
    sups = parse_suppressions(b"# trustcheck: ignore[py-eval]\neval(x)\neval(y)\n")
    kept, silenced = apply_suppressions([finding(2), finding(3), finding(2, "py-other")], sups)
    assert [(f.line, f.rule_id) for f in silenced] == [(2, "py-eval")]
    assert [(f.line, f.rule_id) for f in kept] == [(3, "py-eval"), (2, "py-other")]


def test_bare_ignore_suppresses_nothing_and_is_reported() -> None:
    sups = parse_suppressions(b"eval(x)  # trustcheck: ignore\n")
    kept, silenced = apply_suppressions([finding(1)], sups)
    assert silenced == [] and len(kept) == 1
    [bare] = missing_rule_findings("a.py", sups)
    assert bare.rule_id == MISSING_RULE_ID and bare.line == 1


def test_obey_can_refuse_suppressions() -> None:
    sups = parse_suppressions(b"eval(x)  # trustcheck: ignore[py-eval]\n")
    kept, silenced = apply_suppressions([finding(1)], sups, obey=lambda s: False)
    assert len(kept) == 1 and silenced == []


def test_globs_and_no_marker_fast_path() -> None:
    assert parse_suppressions(b"eval(x)\n") == []
    sups = parse_suppressions(b"eval(x)  # trustcheck: ignore[py-*]\n")
    assert apply_suppressions([finding(1)], sups)[1]
