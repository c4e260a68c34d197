"""The engine: one combined query, findings' positions, dedupe, languages, deep nesting."""

from __future__ import annotations

import dataclasses

import pytest

from detectors.rules import RuleDetector, load_rules
from detectors.rules.engine import _combined
from detectors.rules.model import rule_from_dict
from detectors.rules.testing import lines, run_rule, shipped_rules
from trustcheck.errors import TrustcheckError
from trustcheck.sources import Source


def _rule(rule_id: str, query: str, where: list | None = None, language: str = "python", requires: str | None = None):
    return rule_from_dict(
        {
            "id": rule_id, "languages": [language], "severity": "low", "confidence": "low", "cwe": "CWE-1",
            "message": "test rule message long enough to read", "query": query, "where": where or [],
            **({"requires": requires} if requires else {}),
            "docs": {"what": "w", "why": "w", "use_instead": "w", "references": ["r"]},
            "examples": {"match": ["x"], "no_match": ["y"]},
        }
    )


def test_finding_fields_are_one_based_with_snippet_and_rule_metadata() -> None:
    findings = run_rule("py-eval-dynamic-code", "import os\nx = 1\n    \nif a:\n    eval(data)\n")
    assert len(findings) == 1
    f = findings[0]
    assert (f.line, f.column, f.end_line, f.end_column) == (5, 5, 5, 15)
    assert f.snippet == "    eval(data)"
    assert f.detector == "rules" and f.cwe == "CWE-95" and f.path == "example"
    assert f.severity.value == "medium" and f.confidence.value == "medium"


def test_columns_count_characters_not_bytes() -> None:
    f = run_rule("py-eval-dynamic-code", "s = 'ééé'; eval(x)\n")[0]
    assert f.column == 12


def test_multiline_snippet() -> None:
    f = run_rule("py-subprocess-shell-true", "import subprocess\nsubprocess.run(\n    cmd,\n    shell=True)\n")[0]
    assert (f.line, f.end_line) == (2, 4)
    assert f.snippet.splitlines() == ["subprocess.run(", "    cmd,", "    shell=True)"]


def test_combined_query_maps_patterns_to_rules() -> None:
    a = _rule("py-test-a", "(call) @match\n(string) @match")
    b = _rule("py-test-b", "(integer) @match")
    c = _rule("py-test-c", "(identifier) @match", where=[{"regex": {"pattern": "^zz$"}}])
    detector = RuleDetector([a, b, c])
    groups = detector.groups("python")
    assert len(groups) == 1 and groups[0].query.pattern_count == 4
    assert groups[0].pattern_text == (0, 0, 1, 2)
    assert groups[0].text_rules == ((0,), (1,), (2,))
    found = {(f.rule_id, f.line) for f in detector.detect(Source("t.py", "python", b"f('s')\n1\nzz\n"))}
    assert found == {("py-test-a", 1), ("py-test-b", 2), ("py-test-c", 3)}


def test_combined_query_is_cached_per_process() -> None:
    rules = [_rule("py-test-a", "(call) @match")]
    first = RuleDetector(rules).groups("python")[0].query
    misses = _combined.cache_info().misses
    assert RuleDetector(rules).groups("python")[0].query is first
    assert _combined.cache_info().misses == misses


def test_rules_sharing_a_query_share_its_patterns_and_prefilter_by_callee() -> None:
    call = "(call function: (_) @fn) @match"
    a = _rule("py-test-a", call, where=[{"callee": {"capture": "fn", "names": ["os.system"]}}])
    b = _rule("py-test-b", call, where=[{"any": [{"callee": {"capture": "fn", "names": ["eval"]}}, {"callee": {"capture": "fn", "names": ["exec"]}}]}])
    c = _rule("py-test-c", call, where=[{"arg": {"position": 0, "equals": "x"}}])
    detector = RuleDetector([a, b, c])
    group = detector.groups("python")[0]
    assert group.query.pattern_count == 1 and group.text_rules == ((0, 1, 2),)
    assert group.lead_capture == ("fn",) and group.lead_names[2] is None
    code = b"import os as o\no.system(y)\nexec(z)\nf('x')\n"
    found = sorted((f.rule_id, f.line) for f in detector.detect(Source("t.py", "python", code)))
    assert found == [("py-test-a", 2), ("py-test-b", 3), ("py-test-c", 4)]
    assert group.rules_for(0, "os.system") == (0, 2)


def test_same_node_reported_once_per_rule() -> None:
    rule = _rule("py-test-dup", "(call) @match\n(call function: (identifier)) @match")
    assert lines(RuleDetector([rule]).detect(Source("t.py", "python", b"f()\n"))) == [1]


def test_requires_gates_a_rule_on_file_bytes() -> None:
    rule = _rule("py-test-gated", "(call) @match", requires="needle")
    detector = RuleDetector([rule])
    assert detector.detect(Source("t.py", "python", b"f()\n")) == []
    assert lines(detector.detect(Source("t.py", "python", b"f()  # needle\n"))) == [1]


def test_rules_of_other_languages_do_not_run() -> None:
    detector = RuleDetector(list(shipped_rules().values()))
    findings = detector.detect(Source("t.go", "go", b"package main\nfunc main() { eval(x) }\n"))
    assert all(not f.rule_id.startswith("py-") for f in findings)


