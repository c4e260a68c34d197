from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

VALID_RULE = """\
id: {id}
languages: [python]
severity: medium
confidence: high
cwe: CWE-95
message: A test rule that flags calls to a function named danger.
query: |
  (call function: (_) @fn) @match
where:
  - callee: {{capture: fn, names: [danger]}}
docs:
  what: flags danger()
  why: because
  use_instead: safe()
  references: [https://example.org]
examples:
  match:
    - "danger()"
  no_match:
    - "safe()"
"""


@pytest.fixture
def write_rule(tmp_path: Path) -> Callable[..., Path]:
    """Write a rule file into tmp_path/rules; `text` defaults to a valid rule with `rule_id`."""

    def write(rule_id: str = "py-test-danger", text: str | None = None, name: str | None = None) -> Path:
        folder = tmp_path / "rules"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name or rule_id}.yaml"
        path.write_text(textwrap.dedent(text) if text is not None else VALID_RULE.format(id=rule_id))
        return path

    return write
