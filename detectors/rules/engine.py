"""The rule engine: every rule of a language in ONE tree-sitter query, one cursor pass per file.

Rule queries are concatenated into a combined query per language (compiled once per process and
cached); a pattern's start byte tells which rule it came from. Only the matches then pay for the
Python-side `where:` helpers, and per-file context (the import-alias table, ...) is built lazily
the first time a matched rule needs it.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from typing import Iterable

import tree_sitter
from tree_sitter import Node

from detectors.languages import RULE_LANGUAGES, grammar, parser
from detectors.rules.helpers import FileContext, Predicate, compile_where
from detectors.rules.model import Rule, load_rules
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Finding
from trustcheck.sources import Source

MAX_SNIPPET_LINES = 8


@dataclasses.dataclass(frozen=True)
class _Group:
    """Rules compiled into one query; `starts[i]` is the byte where rule i's text begins."""

    query: tree_sitter.Query
    rules: tuple[Rule, ...]
    predicates: tuple[tuple[Predicate, ...], ...]
    pattern_rule: tuple[int, ...]  # pattern index -> index into rules
    requires: re.Pattern[bytes] | None = None


@functools.cache
def _combined(language: str, queries: tuple[str, ...]) -> tuple[tree_sitter.Query, tuple[int, ...]] | None:
    """One query for all `queries` (cached per process) and its pattern -> query-index map;
    None when the concatenation does not compile (the caller then compiles rules one by one)."""
    starts: list[int] = []
    text = ""
    for q in queries:
        starts.append(len(text.encode()))
        text += q.rstrip() + "\n"
    try:
        query = tree_sitter.Query(grammar(language), text)
    except (tree_sitter.QueryError, ValueError, NameError):
        return None
    mapping = tuple(bisect.bisect_right(starts, query.start_byte_for_pattern(i)) - 1 for i in range(query.pattern_count))
    return query, mapping


@functools.cache
def calls_query(language: str) -> tree_sitter.Query:
    """A query capturing every call-like node as @call (used by `file_has`)."""
    candidates = {"python": "(call) @call", "bash": "(command) @call", "go": "(call_expression) @call"}
    text = candidates.get(language, "(call_expression) @call (new_expression) @call")
    return tree_sitter.Query(grammar(language), text)


def _compiles(language: str, query: str) -> bool:
    return _combined(language, (query,)) is not None


def _build_groups(language: str, rules: list[Rule]) -> list[_Group]:
    applicable = set(RULE_LANGUAGES.get(language, (language,)))
    chosen = [r for r in rules if applicable.intersection(r.languages)]
    if language not in ("python",) and any(language not in r.languages for r in chosen):
        chosen = [r for r in chosen if language in r.languages or _compiles(language, r.query)]
    by_requires: dict[str | None, list[Rule]] = {}
    for rule in chosen:
        by_requires.setdefault(rule.requires, []).append(rule)
    groups = []
    for requires, members in by_requires.items():
        combined = _combined(language, tuple(r.query for r in members))
        if combined is None:  # one rule spoils the batch: fall back to one query per rule
            parts = [(r, _combined(language, (r.query,))) for r in members]
            parts_ok = [(r, c) for r, c in parts if c is not None]
            for rule, (query, mapping) in parts_ok:
                groups.append(_make_group(language, query, (rule,), mapping, requires))
            continue
        query, mapping = combined
        groups.append(_make_group(language, query, tuple(members), mapping, requires))
    return groups


def _make_group(language: str, query: tree_sitter.Query, rules: tuple[Rule, ...], mapping: tuple[int, ...],
                requires: str | None) -> _Group:
    predicates = tuple(tuple(compile_where(r.where, language)) for r in rules)
    gate = re.compile(requires.encode()) if requires else None
    return _Group(query, rules, predicates, mapping, gate)