def test_typescript_runs_javascript_rules() -> None:
    rule = _rule("js-test-eval", "(call_expression function: (identifier) @fn (#eq? @fn \"eval\")) @match", language="javascript")
    detector = RuleDetector([rule])
    for language in ("javascript", "typescript", "tsx"):
        assert lines(detector.detect(Source("t", language, b"let x: number = 1;\neval(s);\n"))) == [2]


def test_unknown_language_has_no_rules() -> None:
    assert RuleDetector([]).detect(Source("t.py", "python", b"eval(x)")) == []


@pytest.mark.parametrize("depth", [5000])
def test_deep_nesting_never_raises_anything_but_a_user_error(depth: int) -> None:
    detector = RuleDetector()
    codes = [
        "x = " + "(" * depth + "1" + ")" * depth + "\n",
        "eval(" + "[" * depth + "]" * depth + ")\n",
        "exec(" + "a + " * depth + "b)\n",
        "import os\nos.system(" + "'a' + " * depth + "'b')\n",
        "x = " + "-" * depth + "1\nexec(x)\n",
    ]
    for code in codes:
        try:
            detector.detect(Source("deep.py", "python", code.encode()))
        except TrustcheckError as exc:
            assert "deep.py" in str(exc)


def test_binary_and_invalid_utf8_do_not_crash() -> None:
    detector = RuleDetector()
    detector.detect(Source("b.py", "python", b"\xff\xfe\x00\x00eval(x)\n\x80"))
    detector.detect(Source("e.py", "python", b""))


def test_shipped_pack_compiles_into_one_query_per_language() -> None:
    detector = RuleDetector()
    gates = detector.gates("python")
    ungated = [g for g in gates if g.requires is None and g.anchor is None and g.literals is None]
    assert len(ungated) == 1 and len(ungated[0].groups()) == 1
    plain = [r for r in load_rules() if "python" in r.languages and r.requires is None and r.anchor is None]
    auto = [r for g in gates if g.literals is not None for r in g.members if r.anchor is None]
    assert len(ungated[0].members) + len(auto) == len(plain)


@pytest.mark.parametrize(
    ("query", "literals"),
    [
        ('((call function: (attribute attribute: (identifier) @m)) @match (#eq? @m "exec_command"))', (b"exec_command",)),
        ('((call function: (identifier) @f) @match (#any-of? @f "open" "io_open"))', (b"open",)),
        (r'((call function: (_) @fn) @match (#match? @fn "^(pickle|marshal)\\.loads$"))', (b"pickle", b"marshal")),
        (r'((call function: (_) @fn) @match (#match? @fn "^os\.system$"))', None),  # an escape we do not read
        ('((call function: (_) @fn) @match (#match? @fn "(?i)powershell"))', None),  # case-insensitive
        ('((call function: (_) @fn) @match (#match? @fn "^[a-z]+$"))', None),  # no literal
        ('(call function: (_) @fn) @match', None),
        ('((call function: (identifier) @f) @match (#eq? @f "eval"))\n(call) @match', None),  # one pattern ungated
        ('((module (expression_statement)* @s) @match (#eq? @s "x"))', None),  # quantified capture
    ],
)
def test_literal_predicates_become_an_anchor(query: str, literals: tuple[bytes, ...] | None) -> None:
    gate = RuleDetector([_rule("py-test-auto", query.replace("\\n", "\n"))]).gates("python")[0]
    assert gate.literals == literals


def test_auto_anchored_rule_finds_every_occurrence_and_skips_files_without_it() -> None:
    rule = _rule("py-test-auto", '((call function: (attribute attribute: (identifier) @m)) @match (#eq? @m "exec_command"))')
    detector = RuleDetector([rule])
    assert detector.gates("python")[0].literals == (b"exec_command",)
    code = "c.exec_command(a)\n" + "x = 1\n" * 50 + "client.transport.exec_command(\n    b)\nexec_command = 2\n"
    assert [f.line for f in detector.detect(Source("a.py", "python", code.encode()))] == [1, 52]
    many = "".join(f"c.exec_command({i})\n" for i in range(200))  # past MAX_ANCHOR_SPOTS: the whole file
    assert len(detector.detect(Source("b.py", "python", many.encode()))) == 200
    assert detector.detect(Source("c.py", "python", b"c.run(a)\n")) == []


def test_rule_is_frozen() -> None:
    rule = shipped_rules()["py-eval-dynamic-code"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.id = "x"  # type: ignore[misc]


def test_anchor_limits_the_query_to_matching_spots() -> None:
    rule = rule_from_dict(
        {
            "id": "py-test-anchor", "languages": ["python"], "severity": "low", "confidence": "low", "cwe": "CWE-1",
            "message": "test rule message long enough to read", "query": "(string) @match", "anchor": "needle",
            "docs": {"what": "w", "why": "w", "use_instead": "w", "references": ["r"]},
            "examples": {"match": ["x"], "no_match": ["y"]},
        }
    )
    detector = RuleDetector([rule])
    code = b"a = 'hay'\nb = 'needle'\nc = 'hay'\n# needle in a comment\nd = 'x needle y'\n"
    assert lines(detector.detect(Source("t.py", "python", code))) == [2, 5]
    assert detector.detect(Source("t.py", "python", b"a = 'hay'\n")) == []
