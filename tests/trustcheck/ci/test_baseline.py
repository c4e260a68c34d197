from __future__ import annotations

from trustcheck.baseline import Baseline, build
from trustcheck.findings import Confidence, Finding, Severity


def finding(line: int, rule: str = "py-exec-base64", path: str = "app.py") -> Finding:
    return Finding(rule, "rules", Severity.CRITICAL, Confidence.HIGH, "exec of decoded data", path, line)


def lines(text: str):
    split = text.splitlines()
    return lambda path: split


CODE = "import base64\n\ndef run(blob):\n    exec(base64.b64decode(blob))\n    return 1\n"


def test_survives_code_moving_down():
    baseline = build([finding(4)], lines(CODE))
    moved = "# a new header comment\n\n\n" + CODE
    new, old = Baseline.loads(baseline.dumps(), where="b").split([finding(7)], lines(moved))
    assert new == [] and [f.line for f in old] == [7]


def test_second_identical_finding_next_to_baselined_one_is_reported():
    baseline = build([finding(4)], lines(CODE))
    doubled = CODE.replace("    return 1", "    exec(base64.b64decode(blob))\n    return 1")
    new, old = baseline.split([finding(4), finding(5)], lines(doubled))
    assert len(new) == 1 and len(old) == 1


def test_same_rule_elsewhere_in_file_is_new():
    baseline = build([finding(4)], lines(CODE))
    more = CODE + "\ndef other(x):\n    exec(base64.b64decode(x))\n"
    new, _ = baseline.split([finding(4), finding(8)], lines(more))
    assert [f.line for f in new] == [8]


def test_edit_beside_a_finding_still_matches_on_its_line():
    baseline = build([finding(4)], lines(CODE))
    edited = CODE.replace("    return 1", "    return 2  # changed neighbour")
    new, old = baseline.split([finding(4)], lines(edited))
    assert new == [] and len(old) == 1


def test_other_rule_or_file_is_not_hidden():
    baseline = build([finding(4)], lines(CODE))
    new, _ = baseline.split([finding(4, rule="py-eval"), finding(4, path="other.py")], lines(CODE))
    assert len(new) == 2


def test_dump_is_deterministic_and_loads_back():
    baseline = build([finding(4), finding(4, rule="py-eval")], lines(CODE))
    text = baseline.dumps()
    assert Baseline.loads(text, where="b").dumps() == text
    assert '"line": 4' in text
