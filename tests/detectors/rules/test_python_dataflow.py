"""Python name resolution and constant folding (the evasions rules must see through)."""

from __future__ import annotations

import base64
import zlib

import pytest
import tree_sitter
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.languages import grammar, parser
from detectors.rules.python_dataflow import UNKNOWN, PythonFile


def _last_expression(code: str) -> tuple[PythonFile, tree_sitter.Node]:
    tree = parser("python").parse(code.encode())
    statement = tree.root_node.named_children[-1]
    node = statement.named_children[0] if statement.type == "expression_statement" else statement
    return PythonFile(tree.root_node), node


def fold(code: str):
    resolver, node = _last_expression(code)
    return resolver.fold(node)


def callee(code: str) -> str | None:
    resolver, node = _last_expression(code)
    return resolver.callee(node)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("import subprocess\nsubprocess.run(x)", "subprocess.run"),
        ("import subprocess as sp\nsp.Popen(x)", "subprocess.Popen"),
        ("from subprocess import Popen as P\nP(x)", "subprocess.Popen"),
        ("import os.path\nos.path.join(a)", "os.path.join"),
        ("import requests\nf = requests.get\nf(u)", "requests.get"),
        ("import requests\ns = requests.Session()\ns.get(u)", "requests.Session().get"),
        ("import os\ngetattr(os, 'sys' + 'tem')(c)", "os.system"),
        ("__import__('os').system(c)", "os.system"),
        ("import importlib\nimportlib.import_module('subprocess').call(c)", "subprocess.call"),
        ("globals()['ev' + 'al'](c)", "eval"),
        ("import builtins\nbuiltins.exec(c)", "exec"),
        ("from . import helper\nhelper(x)", "helper"),
        ("x = x.strip()\nx.lower()", "x.strip().lower"),
        ("eval(x)", "eval"),
    ],
)
def test_callee_resolves_aliases(code: str, name: str) -> None:
    assert callee(code) == name


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("'a' 'b'", "ab"),
        ("'ev' + 'al'", "eval"),
        ("x = 'sys'\ny = x + 'tem'\ny", "system"),
        ("name = 'world'\nf'hello {name}!'", "hello world!"),
        ("'%s-%d' % ('a', 3)", "a-3"),
        ("''.join(['e', 'v', 'a', 'l'])", "eval"),
        ("''.join(chr(c) for c in [101, 118, 97, 108])", "eval"),
        ("''.join([chr(x) for x in (104, 105)])", "hi"),
        ("bytes.fromhex('6869')", b"hi"),
        (f"import base64\nbase64.b64decode('{base64.b64encode(b'import os').decode()}')", b"import os"),
        ("import base64 as b\nb.b64decode('aGk=').decode()", "hi"),
        ("import codecs\ncodecs.decode('riny', 'rot13')", "eval"),
        ("flag = [False, True]\nflag[0]", False),
        ("t = ('a', 'b')\nt[1]", "b"),
        ("'lave'[::-1]", "eval"),
        ("'ab' * 3", "ababab"),
        ("None", None),
        ("-5", -5),
        ("0o755", 0o755),
        ("import stat\nstat.S_IRWXU | stat.S_IXOTH", 0o701),
        ("x = 1\ndef f():\n    x = 2\n    return x\nx", 1),
        ("r'\\n'", "\\n"),
    ],
)
def test_fold(code: str, value: object) -> None:
    assert fold(code) == value


def test_fold_zlib_base64_chain() -> None:
    blob = base64.b64encode(zlib.compress(b"print(1)")).decode()
    assert fold(f"import zlib, base64\nzlib.decompress(base64.b64decode('{blob}'))") == b"print(1)"


def test_local_variable_is_scoped_to_its_function() -> None:
    code = "def f():\n    v = 'inner'\n\ndef g():\n    v = 'other'\n    return v\n"
    tree = parser("python").parse(code.encode())
    ret = tree.root_node.named_children[1].child_by_field_name("body").named_children[1]
    assert PythonFile(tree.root_node).fold(ret.named_children[0]) == "other"


@pytest.mark.parametrize(
    "code",
    ["unknown_name", "f(x)", "'a' + y", "'a' * 10**9", "x = x + 'a'\nx", "a = b\nb = a\na", "{1: 2}", "open('f').read()"],
)
def test_unfoldable_is_unknown(code: str) -> None:
    assert fold(code) is UNKNOWN


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="\\'{}"), max_size=8), min_size=1, max_size=6))
def test_concatenation_and_join_fold_like_python(parts: list[str]) -> None:
    literal = " + ".join(repr(p) for p in parts)
    assert fold(literal) == "".join(parts)
    assert fold(f"''.join([{', '.join(repr(p) for p in parts)}])") == "".join(parts)
    codes = [ord(c) for c in "".join(parts)]
    assert fold(f"''.join(chr(c) for c in {codes!r})") == "".join(parts)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=64))
def test_encodings_round_trip(data: bytes) -> None:
    assert fold(f"import base64\nbase64.b64decode({base64.b64encode(data).decode()!r})") == data
    assert fold(f"bytes.fromhex({data.hex()!r})") == data


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=200))
def test_fold_never_raises_on_arbitrary_source(code: str) -> None:
    tree = parser("python").parse(code.encode("utf-8", "surrogatepass"))
    resolver = PythonFile(tree.root_node)
    cursor = tree_sitter.QueryCursor(tree_sitter.Query(grammar("python"), "(expression_statement (_) @e)"))
    for node in cursor.captures(tree.root_node).get("e", []):
        resolver.fold(node)
        resolver.callee(node)


def test_value_reassigned_on_one_branch_is_unknown() -> None:
    assert fold("name = f()\nif bad:\n    name = 'x'\nname") is UNKNOWN
    assert fold("name = 'a'\nname = 'b'\nname") == "b"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("vars(__builtins__).get('compile')(src)", "compile"),
        ("__builtins__.getattr(__builtins__, b'\\x85\\xa5\\x81\\x93'.decode('cp1026'))(x)", "eval"),
        ("import os\nos.__dict__['sys' + 'tem'](c)", "os.system"),
        ("\U0001D68E\U0001D6A1\U0001D68E\U0001D68C(c)", "exec"),
    ],
)
def test_callee_sees_through_reflection(code: str, name: str) -> None:
    assert callee(code) == name
