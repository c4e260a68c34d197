"""docs/rules is generated from the rule YAML and must stay in sync with it."""

from __future__ import annotations

import filecmp
from collections.abc import Callable
from pathlib import Path

import pytest

from detectors.rules import load_rules
from detectors.rules.docs import check_rule_docs, render_rule_doc, render_rule_docs, write_rule_docs
from trustcheck.cli import main

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "rules"


def test_committed_docs_match_the_rule_yaml(tmp_path: Path) -> None:
    rules = load_rules(compile_queries=False)
    write_rule_docs(rules, tmp_path)
    expected = sorted(p.name for p in tmp_path.iterdir())
    actual = sorted(p.name for p in DOCS.glob("*.md"))
    hint = "docs/rules is out of date: run `trustcheck rules docs` and commit docs/rules"
    assert actual == expected, hint
    match, mismatch, errors = filecmp.cmpfiles(tmp_path, DOCS, expected, shallow=False)
    assert (mismatch, errors) == ([], []), hint
    assert len(match) == len(rules) + 1  # one page per rule plus the README.md index


def test_page_has_every_section_and_the_first_example(write_rule: Callable[..., Path]) -> None:
    (rule,) = load_rules(write_rule("py-test-danger").parent)
    page = render_rule_doc(rule)
    assert page.splitlines()[2] == "# py-test-danger"
    assert "| medium | high | [CWE-95](https://cwe.mitre.org/data/definitions/95.html) | python |" in page
    for heading in ("## What it does", "## Why it is bad", "## Example", "## Use instead", "## References"):
        assert heading in page
    assert "```python\ndanger()\n```" in page
    assert "- <https://example.org>" in page
    assert page == render_rule_doc(rule)  # deterministic


def test_index_groups_by_language_and_links_pages(write_rule: Callable[..., Path]) -> None:
    write_rule("py-test-danger")
    rules = load_rules(write_rule("py-test-other").parent)
    pages = render_rule_docs(rules)
    assert sorted(pages) == ["README.md", "py-test-danger.md", "py-test-other.md"]
    index = pages["README.md"]
    assert "## python" in index and "2 rules." in index
    assert index.index("[py-test-danger](py-test-danger.md)") < index.index("[py-test-other](py-test-other.md)")


def test_cli_writes_then_check_reports_stale_missing_extra(
    write_rule: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules_dir = write_rule("py-test-danger").parent
    out = tmp_path / "docs"
    args = ["rules", "docs", "--rules", str(rules_dir), "--out", str(out)]
    assert main([*args, "--check"]) == 1
    assert "missing: py-test-danger.md" in capsys.readouterr().out
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "py-test-danger.md"]
    assert main([*args, "--check"]) == 0
    capsys.readouterr()
    (out / "py-test-danger.md").write_text("edited by hand\n")
    (out / "py-gone.md").write_text("a page for a deleted rule\n")
    assert main([*args, "--check"]) == 1
    printed = capsys.readouterr().out
    assert "stale: py-test-danger.md" in printed and "extra: py-gone.md" in printed
    assert check_rule_docs(load_rules(rules_dir), out) == ["stale: py-test-danger.md", "extra: py-gone.md"]
    assert main(args) == 0  # regenerating repairs both
    assert not (out / "py-gone.md").exists() and main([*args, "--check"]) == 0
