"""The tree-sitter rule engine: YAML rules (rules/<language>/<id>.yaml) run as one combined query
per language, refined by the `where:` helpers documented in HELPERS.md.

Public API: `RuleDetector`, `Rule`, `load_rules`, `default_rules_dir`, `test_rules`.
"""

from detectors.rules.engine import RuleDetector, test_rules
from detectors.rules.model import Rule, default_rules_dir, load_rule_file, load_rules

__all__ = ["Rule", "RuleDetector", "default_rules_dir", "load_rule_file", "load_rules", "test_rules"]
