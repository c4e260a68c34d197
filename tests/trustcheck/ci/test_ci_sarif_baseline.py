"""SARIF from the gate, and the findings baseline through the CLI, on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from trustcheck.cli import main

SCHEMA = Path(__file__).parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
CONFIG = '[tool.trustcheck]\nfail-on = "medium"\n'
EXEC = "    exec(base64.b64decode(blob))\n"
LEGACY = "import base64\n\n\ndef legacy(blob):\n" + EXEC + "    return blob\n"


def sarif_results(capsys, *args: str) -> tuple[int, dict]:
    code = main(["ci", "--base", "main", "--format", "sarif", *args])
    return code, json.loads(capsys.readouterr().out)


def fingerprints(log: dict) -> dict[str, int]:
    return {next(iter(r["partialFingerprints"].values())): r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in log["runs"][0]["results"]}


def test_sarif_validates_and_fingerprints_survive_lines_moving(repo, capsys):
    repo.commit_files({"pyproject.toml": CONFIG, "app.py": "import os\n"})
    repo.git("checkout", "-qb", "pr")
    repo.commit_files({"app.py": "import os\nimport base64\n\n\ndef sync(blob):\n" + EXEC})
    code, first = sarif_results(capsys)
    assert code == 1
    jsonschema.validate(first, json.loads(SCHEMA.read_text()))
    # Next push: lines inserted above the finding; the alert must keep its fingerprint.
    repo.commit_files({"app.py": "import os\nimport sys\nimport base64\n\nVERSION = 2\n\n\ndef sync(blob):\n" + EXEC})
    _, second = sarif_results(capsys)
    jsonschema.validate(second, json.loads(SCHEMA.read_text()))
    before, after = fingerprints(first), fingerprints(second)
    assert before and before.keys() == after.keys()
    assert all(after[k] == before[k] + 3 for k in before)  # same alerts, three lines further down


@pytest.fixture
def baselined(repo, capsys):
    """main holds legacy code with a finding, accepted into a committed baseline."""
    repo.commit_files({"pyproject.toml": CONFIG, "legacy.py": LEGACY})
    assert main(["baseline", "create"]) == 0
    capsys.readouterr()
    entries = json.loads((repo.root / ".trustcheck-baseline.json").read_text())["findings"]
    assert entries and all(e["path"] == "legacy.py" for e in entries)
    repo.commit_files({}, "accept legacy findings")
    repo.git("checkout", "-qb", "pr")
    return repo


def test_baselined_code_that_moves_reports_nothing_new(baselined, capsys):
    # Moved down and re-indented into a class: git sees every line of it as added.
    moved = ("import base64\n\n\ndef helper():\n    return 1\n\n\nclass Legacy:\n"
             + "".join("    " + line + "\n" for line in LEGACY.split("\n\n\n", 1)[1].splitlines()))
    baselined.commit_files({"legacy.py": moved})
    code = main(["ci", "--base", "main", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == [] and code == 0
    assert report["stats"]["baselined"] >= 1  # the moved finding was on changed lines and matched


def test_second_identical_finding_next_to_a_baselined_one_is_reported(baselined, capsys):
    baselined.commit_files({"legacy.py": LEGACY.replace(EXEC, EXEC + EXEC)})
    code = main(["ci", "--base", "main", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    rules = {f["rule_id"] for f in findings}
    assert len(findings) == len(rules)  # exactly one new finding per rule: the added copy
    assert {f["line"] for f in findings} <= {5, 6}


def test_baseline_edited_in_the_pr_is_not_used(baselined, capsys):
    baselined.commit_files({"legacy.py": LEGACY.replace(EXEC, EXEC + EXEC)})
    assert main(["baseline", "update"]) == 0  # the PR "accepts" its own new finding
    baselined.commit_files({}, "update baseline")
    code = main(["ci", "--base", "main", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    assert "ci-baseline-edited" in {f["rule_id"] for f in findings}
    assert any(f["path"] == "legacy.py" for f in findings)


def test_baseline_create_refuses_to_overwrite(baselined, capsys):
    assert main(["baseline", "create"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_identical_copy_inserted_above_a_baselined_finding_is_reported(baselined, capsys):
    # git sees line 5 as added (trailing blanks differ) and the old line as unchanged at line 6;
    # the baseline entry must go to the old one, so the copy above is reported.
    baselined.commit_files({"legacy.py": LEGACY.replace(EXEC, EXEC.replace("\n", "  \n") + EXEC)})
    code = main(["ci", "--base", "main", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1 and {f["line"] for f in findings} == {5}


def test_baseline_follows_a_renamed_file(baselined, capsys):
    baselined.git("mv", "legacy.py", "old_code.py")
    touched = LEGACY.replace(EXEC, EXEC.replace("\n", "   \n"))  # git sees the finding's line as edited
    target = baselined.root / "old_code.py"
    target.write_text(touched)
    baselined.commit_files({})
    code = main(["ci", "--base", "main", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["findings"]) == (0, [])
    assert report["stats"]["baselined"] >= 1
