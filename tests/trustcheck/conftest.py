"""Shared harness for the application's tests: a throwaway detector, a file-tree writer and an
in-process CLI runner."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.sources import Source

FIXTURES = Path(__file__).parent / "fixtures"


@dataclasses.dataclass
class MarkerDetector:
    """Flags every line containing `DANGER` (high) or `meh` (low): pipeline tests without the rule
    pack."""

    name: str = "marker"

    def detect(self, source: Source) -> list[Finding]:
        found = []
        for number, line in enumerate(source.text.splitlines(), start=1):
            for word, rule, severity in (("DANGER", "test-danger", Severity.HIGH), ("meh", "test-meh", Severity.LOW)):
                col = line.find(word)
                if col >= 0:
                    found.append(Finding(rule, self.name, severity, Confidence.HIGH, f"{word} here", source.path,
                                         number, col + 1, number, col + 1 + len(word), "CWE-78", line.strip()))
        return found


@pytest.fixture
def marker() -> MarkerDetector:
    return MarkerDetector()


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`tree({"a.py": "..."})` writes files under a temp folder and makes it the working folder."""
    monkeypatch.chdir(tmp_path)

    def make(files: dict[str, str | bytes]) -> Path:
        return write_tree(tmp_path, files)

    return make


@dataclasses.dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """`cli("scan", "x.py", "--format", "json")` runs the CLI in-process; returns code/out/err."""
    from trustcheck.cli import main

    def run(*argv: str) -> CliResult:
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True)
def _no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    os.environ.pop("FORCE_COLOR", None)
