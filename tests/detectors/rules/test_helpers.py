"""The `where:` helpers, through small inline rules."""

from __future__ import annotations

import pytest

from detectors.rules.model import rule_from_dict
from detectors.rules.testing import lines, run_rule


def rule(query: str, where: list, language: str = "python"):
    return rule_from_dict(
        {
            "id": "py-test-helper", "languages": [language], "severity": "low", "confidence": "low", "cwe": "CWE-1",
            "message": "a rule used only by the helper tests", "query": query, "where": where,
            "docs": {"what": "w", "why": "w", "use_instead": "w", "references": ["r"]},
            "examples": {"match": ["x"], "no_match": ["y"]},
        }
    )


CALL = "(call function: (_) @fn) @match"


def test_callee_fnmatch_and_aliases() -> None:
    r = rule(CALL, [{"callee": {"capture": "fn", "names": ["subprocess.*"]}}])
    code = "import subprocess as s\nfrom subprocess import run\ns.call(x)\nrun(y)\nother.call(z)\n"
    assert lines(run_rule(r, code)) == [3, 4]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"is": "present"}, [1, 2, 3, 4]),
        ({"is": "absent"}, [5]),
        ({"is": "truthy"}, [1, 4]),
        ({"is": "falsy"}, [2]),
        ({"is": "nonconstant"}, [3]),
        ({"equals": 1}, [4]),
        ({"regex": "^Tr"}, [1]),
    ],
)
def test_kwarg_conditions(condition: dict, expected: list[int]) -> None:
    r = rule(CALL, [{"kwarg": {"name": "shell", **condition}}])
    code = "f(shell=True)\nf(shell=False)\nf(shell=v)\nf(shell=1)\nf()\n"
    assert lines(run_rule(r, code)) == expected


def test_arg_by_position_or_keyword() -> None:
    r = rule(CALL, [{"arg": {"name": "Loader", "position": 1, "names": ["*SafeLoader"]}}])
    code = "import yaml\nyaml.load(s, yaml.SafeLoader)\nyaml.load(s, Loader=yaml.SafeLoader)\nyaml.load(s)\n"
    assert lines(run_rule(r, code)) == [2, 3]


def test_value_mask() -> None:
    r = rule(CALL, [{"arg": {"position": 1, "mask": 0o002}}])
    assert lines(run_rule(r, "import stat\nchmod(p, 0o777)\nchmod(p, 0o644)\nchmod(p, stat.S_IWOTH)\n")) == [2, 4]


def test_regex_on_text_and_value() -> None:
    on_text = rule("(string) @match", [{"regex": {"pattern": "eval"}}])
    on_value = rule("(binary_operator) @match", [{"regex": {"pattern": "^eval$", "on": "value"}}])
    assert lines(run_rule(on_text, "'eval'\n'ev' + 'al'\n")) == [1]
    assert lines(run_rule(on_value, "'eval'\n'ev' + 'al'\n")) == [2]


def test_not_any_all() -> None:
    r = rule("(identifier) @match", [{"not": {"regex": {"pattern": "^a"}}}, {"any": [{"regex": {"pattern": "x"}}, {"all": [{"regex": {"pattern": "y"}}, {"regex": {"pattern": "z"}}]}]}])
    assert [f.snippet for f in run_rule(r, "ax\nbx\nby\nyz\n")] == ["bx", "yz"]


def test_inside_and_not_inside() -> None:
    inside = rule(CALL, [{"callee": {"capture": "fn", "names": ["g"]}}, {"inside": {"types": ["function_definition"]}}])
    outside = rule(CALL, [{"callee": {"capture": "fn", "names": ["g"]}}, {"not_inside": {"callee": ["wrap"]}}])
    code = "g()\ndef f():\n    g()\nwrap(g())\n"
    assert lines(run_rule(inside, code)) == [3]
    assert lines(run_rule(outside, code)) == [1, 3]


def test_contains_follows_local_variables() -> None:
    r = rule("(call function: (_) @fn arguments: (_) @args) @match",
             [{"callee": {"capture": "fn", "names": ["exec"]}}, {"contains": {"capture": "args", "callee": ["requests.*"]}}])
    code = "import requests\nr = requests.get(u)\nbody = r.text\nexec(body)\nexec(other)\n"
    assert lines(run_rule(r, code)) == [4]


def test_file_has() -> None:
    r = rule(CALL, [{"callee": {"capture": "fn", "names": ["run"]}}, {"file_has": {"callee": ["flask.*"], "regex": "app"}}])
    assert lines(run_rule(r, "import flask\napp = flask.Flask(__name__)\nrun()\n")) == [3]
    assert lines(run_rule(r, "app = 1\nrun()\n")) == []


def test_generic_language_helpers() -> None:
    js = rule("(call_expression function: (_) @fn) @match",
              [{"callee": {"capture": "fn", "names": ["child_process.exec*", "cp.exec"]}}, {"arg": {"position": 0, "is": "nonconstant"}}], "javascript")
    code = "child_process.exec('ls ' + dir)\nchild_process.exec('ls' + ' -l')\ncp.exec(cmd)\nfoo.exec(cmd)\n"
    assert lines(run_rule(js, code)) == [1, 3]
    opts = rule("(call_expression) @match", [{"kwarg": {"name": "rejectUnauthorized", "is": "falsy"}}], "javascript")
    assert lines(run_rule(opts, "https.request({host: h, rejectUnauthorized: false})\nhttps.request({rejectUnauthorized: true})\n")) == [1]
    sh = rule("(command) @match", [{"callee": {"names": ["curl"]}}, {"arg": {"position": 0, "regex": "^-k$"}}], "bash")
    assert lines(run_rule(sh, "curl -k https://x\ncurl https://x\n")) == [1]
