"""The typosquat look-up (distance, normalisation, name extraction) and its where-helper."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.rules import typosquat
from detectors.rules.model import rule_from_dict
from detectors.rules.testing import run_rule
from detectors.rules.typosquat import canonical, distance, installed_by, module_of, near_miss, package_of
from trustcheck.errors import TrustcheckError


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("requests", "requests", 0),
        ("reqeusts", "requests", 1),  # neighbours swapped: one step in Damerau-Levenshtein
        ("requets", "requests", 1),
        ("requestss", "requests", 1),
        ("rewuests", "requests", 1),
        ("ca", "abc", 3),  # optimal string alignment, not unrestricted Damerau: no edit of a swapped pair
        ("", "abc", 3),
        ("matplotlib", "matplolibb", 2),
    ],
)
def test_distance(a: str, b: str, expected: int) -> None:
    assert distance(a, b, 5) == expected


def test_distance_stops_early_past_the_limit() -> None:
    assert distance("numpy", "pandas", 1) == 2
    assert distance("a" * 30, "b" * 30, 2) == 3


@given(st.text(alphabet="abcde-", max_size=8), st.text(alphabet="abcde-", max_size=8))
def test_distance_is_symmetric_and_bounded(a: str, b: str) -> None:
    d = distance(a, b, 20)
    assert d == distance(b, a, 20)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
    assert (d == 0) == (a == b)


def test_canonical_follows_pep503_for_pypi_only() -> None:
    assert canonical("Python_Dateutil", "pypi") == "python-dateutil"
    assert canonical("zope.interface", "pypi") == "zope-interface"
    assert canonical("lodash.merge", "npm") == "lodash.merge"  # its own npm package


@pytest.mark.parametrize(
    ("name", "ecosystem", "kind", "resembles", "how"),
    [
        ("reqeusts", "pypi", "package", "requests", "edit"),
        ("python-requests", "pypi", "package", "requests", "affix"),
        ("colourama", "pypi", "package", "colorama", "edit"),
        ("skleran", "pypi", "module", "sklearn", "edit"),
        ("pyyml", "pypi", "module", "pyyaml", "edit"),  # a slip on the distribution name counts too
        ("numpyy", "pypi", "module", "numpy", "edit"),
        ("lodahs", "npm", "package", "lodash", "edit"),
        ("crossenv", "npm", "package", "cross-env", "edit"),
        ("reactjs", "npm", "package", "react", "affix"),
        ("@bable/core", "npm", "package", "@babel/core", "edit"),
    ],
)
def test_near_misses(name: str, ecosystem: str, kind: str, resembles: str, how: str) -> None:
    miss = near_miss(name, ecosystem, kind)
    assert miss is not None and (miss.resembles, miss.how) == (resembles, how)


@pytest.mark.parametrize(
    ("name", "ecosystem", "kind"),
    [
        ("requests", "pypi", "package"),
        ("Requests", "pypi", "package"),  # case never matters on PyPI
        ("python_dateutil", "pypi", "package"),  # the same PyPI name as python-dateutil
        ("yaml", "pypi", "module"),  # import name of pyyaml
        ("bs4", "pypi", "module"),
        ("sklearn", "pypi", "module"),
        ("flask_cors", "pypi", "module"),  # a whole extra segment: a plugin
        ("jinja", "pypi", "module"),  # a version sibling of jinja2
        ("smdistributed", "pypi", "module"),  # a word glued on
        ("grequests", "pypi", "module"),  # first letter added that is no keyboard neighbour
        ("path", "pypi", "module"),  # under five letters: too dense to judge
        ("fs", "npm", "package"),
        ("child_process", "npm", "package"),
        ("lodash.merge", "npm", "package"),
        ("@babel/cor", "npm", "package"),  # inside @babel's own scope: the owner's package
    ],
)
def test_not_near_misses(name: str, ecosystem: str, kind: str) -> None:
    assert near_miss(name, ecosystem, kind) is None


def test_stdlib_modules_are_never_reported() -> None:
    assert [m for m in sorted(sys.stdlib_module_names) if near_miss(m, "pypi", "module")] == []


def test_popular_names_are_never_reported() -> None:
    for ecosystem in ("pypi", "npm"):
        for row in typosquat._read(f"popular-{ecosystem}.txt"):
            assert near_miss(row[0], ecosystem, "package") is None, row


@pytest.mark.parametrize(
    ("spec", "ecosystem", "expected"),
    [
        ("requests>=2.31; python_version>'3.8'", "pypi", "requests"),
        ("scikit-learn[alldeps]==1.5", "pypi", "scikit-learn"),
        ("lodash/fp", "npm", "lodash"),
        ("@scope/pkg/sub/path", "npm", "@scope/pkg"),
        ("lodash@4.17.21", "npm", "lodash"),
        ("@babel/core@7", "npm", "@babel/core"),
        ("./local", "npm", None),
        ("node:fs", "npm", None),
        ("https://esm.sh/react", "npm", None),
        ("@/components/x", "npm", None),
    ],
)
def test_package_of(spec: str, ecosystem: str, expected: str | None) -> None:
    assert package_of(spec, ecosystem) == expected


def test_module_of() -> None:
    assert module_of("numpy.linalg") == "numpy"
    assert module_of("_socket") is None
    assert module_of("") is None


def test_installed_by_reads_install_commands_only() -> None:
    line = "pip install -U -r req.txt reqeusts==2 ./src && npm i --save lodahs@4 @bable/core; git add numpyy"
    assert installed_by(line) == [("pypi", "reqeusts"), ("npm", "lodahs"), ("npm", "@bable/core")]
    assert installed_by('[sys.executable, "-m", "pip", "install", "colourama"]') == [("pypi", "colourama")]
    assert installed_by("echo install reqeusts") == []


def helper_rule(where: dict, query: str = "(import_statement name: (dotted_name) @name) @match") -> object:
    return rule_from_dict(
        {
            "id": "py-test-typosquat", "languages": ["python"], "severity": "high", "confidence": "medium",
            "cwe": "CWE-829", "message": "{name} looks like {resembles} ({distance})", "query": query,
            "where": [{"typosquat": where}], "docs": {"what": "w", "why": "w", "use_instead": "w", "references": ["r"]},
            "examples": {"match": ["x"], "no_match": ["y"]},
        }
    )


def test_helper_fills_message_and_evidence() -> None:
    found = run_rule(helper_rule({"capture": "name", "ecosystem": "pypi", "kind": "module"}), "import os\nimport reqeusts.adapters\n")
    assert [(f.line, f.message) for f in found] == [(2, "reqeusts looks like requests (1)")]
    assert found[0].evidence == {"name": "reqeusts", "resembles": "requests", "distance": 1, "how": "edit", "difference": "1 edit"}


def test_helper_ignores_variables() -> None:
    query = "(call function: (identifier) @fn arguments: (argument_list . (_) @name)) @match"
    r = helper_rule({"capture": "name", "ecosystem": "pypi", "kind": "module"}, query)
    assert [f.line for f in run_rule(r, 'numpyy = "x"\n__import__(numpyy)\n__import__("numpyy")\n')] == [3]


@pytest.mark.parametrize(
    "spec",
    [{"ecosystem": "cargo"}, {"ecosystem": "npm", "kind": "module"}, {"ecosystem": "pypi", "from": "file"}],
)
def test_helper_rejects_bad_options(spec: dict) -> None:
    with pytest.raises(TrustcheckError, match="typosquat"):
        helper_rule(spec)
