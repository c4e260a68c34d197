from pathlib import Path

import pytest

from detectors.rules import load_rules
from detectors.rules.cache import RuleCache

RULE = """\
id: py-test-cached
languages: [python]
severity: {severity}
confidence: high
cwe: CWE-78
message: A test rule that flags calls to danger so the cache can be checked.
query: |
  (call function: (_) @fn) @match
where:
  - callee: {{capture: fn, names: [danger]}}
docs: {{what: w, why: w, use_instead: w, references: [r]}}
examples:
  match: ["danger()"]
  no_match: ["safe()"]
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TRUSTCHECK_CACHE_DIR", str(folder))
    monkeypatch.delenv("TRUSTCHECK_NO_CACHE", raising=False)
    return folder


def _write(folder: Path, severity: str = "high") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "py-test-cached.yaml"
    path.write_text(RULE.format(severity=severity))
    return path


def _fields(rule: object) -> dict[str, object]:
    return {k: v for k, v in vars(rule).items()}


def test_cached_load_gives_the_same_rules(cache_dir: Path, tmp_path: Path) -> None:
    _write(tmp_path / "rules")
    first = load_rules(tmp_path / "rules")
    assert (cache_dir / "rules.marshal").is_file()
    cache = RuleCache.open()
    assert cache is not None and len(cache.entries) == 1
    second = load_rules(tmp_path / "rules")
    assert [_fields(r) for r in second] == [_fields(r) for r in first]


def test_shipped_pack_is_identical_through_the_cache(cache_dir: Path) -> None:
    cold = load_rules(compile_queries=False)
    warm = load_rules(compile_queries=False)
    assert [_fields(r) for r in warm] == [_fields(r) for r in cold]


def test_an_edited_rule_file_is_validated_again(cache_dir: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "rules")
    assert load_rules(path.parent)[0].severity.value == "high"
    path.write_text(RULE.format(severity="low"))
    assert load_rules(path.parent)[0].severity.value == "low"
    path.write_text(RULE.format(severity="bogus"))
    with pytest.raises(Exception, match="severity"):
        load_rules(path.parent)


def test_a_damaged_cache_file_is_ignored(cache_dir: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "rules")
    cache_dir.mkdir()
    (cache_dir / "rules.marshal").write_bytes(b"\x00garbage")
    assert load_rules(path.parent)[0].id == "py-test-cached"


def test_no_cache_when_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRUSTCHECK_NO_CACHE", "1")
    path = _write(tmp_path / "rules")
    assert load_rules(path.parent)[0].id == "py-test-cached"
    assert not (tmp_path / "cache").exists()
