"""The anomaly detector, when a baseline is fitted, scores only added/edited functions, and its
fitted baseline is taken from the base ref."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from trustcheck import pipeline
from trustcheck.cli import main
from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.git import Repo
from trustcheck.tamper import load_config_at


@dataclasses.dataclass
class FakeAnomaly:
    """Flags every unit it is asked about; records the line ranges it was given."""

    name: str = "anomaly"
    calls: list = dataclasses.field(default_factory=list)

    def detect(self, source):
        raise AssertionError("the gate must call score_functions")

    def score_functions(self, source, line_ranges):
        self.calls.append((source.path, line_ranges))
        return [Finding("anomaly-unusual-function", "anomaly", Severity.HIGH, Confidence.LOW, "odd", source.path, 1,
                        end_line=3)]


OLD = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"


def test_only_edited_functions_are_scored(repo, capsys, monkeypatch):
    fake = FakeAnomaly()
    monkeypatch.setattr(pipeline, "detectors_for", lambda config, languages=None: [fake])
    repo.commit_files({"old.py": OLD, "pyproject.toml": '[tool.trustcheck]\nfail-on = "high"\n'})
    repo.git("checkout", "-qb", "pr")
    repo.commit_files({"old.py": OLD.replace("return 2", "return 3"), "new.py": "def c():\n    return 4\n"})
    code = main(["ci", "--base", "main", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert sorted(fake.calls) == [("new.py", None), ("old.py", [(6, 6)])]
    # the fake flags lines 1-3 of each file: kept for the new file, dropped for old.py's untouched a()
    assert [f["path"] for f in findings] == ["new.py"] and code == 1


def test_fitted_baseline_comes_from_the_base_ref(repo):
    base = repo.commit_files({".trustcheck/anomaly/baseline.json": '{"from": "base"}\n',
                              ".trustcheck/anomaly/features.npz": "base-bytes\n"})
    repo.commit_files({".trustcheck/anomaly/baseline.json": '{"from": "pr"}\n'})
    config = load_config_at(Repo.discover("."), base)
    saved = Path(config.root) / ".trustcheck" / "anomaly" / "baseline.json"
    assert json.loads(saved.read_text()) == {"from": "base"}


def test_editing_the_fitted_model_is_reported(repo, capsys):
    repo.commit_files({".trustcheck/anomaly/baseline.json": '{"from": "base"}\n', "a.py": "x = 1\n"})
    repo.git("checkout", "-qb", "pr")
    repo.commit_files({".trustcheck/anomaly/baseline.json": '{"from": "pr"}\n'})
    main(["ci", "--base", "main", "--format", "json", "--no-baseline"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["rule_id"], f["path"]) for f in findings] == [("ci-baseline-edited", ".trustcheck/anomaly/baseline.json")]
