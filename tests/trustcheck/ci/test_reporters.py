from __future__ import annotations

import types

import pytest

from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.reporters.github import annotation, report_github
from trustcheck.reporters.markdown import report_markdown


@pytest.fixture(autouse=True)
def _no_workspace(monkeypatch):
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


def result(*findings: Finding, errors=()):
    return types.SimpleNamespace(findings=list(findings), errors=list(errors), stats={})


F = Finding("py-exec-base64", "rules", Severity.CRITICAL, Confidence.HIGH, "exec of | decoded\ndata", "src/app.py", 12,
            5, cwe="CWE-94")


def test_markdown_counts_table_and_links(monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/widgets")
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    text = report_markdown(result(F))
    assert "### trustcheck: 1 new finding" in text
    assert "| critical | high | medium | low | info |\n|---:|---:|---:|---:|---:|\n| 1 | 0 | 0 | 0 | 0 |" in text
    assert "<details><summary>New findings (1)</summary>" in text and "</details>" in text
    assert ("| critical | `py-exec-base64` (CWE-94) | [`src/app.py:12`](https://github.example/acme/widgets/blob/abc123/"
            "src/app.py#L12) | exec of \\| decoded data |") in text


def test_markdown_without_actions_env_has_plain_locations(monkeypatch):
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    text = report_markdown(result(F))
    assert "| `src/app.py:12` |" in text


def test_markdown_empty():
    assert "no new findings" in report_markdown(result())


def test_github_annotation_escapes():
    assert annotation(F) == ("::error file=src/app.py,line=12,col=5,title=py-exec-base64 (critical%2C CWE-94)"
                             "::exec of | decoded%0Adata")
    err = types.SimpleNamespace(path="bad,file.py", message="unreadable: 100%")
    assert report_github(result(errors=[err])) == (
        "::error file=bad%2Cfile.py,title=trustcheck could not scan::unreadable: 100%25\n")


def test_paths_are_relative_to_the_github_workspace(monkeypatch, tmp_path):
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    moved = F.__class__(**{**F.__dict__, "path": "app.py"})
    assert annotation(moved).startswith("::error file=src/app.py,line=12")
    assert "`src/app.py:12`" in report_markdown(result(moved))
