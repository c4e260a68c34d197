"""The YAML loader: valid rules load, broken ones fail with a TrustcheckError naming file and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from detectors.rules import load_rules, test_rules
from detectors.rules.model import rule_from_dict
from trustcheck.errors import TrustcheckError

from .conftest import VALID_RULE  # type: ignore[import-not-found]


def _mutated(**changes: object) -> dict:
    import yaml

    data = yaml.safe_load(VALID_RULE.format(id="py-test-danger"))
    data.update(changes)
    return data


def test_valid_rule_loads_and_passes_its_examples(write_rule: Callable[..., Path]) -> None:
    path = write_rule()
    rules = load_rules([path.parent])
    assert [r.id for r in rules] == ["py-test-danger"]
    assert rules[0].severity.value == "medium" and rules[0].cwe == "CWE-95"
    assert test_rules(rules) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"severity": "urgent"}, "severity"),
        ({"confidence": "sure"}, "confidence"),
        ({"cwe": "78"}, "cwe"),
        ({"languages": ["cobol"]}, "languages"),
        ({"query": "(call function: @fn"}, "query"),
        ({"query": "(call) @other"}, "query"),
        ({"query": "(no_such_node) @match"}, "query"),
        ({"examples": {"match": ["danger()"]}}, "examples.no_match"),
        ({"examples": {"match": [], "no_match": ["x"]}}, "examples.match"),
        ({"docs": {"what": "x"}}, "docs"),
        ({"where": [{"callee": {"capture": "fn"}}]}, "where"),
        ({"where": [{"no_such_helper": {}}]}, "where"),
        ({"where": [{"regex": {"pattern": "("}}]}, "where"),
        ({"id": "Bad Id"}, "id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_broken_rule_names_the_field(changes: dict, field: str) -> None:
    with pytest.raises(TrustcheckError) as info:
        rule_from_dict(_mutated(**changes), "rules/python/py-test-danger.yaml")
    assert "py-test-danger.yaml" in str(info.value)
    assert repr(field) in str(info.value)


def test_missing_field(write_rule: Callable[..., Path]) -> None:
    data = _mutated()
    del data["message"]
    with pytest.raises(TrustcheckError, match="'message'"):
        rule_from_dict(data, "x.yaml")


def test_invalid_yaml_names_the_file(write_rule: Callable[..., Path]) -> None:
    path = write_rule(text="id: [unclosed\n  - :")
    with pytest.raises(TrustcheckError, match="invalid YAML") as info:
        load_rules([path.parent])
    assert str(path) in str(info.value)


def test_not_a_mapping(write_rule: Callable[..., Path]) -> None:
    path = write_rule(text="- just\n- a list\n")
    with pytest.raises(TrustcheckError, match="one mapping"):
        load_rules([path.parent])


def test_file_name_must_equal_id(write_rule: Callable[..., Path]) -> None:
    path = write_rule("py-test-danger", name="py-other-name")
    with pytest.raises(TrustcheckError, match="differs from the file name"):
        load_rules([path.parent])


def test_duplicate_id_across_folders(write_rule: Callable[..., Path], tmp_path: Path) -> None:
    first = write_rule()
    other = tmp_path / "more"
    other.mkdir()
    (other / "py-test-danger.yaml").write_text(first.read_text())
    with pytest.raises(TrustcheckError, match="duplicate rule id"):
        load_rules([first.parent, other])


def test_missing_folder() -> None:
    with pytest.raises(TrustcheckError, match="does not exist"):
        load_rules(["/nonexistent/rules"])


def test_failing_examples_are_reported(write_rule: Callable[..., Path]) -> None:
    text = VALID_RULE.format(id="py-test-danger").replace('- "safe()"', '- "danger(1)"')
    path = write_rule(text=text)
    failures = test_rules(load_rules([path.parent]))
    assert failures == ["py-test-danger: no_match example 1 produced a finding at line 1: danger(1)"]
