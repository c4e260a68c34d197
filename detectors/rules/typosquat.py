"""Typosquat look-up: is a package or module name a near miss of a popular one?

The popular names ship in `detectors/rules/data/popular-{pypi,npm}.txt`. A name is reported when
it is not popular itself (nor a standard-library or Node built-in module) and either

- equals a popular name once a decorative affix is dropped (`python-requests`, `py-yaml`,
  `reactjs`, `node-lodash`), or
- is within Damerau-Levenshtein distance (optimal string alignment: one insertion, deletion,
  substitution or swap of neighbours per step) of a popular name: 1 for names of 5-9
  characters, 2 from 10 characters on. Names under 5 characters are too dense to judge
  (`mock`/`lock`/`rock`), so they are never targets.

A name that extends a popular one by a whole segment (`flask-cors`, `pytest-xdist`,
`lodash.merge`) or differs only in a trailing version number (`jinja`/`jinja2`) is a plugin or
sibling package, not a near miss. Look-ups are cached per name;
candidates are bucketed by first and last character (one edit keeps at least one of them).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tree_sitter import Node

from trustcheck.errors import TrustcheckError

DATA = Path(__file__).with_name("data")
MIN_TARGET = 5  # shorter popular names are never targets
LONG_NAME = 10  # from this length on, two edits are still a near miss

# Node's built-in modules (`require('module').builtinModules`, Node 18+), which need no install.
NODE_BUILTINS = frozenset(
    [
        "assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants",
        "crypto", "dgram", "diagnostics_channel", "dns", "domain", "events", "fs", "http", "http2",
        "https", "inspector", "module", "net", "os", "path", "perf_hooks", "process", "punycode",
        "querystring", "readline", "repl", "stream", "string_decoder", "sys", "timers", "tls",
        "trace_events", "tty", "url", "util", "v8", "vm", "wasi", "worker_threads", "zlib", "test",
    ]
)
_PREFIXES = {"pypi": ("python3-", "python-", "py-"), "npm": ("node-", "js-")}
_SUFFIXES = {"pypi": ("-python3", "-python", "-py"), "npm": ("-js", ".js", "js", "-node")}
_NPM_NAME = re.compile(r"^(?:@[a-z0-9~][a-z0-9._~-]*/)?[a-z0-9~][a-z0-9._~-]*$")
_PY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PIP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclasses.dataclass(frozen=True)
class NearMiss:
    """`name` looks like the popular `resembles` (`distance` edits; 0 for an added affix)."""

    name: str
    resembles: str
    distance: int
    how: str  # "edit" or "affix"

    @property
    def difference(self) -> str:
        """The difference in words, for messages: `1 edit`, `2 edits`, `an added affix`."""
        if self.how == "affix":
            return "an added affix"
        return f"{self.distance} edit" + ("s" if self.distance > 1 else "")


@dataclasses.dataclass(frozen=True)
class _Index:
    known: frozenset[str]  # canonical forms never reported
    targets: dict[str, str]  # canonical target -> name as listed
    by_edge: dict[str, tuple[str, ...]]  # "f:x" / "l:x" -> canonical targets starting / ending with x


def canonical(name: str, ecosystem: str) -> str:
    """Comparison form: lower case; for PyPI also `-`, `_` and `.` runs as one `-` (PEP 503,
    so `python_dateutil` is `python-dateutil`). npm keeps dots: `lodash.merge` is its own package."""
    name = name.strip().lower()
    return re.sub(r"[-_.]+", "-", name) if ecosystem == "pypi" else name


def _read(name: str) -> list[list[str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            rows.append(line.split())
    return rows


@functools.cache
def _index(ecosystem: str, kind: str) -> _Index:
    """The look-up tables for `ecosystem` (pypi|npm) and `kind` (package: names as installed;
    module: Python import names)."""
    known: set[str] = set()
    targets: dict[str, str] = {}
    for row in _read(f"popular-{ecosystem}.txt"):
        dist, modules = row[0], row[1:] or [row[0].replace("-", "_")]
        # Python code imports modules, but a look-alike of the distribution name (`pyyml`) is
        # as telling as one of the module name (`yamll`)
        names = [*modules, dist.replace("-", "_")] if kind == "module" else [dist]
        known.update(canonical(n, ecosystem) for n in (dist, *modules))
        for n in names:
            targets.setdefault(canonical(n, ecosystem), n)
    if ecosystem == "pypi" and kind == "module":
        known.update(canonical(n, ecosystem) for n in sys.stdlib_module_names)
    if ecosystem == "npm":
        known.update(NODE_BUILTINS)
    edges: dict[str, list[str]] = {}
    for target in targets:
        if len(target) >= MIN_TARGET:
            edges.setdefault("f:" + target[0], []).append(target)
            edges.setdefault("l:" + target[-1], []).append(target)
    return _Index(frozenset(known), targets, {k: tuple(v) for k, v in edges.items()})


def distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) between `a` and `b`, or
    `limit + 1` as soon as it is certain to exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)  # neighbours swapped
            current[j] = best
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _limit(target: str) -> int:
    return 2 if len(target) >= LONG_NAME else 1


def _extends(name: str, target: str) -> bool:
    """`name` is `target` plus whole segments (`flask-cors`, `lodash.merge`, `cors-flask`)."""
    if name.startswith(target) and name[len(target) : len(target) + 1] in ("-", ".", "/"):
        return True
    return name.endswith(target) and name[-len(target) - 1 : -len(target)] in ("-", ".", "/")


def _strip_affixes(name: str, ecosystem: str) -> list[str]:
    out = [name[len(p) :] for p in _PREFIXES[ecosystem] if name.startswith(p) and len(name) > len(p)]
    out += [name[: -len(s)] for s in _SUFFIXES[ecosystem] if name.endswith(s) and len(name) > len(s)]
    return out


@functools.lru_cache(maxsize=8192)
def near_miss(name: str, ecosystem: str, kind: str = "package") -> NearMiss | None:
    """The popular name that `name` imitates, or None. `ecosystem` is `pypi` or `npm`; `kind`
    is `package` (a distribution name as given to pip/npm) or `module` (a Python import name)."""
    index = _index(ecosystem, kind)
    cand = canonical(name, ecosystem)
    if not cand or cand in index.known:
        return None
    if ecosystem == "npm" and cand.startswith("@"):
        return _scoped(cand, index)
    for stripped in _strip_affixes(cand, ecosystem):
        target = stripped.strip("-")
        if target in index.targets and len(target) >= 3:
            return NearMiss(name, index.targets[target], 0, "affix")
    if len(cand) < MIN_TARGET:
        return None
    best: tuple[int, str] | None = None
    seen: set[str] = set()
    for key in ("f:" + cand[0], "l:" + cand[-1]):
        for target in index.by_edge.get(key, ()):
            if target in seen:
                continue
            seen.add(target)
            limit = _limit(target)
            if abs(len(target) - len(cand)) > limit or not _plausible_slip(cand, target):
                continue
            found = distance(cand, target, limit)
            if found <= limit and (best is None or found < best[0]):
                best = (found, target)
    if best is None:
        return None
    return NearMiss(name, index.targets[best[1]], best[0], "edit")


def _plausible_slip(cand: str, target: str) -> bool:
    """False for differences that name a different project rather than mistype this one: a
    whole extra segment (`flask-cors`), a trailing version number (`jinja`/`jinja2`), a word
    glued on (`smdistributed`), or a first letter added or changed to one that is no
    keyboard neighbour (`grequests`, `uarray` vs `xarray`): typosquats copy slips of the
    finger, which repeat, drop, swap or hit a neighbouring key."""
    if _extends(cand, target) or _extends(target, cand):
        return False
    if cand.rstrip("0123456789") == target.rstrip("0123456789"):
        return False
    if abs(len(cand) - len(target)) >= 2 and (target in cand or cand in target):
        return False
    first_changed = cand[1:] == target or (cand[1:] == target[1:] and len(cand) == len(target))
    return not first_changed or cand[0] == target[0] or cand[0] in _NEIGHBOURS.get(target[0], "")


def _keyboard_neighbours() -> dict[str, str]:
    """Keys touching each key on a QWERTY keyboard (each row sits half a key right of the one
    above: key c touches c-1 and c below it, c and c+1 above it)."""
    rows = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")
    out: dict[str, str] = {}
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            near = row[max(c - 1, 0) : c] + row[c + 1 : c + 2]
            if r > 0:
                near += rows[r - 1][c : c + 2]
            if r + 1 < len(rows):
                near += rows[r + 1][max(c - 1, 0) : c + 1]
            out[key] = near
    return out


_NEIGHBOURS = _keyboard_neighbours()  # QWERTY keys around each key


def _scoped(cand: str, index: _Index) -> NearMiss | None:
    """Scoped npm names: a scope is owned, so only a look-alike *scope* imitates (`@bable/core`);
    any package inside a popular package's own scope is that owner's."""
    scope = cand.split("/", 1)[0]
    owned = {t.split("/", 1)[0] for t in index.targets if t.startswith("@")}
    if scope in owned:
        return None
    for target in index.targets:
        if target.startswith("@"):
            limit = _limit(target)
            found = distance(cand, target, limit)
            if found <= limit:
                return NearMiss(cand, index.targets[target], found, "edit")
    return None


def package_of(spec: str, ecosystem: str) -> str | None:
    """The package a dependency spec or import string names, or None for what is no package:
    `requests>=2; python_version<'4'` -> requests; `lodash/fp` -> lodash; `@a/b/c` -> @a/b;
    `lodash@4` -> lodash; relative and absolute paths, URLs, `node:` built-ins -> None."""
    spec = spec.strip()
    if ecosystem == "npm":
        if not spec or spec.startswith((".", "/", "node:", "#", "~")) or "://" in spec:
            return None
        scoped = spec.startswith("@")
        parts = spec.split("/")
        name = "/".join(parts[:2]) if scoped else parts[0]
        name = "@" + name[1:].split("@", 1)[0] if scoped else name.split("@", 1)[0]  # drop `@version`
        return name if _NPM_NAME.match(name) and (not scoped or "/" in name) else None
    found = _PIP_NAME.match(spec)
    return found.group(0) if found else None


def module_of(name: str) -> str | None:
    """The top-level module of an absolute Python import (`a.b.c` -> `a`); None for relative
    (`.x`), private (`_x`) or malformed names."""
    top = name.strip().split(".", 1)[0]
    if not top or top.startswith("_") or not _PY_NAME.match(top):
        return None
    return top


_OPTION_WITH_VALUE = frozenset(
    [
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
        "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--src",
        "--python", "--registry", "--cache", "--userconfig", "-w", "--workspace",
    ]
)
_INSTALLERS = {"pip": "pypi", "pip3": "pypi", "pipx": "pypi", "npm": "npm", "yarn": "npm", "pnpm": "npm"}
_SUBCOMMANDS = frozenset({"install", "add", "i"})
_SEPARATORS = frozenset({";", "&&", "||", "|", "&"})


def installed_by(command: str) -> list[tuple[str, str]]:
    """(ecosystem, package) for each package that a `pip install` / `npm install` (`yarn add`,
    `pnpm add`, `npm i`) in `command` installs: the words after the sub-command up to a shell
    separator, minus options and their values, paths, URLs and version pins. `command` may be a
    shell line or the source text of an argument list (`["pip", "install", "x"]`)."""
    words = re.findall(r"[;&|]+|[^\s'\",\[\]();&|]+", command)
    out: list[tuple[str, str]] = []
    ecosystem: str | None = None
    skip = False
    for i, word in enumerate(words):
        if word in _SEPARATORS:
            ecosystem = None
        elif ecosystem is None:
            if word in _SUBCOMMANDS and i > 0 and words[i - 1].rsplit("/", 1)[-1] in _INSTALLERS:
                ecosystem = _INSTALLERS[words[i - 1].rsplit("/", 1)[-1]]
        elif skip:
            skip = False
        elif word in _OPTION_WITH_VALUE:
            skip = True
        elif not word.startswith(("-", ".", "/", "$")) and "://" not in word:
            name = package_of(word, ecosystem)
            if name and (ecosystem == "npm" or "/" not in word):
                out.append((ecosystem, name))
    return out


# --- the `typosquat` where-helper -------------------------------------------------------------

_FROM = ("name", "command")


def typosquat_helper(spec: dict[str, Any], language: str) -> Callable[[Any, dict[str, list[Node]]], bool]:
    """Compile `{typosquat: {capture, ecosystem: pypi|npm, kind: package|module, from: name|command}}`.
    `from: name`: the capture (a string's folded value, else its source text) names one package
    or import; `from: command`: it is a command line or argument list, whose `pip install` /
    `npm install` arguments are checked. Holds when one of them is a near miss; the evidence
    (`name`, `resembles`, `distance`, `how`, `difference`) goes to `ctx.evidence` for the finding."""
    from detectors.rules.helpers import _as_text, _capture, _node_text, _nodes

    cap = _capture(spec)
    ecosystem = spec.get("ecosystem")
    kind = spec.get("kind", "package")
    source = spec.get("from", "name")
    if ecosystem not in ("pypi", "npm") or kind not in ("package", "module") or source not in _FROM:
        raise TrustcheckError("typosquat: ecosystem is pypi or npm, kind package or module, from name or command")
    if kind == "module" and ecosystem != "pypi":
        raise TrustcheckError("typosquat: kind module is for pypi (Python import names)")

    def names(text: str) -> list[tuple[str, str]]:
        if source == "command":
            return [(eco, n) for eco, n in installed_by(text) if eco == ecosystem]
        found = module_of(text) if kind == "module" else package_of(text, ecosystem)
        return [(ecosystem, found)] if found else []

    def pred(ctx: Any, caps: dict[str, list[Node]]) -> bool:
        nodes = _nodes(ctx, caps, cap)
        if not nodes:
            return False
        node = nodes[0]
        if node.type == "dotted_name":  # `import a.b`: the name is the source text
            text: str | None = _node_text(node)
        else:  # a string (folded) or, for commands, an argument list whose text still names the packages
            text = _as_text(ctx.resolver.fold(node))
            if text is None and source == "command":
                text = _node_text(node)
        if text is None:  # a variable: what it names is unknown
            return False
        for eco, name in names(text):
            miss = near_miss(name, eco, kind)
            if miss is not None:
                ctx.evidence = {**dataclasses.asdict(miss), "difference": miss.difference}
                return True
        return False

    return pred
