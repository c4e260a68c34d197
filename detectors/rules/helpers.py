"""The `where:` helpers: named conditions a rule adds to its tree-sitter query.

Each helper is compiled once, at rule load, into a predicate over (file context, captures); the
vocabulary is documented in HELPERS.md. Helpers see only matched nodes, so their cost is paid
per match, never per node of the file.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from tree_sitter import Node

from detectors.rules.generic import CALL_FUNCTION_FIELDS, GenericFile
from detectors.rules.prefilter import text_prefilter
from detectors.rules.python_dataflow import UNKNOWN, PythonFile
from detectors.rules.typosquat import typosquat_helper
from trustcheck.errors import TrustcheckError

Captures = dict[str, list[Node]]
Predicate = Callable[["FileContext", Captures], bool]

CALL_TYPES = frozenset({"call", *CALL_FUNCTION_FIELDS})
_NAME_TYPES = frozenset({"identifier", "attribute", "member_expression", "selector_expression", "scoped_identifier"})
_STRINGISH = frozenset({"string", "template_string", "interpreted_string_literal", "raw_string_literal", "raw_string", "concatenated_string"})
MAX_CONTAINS_NODES = 5000
MAX_ANCESTORS = 500
MAX_EXPAND = 64  # widening stops here: keeps adversarial 5,000-term concatenations linear


class FileContext:
    """Per-file state shared by every match: the resolver is built only if a helper asks."""

    def __init__(self, content: bytes, root: Node, language: str):
        self.content = content
        self.root = root
        self.language = language
        self._resolver: PythonFile | GenericFile | None = None
        self._call_names: set[str] | None = None
        self._text: str | None = None
        self.memo: dict[tuple[object, int], bool] = {}  # helpers' per-file results (node ids)
        self.evidence: dict[str, Any] | None = None  # what a helper found (typosquat), for the finding

    @property
    def resolver(self) -> PythonFile | GenericFile:
        if self._resolver is None:
            self._resolver = PythonFile(self.root) if self.language == "python" else GenericFile(self.root, self.language)
        return self._resolver

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.content.decode("utf-8", errors="replace")
        return self._text

    def call_names(self) -> set[str]:
        """Resolved names of every call in the file (for `file_has`)."""
        if self._call_names is None:
            import tree_sitter

            from detectors.rules.engine import calls_query

            names: set[str] = set()
            for node in tree_sitter.QueryCursor(calls_query(self.language)).captures(self.root).get("call", []):
                name = self.resolver.callee(node)
                if name:
                    names.add(name)
            self._call_names = names
        return self._call_names


def _translate(pattern: str) -> str:
    """fnmatch-style pattern -> regex where `*`/`?` do not cross a call's `()`: `requests.*`
    matches `requests.get` but not `requests.get().json` (write `requests.*().*` for that)."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^()]*")
        elif char == "?":
            out.append("[^()]")
        elif char == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append(f"[^{body[1:]}]" if body.startswith("!") else f"[{body}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out) + r"\Z"


class NamePattern:
    """A name-pattern regex compiled on first `match`. Most rules never reach their helpers on a
    given file, and compiling every pattern of the pack up front was most of a one-file scan's
    start-up. Translated globs always compile, so deferring loses no load-time validation."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str):
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    def match(self, name: str) -> re.Match[str] | None:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled.match(name)


@functools.cache
def name_regex(patterns: tuple[str, ...]) -> NamePattern:
    """One regex for a tuple of name patterns (cached, compiled on first use)."""
    return NamePattern("|".join(f"(?:{_translate(p)})" for p in patterns))


def _patterns(spec: dict[str, Any], key: str) -> NamePattern | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TrustcheckError(f"{key}: expected a list of name patterns")
    return name_regex(tuple(value))


class LazyRegex:
    """A helper's regex, compiled on first `search` when its rule was validated before (the
    engine compiles `where:` lists of loaded rules, which `rule_from_dict` already checked; the
    rule cache skips that check, and most rules' helpers never run on a given file)."""

    __slots__ = ("_compiled", "_may", "source")

    def __init__(self, source: str, compiled: re.Pattern[str] | None = None):
        self.source = source
        self._compiled = compiled
        self._may: Callable[[str], bool] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        if self._may is None:
            if self._compiled is None:
                self._compiled = re.compile(self.source)
            # Most texts hold none of the regex's required literals: `in` rejects them at
            # memchr speed, where a regex such as `(?is)(exec|eval)\s*\(.{0,200}(urlopen|...)`
            # tries every branch at every position (seconds over a large tree).
            self._may = text_prefilter(self._compiled) or _ALWAYS
        if not self._may(text):
            return None
        return self._compiled.search(text)  # type: ignore[union-attr]


def _ALWAYS(text: str) -> bool:
    return True


_VALIDATE = [True]  # compile_where(validate=...) for the helper factories it calls


def _regex(spec: dict[str, Any], key: str) -> LazyRegex | None:
    value = spec.get(key)
    if value is None:
        return None
    if not _VALIDATE[-1]:
        return LazyRegex(str(value))
    try:
        return LazyRegex(str(value), re.compile(str(value)))
    except re.error as exc:
        raise TrustcheckError(f"{key}: bad regex {value!r}: {exc}") from None


def _as_text(value: Any) -> str | None:
    if value is UNKNOWN:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def _node_text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


def _equal(value: Any, expected: Any) -> bool:
    """YAML scalar equality that keeps True apart from 1; text compares to text."""
    if value is UNKNOWN:
        return False
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    return bool(value == expected) or _as_text(value) == str(expected)


_ARG = re.compile(r"^arg(\d)$")


def _nodes(ctx: FileContext, caps: Captures, name: str) -> list[Node] | None:
    """The nodes of capture `name`. When the query does not capture them, `args` is the argument
    list of the @match call and `arg0`..`arg9` its positional arguments, so rules can share one
    plain call pattern (one match per call for all of them)."""
    nodes = caps.get(name)
    if nodes is None and name == "args":
        match = caps.get("match")
        if match and match[0].type in CALL_TYPES:
            arglist = match[0].child_by_field_name("arguments")
            return [arglist] if arglist is not None else None
    if nodes is None and name.startswith("arg"):
        index = _ARG.match(name)
        match = caps.get("match")
        if index and match and match[0].type in CALL_TYPES:
            args = ctx.resolver.positional(match[0])
            position = int(index.group(1))
            return [args[position]] if position < len(args) else None
    return nodes


def _capture(spec: dict[str, Any]) -> str:
    return str(spec.get("capture", "match"))


_IS = {"present", "absent", "truthy", "falsy", "constant", "nonconstant"}


def _value_condition(spec: dict[str, Any]) -> Callable[[FileContext, Node | None], bool]:
    """Shared by `value` and `kwarg`: conditions on one expression node (None = not passed)."""
    is_ = spec.get("is", "present")
    if is_ not in _IS:
        raise TrustcheckError(f"is: {is_!r} is not one of {sorted(_IS)}")
    has_equals = "equals" in spec
    equals = spec.get("equals")
    regex = _regex(spec, "regex")
    names = _patterns(spec, "names")
    expand = bool(spec.get("expand", False))
    mask = spec.get("mask")
    if mask is not None and not isinstance(mask, int):
        raise TrustcheckError("mask: expected an integer (e.g. 0o002)")

    token = object()  # this condition's key in the per-file memo

    def check(ctx: FileContext, node: Node | None) -> bool:
        if node is None:
            return is_ == "absent"
        if is_ == "absent":
            return False
        if expand:
            node = _outermost_expression(node)
        if regex is None:
            return judge(ctx, node)
        # A regex over a folded value is the costly case, and with `expand` every fragment of a
        # long concatenation widens to the same node: judge each node once per file.
        key = (token, node.id)
        found = ctx.memo.get(key)
        if found is None:
            found = ctx.memo[key] = judge(ctx, node)
        return found

    def judge(ctx: FileContext, node: Node) -> bool:
        need_value = is_ in ("truthy", "falsy", "constant", "nonconstant") or has_equals or regex is not None or mask is not None
        value = ctx.resolver.fold(node) if need_value else UNKNOWN
        if is_ == "truthy" and (value is UNKNOWN or not value):
            return False
        if is_ == "falsy" and (value is UNKNOWN or value):
            return False
        if is_ == "constant" and value is UNKNOWN:
            return False
        if is_ == "nonconstant" and value is not UNKNOWN:
            return False
        if has_equals and not _equal(value, equals):
            return False
        if mask is not None and not (isinstance(value, int) and value & mask):
            return False
        if regex is not None:
            text = _as_text(value)
            if text is None:
                text = _node_text(node)
            if not regex.search(text):
                return False
        if names is not None:
            name = ctx.resolver.callee(node) if node.type in CALL_TYPES else ctx.resolver.dotted(node, 0)
            if not name or not names.match(name):
                return False
        return True

    return check


_BUILDERS = frozenset({"binary_operator", "concatenated_string", "parenthesized_expression", "binary_expression", "concatenation"})


def _outermost_expression(node: Node) -> Node:
    """The largest string-building expression (`a + b`, `"a" "b"`, parentheses) around `node`."""
    for _ in range(MAX_EXPAND):
        parent = node.parent
        if parent is None or parent.type not in _BUILDERS:
            break
        node = parent
    return node


def _callee(spec: dict[str, Any], language: str) -> Predicate:
    cap = _capture(spec)
    names = _patterns(spec, "names")
    if names is None:
        raise TrustcheckError("callee: needs names")

    def pred(ctx: FileContext, caps: Captures) -> bool:
        nodes = _nodes(ctx, caps, cap)
        if not nodes:
            return False
        name = ctx.resolver.callee(nodes[0])
        return name is not None and names.match(name) is not None

    return pred


def _kwarg(spec: dict[str, Any], language: str) -> Predicate:
    cap = _capture(spec)
    name = spec.get("name")
    position = spec.get("position")
    if name is None and position is None:
        raise TrustcheckError("kwarg/arg: needs name or position")
    if position is not None and not isinstance(position, int):
        raise TrustcheckError("kwarg/arg: position is a 0-based integer")
    check = _value_condition({k: v for k, v in spec.items() if k not in ("name", "position")})

    def pred(ctx: FileContext, caps: Captures) -> bool:
        nodes = _nodes(ctx, caps, cap)
        if not nodes:
            return False
        call = nodes[0]
        if call.type not in CALL_TYPES and call.parent is not None and call.parent.type in CALL_TYPES:
            call = call.parent
        return check(ctx, ctx.resolver.argument(call, name, position))

    return pred


def _value(spec: dict[str, Any], language: str) -> Predicate:
    cap = _capture(spec)
    check = _value_condition(spec)

    def pred(ctx: FileContext, caps: Captures) -> bool:
        nodes = _nodes(ctx, caps, cap)
        return check(ctx, nodes[0] if nodes else None)

    return pred


def _regex_helper(spec: dict[str, Any], language: str) -> Predicate:
    cap = _capture(spec)
    pattern = _regex(spec, "pattern")
    if pattern is None:
        raise TrustcheckError("regex: needs pattern")
    on = spec.get("on", spec.get(True, "text"))  # type: ignore[call-overload]  # YAML 1.1 reads `on` as True
    if on not in ("text", "value", "nfkc", "line"):
        raise TrustcheckError("regex: on is text, value, nfkc or line")

    def pred(ctx: FileContext, caps: Captures) -> bool:
        nodes = _nodes(ctx, caps, cap)
        if not nodes:
            return False
        node = nodes[0]
        if on == "value":
            text = _as_text(ctx.resolver.fold(node))
        elif on == "nfkc":
            text = unicodedata.normalize("NFKC", _node_text(node))
        elif on == "line":  # the full source line(s) the capture spans
            start = ctx.content.rfind(b"\n", 0, node.start_byte) + 1
            end = ctx.content.find(b"\n", node.end_byte)
            text = ctx.content[start : end if end >= 0 else len(ctx.content)].decode("utf-8", errors="replace")
        else:
            text = _node_text(node)
        return text is not None and pattern.search(text) is not None

    return pred


def _inside(spec: dict[str, Any], language: str) -> Predicate:
    cap = _capture(spec)
    types = spec.get("types")
    types = frozenset([types] if isinstance(types, str) else types or ())
    names = _patterns(spec, "callee")
    if not types and names is None:
        raise TrustcheckError("inside: needs types or callee")

    def pred(ctx: FileContext, caps: Captures) -> bool:
        nodes = _nodes(ctx, caps, cap)
        if not nodes:
            return False
        node = nodes[0].parent
        for _ in range(MAX_ANCESTORS):
            if node is None:
                return False
            if names is not None:
                if node.type in CALL_TYPES and (not types or node.type in types):
                    name = ctx.resolver.callee(node)
                    if name and names.match(name):
                        return True
            elif node.type in types:
                return True
            node = node.parent
        return False

    return pred


def _contains(spec: dict[str, Any], language: str) -> Predicate:
    cap = _capture(spec)
    callee = _patterns(spec, "callee")
    names = _patterns(spec, "names")
    regex = _regex(spec, "regex")
    follow = bool(spec.get("follow", True))
    types = spec.get("types")
    types = frozenset([types] if isinstance(types, str) else types or ())
    if callee is None and names is None and regex is None and not types:
        raise TrustcheckError("contains: needs callee, names, regex or types")

    def pred(ctx: FileContext, caps: Captures) -> bool:
        nodes = _nodes(ctx, caps, cap)
        if not nodes:
            return False
        resolver = ctx.resolver
        if regex is not None:
            text = _as_text(resolver.fold(nodes[0]))
            if text is not None and regex.search(text):
                return True
        stack: list[tuple[Node, int]] = [(nodes[0], 0)]
        seen = 0
        while stack and seen < MAX_CONTAINS_NODES:
            node, hops = stack.pop()
            seen += 1
            kind = node.type
            if kind in types:
                return True
            if callee is not None and kind in CALL_TYPES:
                name = resolver.callee(node)
                if name and callee.match(name):
                    return True
            if names is not None and kind in _NAME_TYPES:
                name = resolver.dotted(node, 0)
                if name and names.match(name):
                    return True
            if regex is not None and kind in _STRINGISH:
                text = _as_text(resolver.fold(node))
                if text is not None and regex.search(text):
                    return True
            if kind == "identifier" and follow and hops < 3:
                stack.extend((rhs, hops + 1) for rhs in resolver.sources(node))
            stack.extend((child, hops) for child in node.children)
        return False

    return pred


def _file_has(spec: dict[str, Any], language: str) -> Predicate:
    callee = _patterns(spec, "callee")
    regex = _regex(spec, "regex")
    if callee is None and regex is None:
        raise TrustcheckError("file_has: needs callee or regex")

    def pred(ctx: FileContext, caps: Captures) -> bool:
        if regex is not None and not regex.search(ctx.text):
            return False
        return not (callee is not None and not any(callee.match(n) for n in ctx.call_names()))

    return pred


def _not(spec: Any, language: str) -> Predicate:
    inner = compile_helper(spec, language)
    return lambda ctx, caps: not inner(ctx, caps)


def _any(spec: Any, language: str) -> Predicate:
    if not isinstance(spec, list) or not spec:
        raise TrustcheckError("any: expects a non-empty list of helpers")
    inner = [compile_helper(s, language) for s in spec]
    return lambda ctx, caps: any(p(ctx, caps) for p in inner)


def _all(spec: Any, language: str) -> Predicate:
    if not isinstance(spec, list) or not spec:
        raise TrustcheckError("all: expects a non-empty list of helpers")
    inner = [compile_helper(s, language) for s in spec]
    return lambda ctx, caps: all(p(ctx, caps) for p in inner)


def _not_inside(spec: Any, language: str) -> Predicate:
    inner = _inside(spec, language)
    return lambda ctx, caps: not inner(ctx, caps)


HELPERS: dict[str, Callable[[Any, str], Predicate]] = {
    "callee": _callee,
    "kwarg": _kwarg,
    "arg": _kwarg,
    "value": _value,
    "regex": _regex_helper,
    "inside": _inside,
    "not_inside": _not_inside,
    "contains": _contains,
    "file_has": _file_has,
    "typosquat": typosquat_helper,
    "not": _not,
    "any": _any,
    "all": _all,
}
_NESTED = ("not", "any", "all")


def compile_helper(item: Any, language: str) -> Predicate:
    if not isinstance(item, dict) or len(item) != 1:
        raise TrustcheckError(f"each helper is a one-key mapping like {{callee: {{...}}}}, got {item!r}")
    (name, spec), = item.items()
    factory = HELPERS.get(name)
    if factory is None:
        raise TrustcheckError(f"unknown helper {name!r} (known: {', '.join(HELPERS)})")
    if name not in _NESTED and not isinstance(spec, dict):
        raise TrustcheckError(f"{name}: expects a mapping of options")
    try:
        return factory(spec, language)
    except TrustcheckError as exc:
        raise TrustcheckError(f"{name}: {exc}") from None


def compile_where(items: tuple[Any, ...] | list[Any], language: str, *, validate: bool = True) -> list[Predicate]:
    """Compile a rule's `where:` list (all must hold). `validate=False` (for rules already
    validated by the loader) defers compiling helper regexes to their first use."""
    _VALIDATE.append(validate)
    try:
        return [compile_helper(item, language) for item in items]
    finally:
        _VALIDATE.pop()
