"""The GitHub Action and CI examples are well-formed and run the gate the way the docs say."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).parents[3]


def test_action_runs_the_gate_and_uploads_sarif():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite"
    assert any(s.get("uses", "").startswith("actions/setup-python@") for s in steps)
    assert any("pip install" in s.get("run", "") for s in steps)
    assert any("trustcheck \"${args[@]}\"" in s.get("run", "") and "ci --format sarif" in s.get("run", "") for s in steps)
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif@") for s in steps)
    assert all("shell" in s for s in steps if "run" in s)  # composite steps must name their shell


def test_github_workflow_fetches_full_history_with_security_events():
    workflow = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    assert workflow["permissions"]["security-events"] == "write"
    checkout = workflow["jobs"]["gate"]["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0


def test_gitlab_job_uses_full_history_and_codequality():
    job = yaml.safe_load((ROOT / "examples" / "gitlab-ci.yml").read_text())["trustcheck"]
    assert job["variables"]["GIT_DEPTH"] == 0
    assert "codequality" in job["artifacts"]["reports"]
    assert any("trustcheck ci" in line for line in job["script"])
