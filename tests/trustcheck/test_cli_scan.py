"""`trustcheck scan` end to end (in-process), with the shipped rule pack."""

from __future__ import annotations

import json
from pathlib import Path

BAD = "import subprocess\nsubprocess.run(cmd, shell=True)\n"
CLEAN = "def add(a, b):\n    return a + b\n"


def test_exit_codes(tree, cli) -> None:
    tree({"bad.py": BAD, "clean.py": CLEAN})
    assert cli("scan", "clean.py").code == 0
    bad = cli("scan", "bad.py")
    assert bad.code == 1 and "bad.py" in bad.out and "2:" in bad.out
    assert cli("scan", "bad.py", "--fail-on", "critical").code == 0
    assert cli("scan", "missing.py").code == 2
    assert cli("scan", "--fail-on", "bogus").code == 2
    assert cli("scan", "--format", "xml").code == 2


def test_json_shape_and_relative_paths(tree, cli) -> None:
    tree({"src/bad.py": BAD, "src/bin.py": b"\x00\x01"})
    result = cli("scan", "src", "--format", "json", "--no-progress")
    assert result.code == 2  # an unscannable file makes the scan incomplete
    doc = result.json
    assert set(doc) == {"version", "findings", "errors", "stats"}
    [finding] = [f for f in doc["findings"] if f["line"] == 2]
    assert finding["path"] == "src/bad.py" and finding["severity"] == "high" and finding["cwe"] == "CWE-78"
    assert set(finding) >= {"rule_id", "detector", "confidence", "column", "end_line", "end_column", "message",
                            "snippet", "evidence", "fingerprint"}
    assert doc["errors"] == [{"path": "src/bin.py", "message": doc["errors"][0]["message"]}]
    assert doc["stats"]["files"] == 1
    assert cli("scan", "src", "--skip-errors", "--fail-on", "critical").code == 0


def test_select_ignore_suppress_and_output(tree, cli) -> None:
    tree({"bad.py": BAD})
    [rule] = [f["rule_id"] for f in cli("scan", "bad.py", "--format", "json").json["findings"] if f["severity"] == "high"]
    assert cli("scan", "bad.py", "--ignore", rule).code == 0
    assert cli("scan", "bad.py", "--select", "nothing-*").code == 0
    tree({"sup.py": BAD.replace("True)", f"True)  # trustcheck: ignore[{rule}]")})
    assert cli("scan", "sup.py").code == 0
    tree({"bare.py": BAD.replace("True)", "True)  # trustcheck: ignore")})
    out = cli("scan", "bare.py", "--format", "json").json
    assert {rule, "suppression-missing-rule"} <= {f["rule_id"] for f in out["findings"]}
    result = cli("scan", "bad.py", "--format", "sarif", "--output", "report.sarif")
    assert result.code == 1 and result.out == ""
    assert json.loads(Path("report.sarif").read_text())["version"] == "2.1.0"


def test_config_from_pyproject_above_the_scanned_path(tree, cli) -> None:
    tree({"pyproject.toml": '[tool.trustcheck]\nfail-on = "critical"\nexclude = ["vendor/"]\n',
          "pkg/bad.py": BAD, "vendor/bad.py": BAD})
    assert cli("scan", "pkg/bad.py").code == 0  # fail-on critical from the config
    assert cli("scan", "pkg/bad.py", "--fail-on", "high").code == 1  # the flag wins
    assert cli("scan", "vendor/bad.py", "--fail-on", "high").code == 0  # excluded even when named
    tree({"pyproject.toml": '[tool.trustcheck]\nfail_on = "high"\n'})
    bad = cli("scan", "pkg/bad.py")
    assert bad.code == 2 and "pyproject.toml" in bad.err and "fail_on" in bad.err


def test_broken_rule_folder_exits_2_with_the_file(tree, cli) -> None:
    tree({"myrules/py-broken.yaml": "id: py-broken\n", "a.py": CLEAN})
    result = cli("scan", "a.py", "--rules", "myrules")
    assert result.code == 2 and "py-broken.yaml" in result.err and "Traceback" not in result.err