class RuleDetector:
    """Runs a rule pack (default: the shipped one) over sources."""

    name = "rules"

    def __init__(self, rules: list[Rule] | None = None):
        self.rules = load_rules(None, compile_queries=False) if rules is None else list(rules)
        self._groups: dict[str, list[_Group]] = {}
        self._parsers: dict[str, tree_sitter.Parser] = {}

    def groups(self, language: str) -> list[_Group]:
        if language not in self._groups:
            self._groups[language] = _build_groups(language, self.rules)
        return self._groups[language]

    def detect(self, source: Source) -> list[Finding]:
        """Findings for one source, sorted by position. A file too deeply nested to analyse is a
        TrustcheckError naming it (the caller reports it as a per-file error)."""
        groups = self.groups(source.language)
        if not groups:
            return []
        try:
            return self._detect(source, groups)
        except RecursionError:
            raise TrustcheckError(f"{source.path}: too deeply nested to analyse") from None

    def _detect(self, source: Source, groups: list[_Group]) -> list[Finding]:
        content = source.content
        if source.language not in self._parsers:
            self._parsers[source.language] = parser(source.language)
        tree = self._parsers[source.language].parse(content)
        ctx = FileContext(content, tree.root_node, source.language)
        findings: list[Finding] = []
        seen: set[tuple[str, int, int]] = set()
        lines: list[bytes] | None = None
        for group in groups:
            if group.requires is not None and not group.requires.search(content):
                continue
            for pattern, caps in tree_sitter.QueryCursor(group.query).matches(tree.root_node):
                index = group.pattern_rule[pattern]
                rule = group.rules[index]
                match = caps.get("match")
                if not match:
                    continue
                node = match[0]
                key = (rule.id, node.start_byte, node.end_byte)
                if key in seen:
                    continue
                if not all(p(ctx, caps) for p in group.predicates[index]):
                    continue
                seen.add(key)
                if lines is None:
                    lines = content.split(b"\n")
                findings.append(_finding(rule, source.path, node, lines))
        findings.sort(key=lambda f: (f.line, f.column, f.rule_id))
        return findings


def _finding(rule: Rule, path: str, node: Node, lines: list[bytes]) -> Finding:
    (row, col), (end_row, end_col) = node.start_point, node.end_point
    first = lines[row] if row < len(lines) else b""
    last = lines[end_row] if end_row < len(lines) else b""
    snippet_rows = lines[row : min(end_row, row + MAX_SNIPPET_LINES - 1) + 1]
    snippet = b"\n".join(snippet_rows).decode("utf-8", errors="replace").rstrip("\r")
    return Finding(
        rule_id=rule.id,
        detector="rules",
        severity=rule.severity,
        confidence=rule.confidence,
        message=rule.message,
        path=path,
        line=row + 1,
        column=len(first[:col].decode("utf-8", errors="replace")) + 1,
        end_line=end_row + 1,
        end_column=len(last[:end_col].decode("utf-8", errors="replace")) + 1,
        cwe=rule.cwe,
        snippet=snippet,
    )


def test_rules(rules: Iterable[Rule]) -> list[str]:
    """Run every rule's embedded examples; return one line per failure (empty = all pass).
    `match` examples must give at least one finding of that rule, `no_match` examples none."""
    rules = list(rules)
    detector = RuleDetector(rules)
    failures: list[str] = []
    for rule in rules:
        language = rule.language
        if not _compiles(language, rule.query):
            failures.append(f"{rule.id}: query does not compile for {language}")
            continue
        for kind in ("match", "no_match"):
            for number, code in enumerate(rule.examples.get(kind, ()), 1):
                source = Source(f"<{rule.id} {kind} example {number}>", language, code.encode())
                try:
                    hits = [f for f in detector.detect(source) if f.rule_id == rule.id]
                except TrustcheckError as exc:
                    failures.append(f"{rule.id}: {kind} example {number}: {exc}")
                    continue
                if kind == "match" and not hits:
                    failures.append(f"{rule.id}: match example {number} produced no finding")
                elif kind == "no_match" and hits:
                    failures.append(
                        f"{rule.id}: no_match example {number} produced a finding at line {hits[0].line}: "
                        f"{hits[0].snippet.strip()[:80]}"
                    )
    return failures


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name
