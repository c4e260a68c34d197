"""Anchors derived from a query's own text predicates.

Every pattern of the combined query costs tree-sitter work at every candidate node (about
0.1 CPU-s per pattern over the Python stdlib), even when its `#eq?`/`#any-of?`/`#match?`
predicate rejects all of them. But a match of `(... @m (#eq? @m "exec_command"))` contains a node
whose text is `exec_command`, so it overlaps an occurrence of those bytes in the file: exactly
what a rule's `anchor:` promises (see HELPERS.md). A query all of whose patterns carry such a
literal predicate therefore gets that anchor automatically, and runs only around the spots
where the literal occurs (and not at all in files without it).

Only predicates whose meaning is certain are used: a single (not quantified) capture, plain
string arguments, case-sensitive regexes with a required literal (prefilter.py).
"""

from __future__ import annotations

import re

import tree_sitter

from detectors.rules.prefilter import required_literals

_PREDICATE = re.compile(r'\(#(eq|any-of|match)\?\s+@([\w.-]+)((?:\s+"(?:[^"\\]|\\.)*")+)\s*\)')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ONE = ""  # what tree_sitter.Query.capture_quantifier says for a capture of exactly one node


def derived_anchor(query: tree_sitter.Query, text: str) -> tuple[bytes, ...] | None:
    """Literals one of which every match of `query` (compiled from `text`) overlaps, or None
    when some pattern has no usable literal predicate. A literal containing another is left
    out (each of its occurrences is one of the shorter one's)."""
    encoded = text.encode()
    literals: list[bytes] = []
    for index in range(query.pattern_count):
        if query.is_pattern_non_local(index):
            return None
        body = encoded[query.start_byte_for_pattern(index):query.end_byte_for_pattern(index)].decode()
        found = _pattern_literals(query, index, body)
        if found is None:
            return None
        literals.extend(found)
    unique = list(dict.fromkeys(literals))
    return tuple(lit for lit in unique if not any(other != lit and other in lit for other in unique))


def _pattern_literals(query: tree_sitter.Query, index: int, body: str) -> list[bytes] | None:
    """The best literal set among the pattern's predicates (each must hold, so any will do)."""
    captures = {query.capture_name(i): i for i in range(query.capture_count)}
    best: list[bytes] | None = None
    for kind, capture, args in _PREDICATE.findall(body):
        if capture not in captures or _quantifier(query, index, captures[capture]) != _ONE:
            continue
        strings = _STRING.findall(args)
        found = _literals(kind, strings)
        if found and (best is None or min(map(len, found)) > min(map(len, best))):
            best = found
    return best


def _quantifier(query: tree_sitter.Query, index: int, capture: int) -> str | None:
    """"" (exactly one node), "?", "*", "+"; None when the pattern does not use the capture."""
    try:
        return str(query.capture_quantifier(index, capture))
    except (SystemError, ValueError):
        return None


def _literals(kind: str, strings: list[str]) -> list[bytes] | None:
    if kind in ("eq", "any-of"):
        if (kind == "eq" and len(strings) != 1) or any(not s or "\\" in s for s in strings):
            return None
        return [s.encode() for s in strings]
    if len(strings) != 1 or re.search(r'\\[^\\"]', strings[0].replace("\\\\", "")):
        return None  # an escape whose meaning in a query string is not certain
    source = strings[0].replace("\\\\", "\0").replace('\\"', '"').replace("\0", "\\")
    try:
        found = required_literals(re.compile(source.encode()))
    except re.error:
        return None
    return [lit for lit in found] if found and all(found) else None
