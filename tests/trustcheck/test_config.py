from __future__ import annotations

from pathlib import Path

import pytest

from trustcheck.config import Config, load_config
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Severity


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.fail_on is Severity.HIGH and config.format == "text" and config.source is None
    assert config.root == str(tmp_path.resolve())


def test_reads_nearest_pyproject_upward_and_resolves_rule_dirs(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.trustcheck]\nfail-on = "medium"\nselect = ["py-*"]\nexclude = ["gen/"]\nrules = ["my-rules"]\n'
        "jobs = 2\nmax-file-size = 1000\n")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    (deep / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no trustcheck table: skipped
    config = load_config(deep / "mod.py")
    assert config.fail_on is Severity.MEDIUM and config.select == ("py-*",) and config.jobs == 2
    assert config.rules == (str(tmp_path / "my-rules"),) and config.max_file_size == 1000
    assert config.source == str(tmp_path / "pyproject.toml")


def test_cli_overrides_win(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.trustcheck]\nfail-on = "low"\nformat = "json"\n')
    config = load_config(tmp_path, {"fail-on": "critical", "format": None, "ignore": ["x-*"]})
    assert config.fail_on is Severity.CRITICAL and config.format == "json" and config.ignore == ("x-*",)


@pytest.mark.parametrize("body, words", [
    ('colour = "red"', ["unknown key 'colour'", "pyproject.toml"]),
    ('fail_on = "high"', ["unknown key 'fail_on'", "did you mean 'fail-on'"]),
    ('fail-on = "severe"', ["fail-on", "bad value 'severe'", "critical"]),
    ("jobs = -1", ["jobs", ">= 0"]),
    ('format = "xml"', ["format", "sarif"]),
    ("select = 3", ["select", "list of strings"]),
    ("fail-on = [", ["not valid TOML"]),
])
def test_bad_config_names_file_and_key(tmp_path: Path, body: str, words: list[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.trustcheck]\n{body}\n")
    with pytest.raises(TrustcheckError) as info:
        load_config(tmp_path)
    message = info.value.render()
    for word in words:
        assert word in message


def test_explicit_config_file(tmp_path: Path) -> None:
    other = tmp_path / "conf" / "pyproject.toml"
    other.parent.mkdir()
    other.write_text('[tool.trustcheck]\nignore = ["a", "b"]\n')
    assert load_config(tmp_path, config_file=other).ignore == ("a", "b")
    with pytest.raises(TrustcheckError, match="does not exist"):
        load_config(tmp_path, config_file=tmp_path / "missing.toml")


def test_config_is_hashable_for_the_detector_cache() -> None:
    assert hash(Config()) == hash(Config())
