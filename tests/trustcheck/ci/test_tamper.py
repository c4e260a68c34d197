"""Rules overrides come from the base ref; what counts as weakening the configuration."""

from __future__ import annotations

import json

import pytest

from trustcheck.cli import main
from trustcheck.findings import Severity
from trustcheck.tamper import _key_line, _weakens

RULE = """\
id: demo-phone-home
languages: [python]
severity: high
confidence: high
cwe: CWE-200
message: Calls phone_home(), the team's own banned telemetry hook.
query: |
  (call function: (identifier) @fn (#eq? @fn "phone_home")) @match
docs:
  what: phone_home() calls.
  why: Banned by the team.
  use_instead: Nothing.
  references: [https://example.invalid/policy]
examples:
  match:
    - |
      phone_home()
  no_match:
    - |
      stay_home()
"""
CONFIG = '[tool.trustcheck]\nfail-on = "high"\nrules = ["team-rules"]\n'


def test_team_rules_are_read_from_the_base_not_the_pr(repo, capsys):
    repo.commit_files({"pyproject.toml": CONFIG, "team-rules/demo-phone-home.yaml": RULE, "app.py": "x = 1\n"})
    repo.git("checkout", "-qb", "pr")
    # The PR neuters the team's rule and adds the banned call in the same change.
    repo.commit_files({"team-rules/demo-phone-home.yaml": RULE.replace('"phone_home"', '"never_matches"'),
                       "app.py": "x = 1\nphone_home()\n"})
    code = main(["ci", "--base", "main", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    assert [(f["rule_id"], f["line"]) for f in findings if f["path"] == "app.py"] == [("demo-phone-home", 2)]


def test_also_writes_extra_formats(repo, capsys, tmp_path):
    repo.commit_files({"pyproject.toml": CONFIG, "team-rules/demo-phone-home.yaml": RULE, "app.py": "x = 1\n"})
    repo.git("checkout", "-qb", "pr")
    repo.commit_files({"app.py": "phone_home()\n"})
    quality, summary = tmp_path / "cq.json", tmp_path / "summary.md"
    assert main(["ci", "--base", "main", "--also", f"codequality:{quality}", "--also", f"markdown:{summary}"]) == 1
    assert json.loads(quality.read_text())[0]["location"] == {"path": "app.py", "lines": {"begin": 1, "end": 1}}
    assert "demo-phone-home" in summary.read_text()


@pytest.mark.parametrize(("name", "old", "new", "weaker"), [
    ("fail_on", Severity.HIGH, Severity.CRITICAL, True),
    ("fail_on", Severity.HIGH, Severity.MEDIUM, False),
    ("min_severity", Severity.INFO, Severity.HIGH, True),
    ("select", (), ("py-eval-*",), True),
    ("select", ("py-*", "js-*"), ("py-*",), True),
    ("select", ("py-*",), ("py-*", "js-*"), False),
    ("ignore", (), ("py-*",), True),
    ("ignore", ("py-a",), (), False),
    ("exclude", (), ("src/**",), True),
    ("rules", ("team",), (), True),
    ("anomaly", True, False, True),
    ("skip_errors", False, True, True),
    ("max_file_size", 2_000_000, 1000, True),
    ("max_file_size", 1000, 2_000_000, False),
])
def test_what_weakens_the_gate(name, old, new, weaker):
    assert (_weakens(name, old, new) is not None) == weaker


def test_key_line_finds_the_key_inside_the_table():
    lines = ["[project]", 'ignore = "x"', "", "[tool.trustcheck]", "fail-on = 'low'", 'ignore = ["a"]', "[tool.other]"]
    assert _key_line(lines, "ignore") == 6
    assert _key_line(lines, "select") == 4
