"""Feature extraction: units, resolved calls, capabilities, string and number indicators."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.anomaly.features import Unit, entropy, extract_units, feature_names
from detectors.anomaly.syntax import PYTHON, SYNTAX

NAMES = feature_names(PYTHON)


def unit_named(code: str, name: str) -> Unit:
    return next(u for u in extract_units(code.encode(), "python") if u.name == name)


def value(unit: Unit, feature: str) -> float:
    return unit.vector[NAMES.index(feature)]


def test_units_are_functions_methods_and_top_level_blocks():
    code = "import os\nX = 1\n\ndef f():\n    pass\n\nclass K:\n    y = 2\n    def m(self):\n        def inner():\n            pass\n"
    units = extract_units(code.encode(), "python")
    assert [(u.kind, u.name, u.start_line, u.end_line) for u in units] == [
        ("block", "<module>", 1, 2),
        ("function", "f", 4, 5),
        ("block", "K.<block>", 8, 8),
        ("function", "K.m", 9, 11),
        ("function", "K.m.inner", 10, 11),
    ]
    assert all(len(u.vector) == len(NAMES) for u in units)


def test_calls_resolve_through_imports_and_count_capabilities():
    code = (
        "import base64 as b\nfrom subprocess import Popen\nimport urllib.request\n"
        "def f():\n    exec(b.b64decode('eA=='))\n    Popen(['x'])\n    urllib.request.urlopen('http://10.0.0.1/x')\n"
    )
    unit = unit_named(code, "f")
    assert unit.calls == ["exec", "base64.b64decode", "subprocess.Popen", "urllib.request.urlopen"]
    assert unit.capabilities == {"dynamic": 1, "encoding": 1, "process": 1, "network": 1}
    assert unit.modules == {"base64", "subprocess", "urllib"}
    assert value(unit, "cap.distinct") == 4
    assert value(unit, "string.url") > 0 and value(unit, "string.ipv4") > 0


def test_encoded_strings_large_hex_and_byte_arrays():
    code = "def f():\n    k = 0xDEADBEEF\n    b = [1, 2, 3, 4, 5, 6, 7, 8, 9]\n    s = 'aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2lkJyk='\n"
    unit = unit_named(code, "f")
    assert value(unit, "number.large_hex") > 0
    assert value(unit, "number.byte_array") > 0
    assert value(unit, "string.encoded_blob") > 0


def test_plain_function_has_no_alarms_and_docstring_is_not_a_string_literal():
    code = 'def add(a, b):\n    """Add two numbers and return the sum of them."""\n    return a + b\n'
    unit = unit_named(code, "add")
    assert unit.capabilities == {}
    assert value(unit, "doc.docstring") == 1
    assert value(unit, "string.log_count") == 0
    assert all(value(unit, n) == 0 for n in NAMES if n.startswith(("cap.", "string.", "number.")))


def test_entropy():
    assert entropy("") == 0
    assert entropy("aaaa") == 0
    assert abs(entropy("abcd") - 2.0) < 1e-9


def test_deep_nesting_does_not_crash():
    depth = 3000
    code = "def deep():\n    x = " + "(" * depth + "1" + ")" * depth + "\n"
    code += "def nested():\n" + "".join("    " * (i + 1) + "if x:\n" for i in range(90)) + "    " * 91 + "pass\n"
    units = extract_units(code.encode(), "python")
    assert [u.name for u in units] == ["deep", "nested"]
    assert value(units[1], "depth.max_block") >= 90


def test_unsupported_language_has_no_units():
    assert extract_units(b"package main\nfunc f() {}\n", "go") == []


def test_javascript_units_imports_and_capabilities():
    code = (
        'const cp = require("child_process");\nimport { a as b } from "mod";\n'
        "class K { m() { try { cp.exec(`ls`) } catch (e) {} } }\n"
        'const f = () => { const k = process.env.KEY; eval(atob("aGVsbG8=")); return new Function("a"); };\n'
    )
    units = {u.name: u for u in extract_units(code.encode(), "javascript")}
    assert {"K.m", "f"} <= set(units)
    assert units["K.m"].calls == ["child_process.exec"] and units["K.m"].capabilities == {"process": 1}
    assert units["f"].capabilities == {"env": 1, "dynamic": 2, "encoding": 1}
    assert extract_units(code.encode(), "typescript")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("def f():\n  ()[]{}'\"#:=x0123.+eval(\\) \t")), max_size=300))
def test_any_input_gives_units_with_full_vectors(code: str):
    for language in ("python", "javascript"):
        for unit in extract_units(code.encode(), language):
            assert 1 <= unit.start_line <= unit.end_line
            assert len(unit.vector) == len(feature_names(SYNTAX[language]))
            assert all(math.isfinite(v) for v in unit.vector)
