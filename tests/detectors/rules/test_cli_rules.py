"""`trustcheck rules list | show | test` through the real CLI funnel."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from trustcheck.cli import main

from .conftest import VALID_RULE  # type: ignore[import-not-found]


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "py-subprocess-shell-true" in out and "CWE-78" in out


def test_list_json_filtered_by_language(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list", "--format", "json", "--language", "python"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) >= 30 and all("python" in r["languages"] for r in rows)
    assert set(rows[0]) >= {"id", "severity", "confidence", "cwe"}


def test_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "py-yaml-unsafe-load"]) == 0
    out = capsys.readouterr().out
    assert "Use instead:" in out and "Flagged:" in out and "yaml.safe_load" in out


def test_show_unknown_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "py-yaml-unsafe-lod"]) == 2
    assert "py-yaml-unsafe-load" in capsys.readouterr().err


def test_test_user_folder_passes_fails_and_breaks(write_rule: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_rule()
    assert main(["rules", "test", str(path.parent)]) == 0
    path.write_text(VALID_RULE.format(id="py-test-danger").replace('- "safe()"', '- "danger(2)"'))
    assert main(["rules", "test", str(path.parent)]) == 1
    assert "FAIL py-test-danger: no_match example 1" in capsys.readouterr().out
    path.write_text("id: [")
    assert main(["rules", "test", str(path.parent)]) == 2
    assert "py-test-danger.yaml" in capsys.readouterr().err


def test_test_shipped_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test"]) == 0
    assert "0 failures" in capsys.readouterr().out
