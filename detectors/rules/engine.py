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
from collections.abc import Iterable

import tree_sitter
from tree_sitter import Node

from detectors.languages import RULE_LANGUAGES, grammar, parser
from detectors.rules.autoanchor import derived_anchor
from detectors.rules.helpers import FileContext, NamePattern, Predicate, compile_where
from detectors.rules.model import Rule, load_rules
from detectors.rules.prefilter import literal_alternation, prefilter
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Finding
from trustcheck.sources import Source

MAX_SNIPPET_LINES = 8


_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclasses.dataclass(frozen=True)
class _LeadNames:
    """A rule's required callee names, split for speed: exact names as a set (most are exact:
    `pickle.loads`), the glob patterns (`os.*`) as one lazily compiled regex."""

    exact: frozenset[str]
    globs: NamePattern | None

    @classmethod
    def of(cls, patterns: tuple[str, ...]) -> _LeadNames:
        from detectors.rules.helpers import name_regex

        globs = tuple(p for p in patterns if _GLOB_CHARS.search(p))
        return cls(frozenset(p for p in patterns if not _GLOB_CHARS.search(p)), name_regex(globs) if globs else None)


@dataclasses.dataclass(frozen=True)
class _Group:
    """Rules compiled into one query. Rules with identical query text share its patterns, so a
    call pattern used by 40 rules yields one match per call, not 40. When those rules start with
    a `callee` helper on the same capture, the callee name is resolved once per match and the
    rules it can satisfy are looked up in `candidates` (cached per name across files)."""

    query: tree_sitter.Query
    rules: tuple[Rule, ...]
    predicates: tuple[tuple[Predicate, ...], ...]  # per rule
    pattern_text: tuple[int, ...]  # pattern index -> query-text index
    text_rules: tuple[tuple[int, ...], ...]  # query-text index -> rule indices
    lead_capture: tuple[str | None, ...]  # query-text index -> capture of the shared callee check
    lead_names: tuple[_LeadNames | None, ...]  # per rule: callee names it requires (prefilter)
    text_globs: tuple[NamePattern | None, ...]  # query-text index -> union of its rules' glob leads
    requires: re.Pattern[bytes] | None = None
    anchor: re.Pattern[bytes] | None = None
    candidates: dict[tuple[int, str | None], tuple[int, ...]] = dataclasses.field(default_factory=dict)

    def rules_for(self, text: int, name: str | None) -> tuple[int, ...]:
        """Rule indices of query text `text` whose leading callee check accepts `name`."""
        key = (text, name)
        found = self.candidates.get(key)
        if found is None:  # once per distinct name: one set lookup per rule, at most one regex per glob rule
            union = self.text_globs[text]
            glob_hit = name is not None and union is not None and union.match(name) is not None
            found = tuple(
                i for i in self.text_rules[text]
                if (lead := self.lead_names[i]) is None or (name is not None and (
                    name in lead.exact or (glob_hit and lead.globs is not None and lead.globs.match(name) is not None)))
            )
            self.candidates[key] = found
        return found


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


class _Gate:
    """Rules of one language that share a `requires`/`anchor` gate. Their query is compiled on
    first use: a file where the gate's regex cannot match never pays for it (most anchored
    rules in a one-file scan)."""

    def __init__(self, language: str, members: list[Rule], gate: tuple[str | None, str | tuple[bytes, ...] | None]):
        self.language, self.members, self.gate = language, members, gate
        self.requires = re.compile(gate[0].encode()) if gate[0] else None
        anchor = gate[1]
        # A rule's `anchor:` is a regex; an anchor derived from the query (autoanchor.py) is a
        # tuple of literals, found with bytes.find (memchr speed) instead of a regex scan.
        self.literals = anchor if isinstance(anchor, tuple) else None
        self.anchor = re.compile(anchor.encode()) if isinstance(anchor, str) else None
        self.fold = False  # look for the literals in content.lower() (a case-insensitive anchor)
        if self.anchor is not None and (literals := literal_alternation(self.anchor)) is not None:
            self.fold = bool(self.anchor.flags & re.IGNORECASE)
            self.literals, self.anchor = literals, None  # `ssh|aws|...`: its matches are the literals' occurrences
        self.requires_may = prefilter(self.requires) if self.requires is not None else None
        self.anchor_may = prefilter(self.anchor) if self.anchor is not None else None
        self._groups: list[_Group] | None = None

    def admits(self, content: bytes) -> bool:
        """False when the `requires` regex rules the file out."""
        return self.requires is None or (
            (self.requires_may is None or self.requires_may(content)) and self.requires.search(content) is not None
        )

    def spots(self, content: bytes) -> list[list[int]] | None:
        """Byte ranges every match overlaps (sorted, merged; empty: no match possible), or None
        for the whole file (no anchor, or more than MAX_ANCHOR_SPOTS spots)."""
        if self.literals is not None:
            if self.fold:
                content = content.lower()  # same length: positions carry over
            found = []
            for literal in self.literals:
                at = content.find(literal)
                while at >= 0:
                    found.append((at, at + len(literal)))
                    if len(found) > 2 * MAX_ANCHOR_SPOTS:
                        return None
                    at = content.find(literal, at + 1)
            return _merge(sorted(found))
        if self.anchor is None:
            return None
        if self.anchor_may is not None and not self.anchor_may(content):
            return []
        return _merge((m.start(), m.end()) for m in self.anchor.finditer(content))

    def groups(self) -> list[_Group]:
        if self._groups is None:
            texts = list(dict.fromkeys(_normalise(r.query) for r in self.members))
            if _combined(self.language, tuple(texts)) is not None:
                self._groups = [_make_group(self.language, self.members, self)]
            else:  # one rule spoils the batch: compile the rest one by one
                self._groups = [_make_group(self.language, [rule], self) for rule in self.members
                                if _compiles(self.language, rule.query)]
        return self._groups


def _build_gates(language: str, rules: list[Rule]) -> list[_Gate]:
    applicable = set(RULE_LANGUAGES.get(language, (language,)))
    chosen = [r for r in rules if applicable.intersection(r.languages)]
    if language not in ("python",) and any(language not in r.languages for r in chosen):
        chosen = [r for r in chosen if language in r.languages or _compiles(language, r.query)]
    by_gate: dict[tuple[str | None, str | tuple[bytes, ...] | None], list[Rule]] = {}
    for rule in chosen:
        anchor = rule.anchor if rule.anchor is not None else _auto_anchor(language, _normalise(rule.query))
        by_gate.setdefault((rule.requires, anchor), []).append(rule)
    return [_Gate(language, members, gate) for gate, members in by_gate.items()]


@functools.cache
def _auto_anchor(language: str, text: str) -> tuple[bytes, ...] | None:
    """The anchor implied by the query's own literal predicates (autoanchor.py), if any."""
    compiled = _combined(language, (text,))
    return derived_anchor(compiled[0], text) if compiled is not None else None


def _normalise(query: str) -> str:
    return "\n".join(line.rstrip() for line in query.strip().splitlines())


def _lead_callee(rule: Rule) -> tuple[str, tuple[str, ...]] | None:
    """(capture, names) that any match of `rule` must satisfy through a `callee` helper: the
    first such requirement of its `where` list, where an `any` counts when every branch has one
    on the same capture (their names are then united). Used only to prefilter."""
    return _required_callee(list(rule.where))


def _required_callee(helpers: list) -> tuple[str, tuple[str, ...]] | None:  # type: ignore[type-arg]
    for item in helpers:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, spec), = item.items()
        if kind == "callee" and isinstance(spec, dict) and spec.get("names"):
            names = spec["names"]
            return str(spec.get("capture", "match")), tuple([names] if isinstance(names, str) else names)
        if kind == "all" and isinstance(spec, list):
            found = _required_callee(spec)
            if found:
                return found
        if kind == "any" and isinstance(spec, list) and spec:
            branches = [_required_callee([b]) for b in spec]
            if all(branches) and len({b[0] for b in branches if b}) == 1:
                return branches[0][0], tuple(n for b in branches if b for n in b[1])  # type: ignore[index]
    return None


def _make_group(language: str, members: list[Rule], gate: _Gate) -> _Group:
    from detectors.rules.helpers import name_regex

    texts = list(dict.fromkeys(_normalise(r.query) for r in members))
    combined = _combined(language, tuple(texts))
    assert combined is not None
    query, pattern_text = combined
    text_index = {t: i for i, t in enumerate(texts)}
    text_rules: list[list[int]] = [[] for _ in texts]
    leads = [_lead_callee(r) for r in members]
    for i, rule in enumerate(members):
        text_rules[text_index[_normalise(rule.query)]].append(i)
    lead_capture: list[str | None] = []
    lead_names: list[_LeadNames | None] = [None] * len(members)
    predicates: list[tuple[Predicate, ...]] = []
    for t, indices in enumerate(text_rules):  # split off the callee check where all leads agree on the capture
        captures = {leads[i][0] for i in indices if leads[i] is not None}  # type: ignore[index]
        lead_capture.append(captures.pop() if len(captures) == 1 else None)
    for i, rule in enumerate(members):
        compiled = compile_where(rule.where, language, validate=False)  # the loader validated it
        lead = leads[i]
        if lead is not None and lead_capture[text_index[_normalise(rule.query)]] == lead[0]:
            lead_names[i] = _LeadNames.of(lead[1])  # a prefilter: the full helper list still runs
        predicates.append(tuple(compiled))

    def text_globs(t: int) -> NamePattern | None:
        globs = tuple(p for i in text_rules[t] if lead_names[i] is not None for p in leads[i][1] if _GLOB_CHARS.search(p))  # type: ignore[index]
        return name_regex(tuple(dict.fromkeys(globs))) if globs else None

    return _Group(
        query, tuple(members), tuple(predicates), pattern_text, tuple(tuple(x) for x in text_rules),
        tuple(lead_capture), tuple(lead_names), tuple(text_globs(t) for t in range(len(texts))), gate.requires,
        gate.anchor,
    )


class RuleDetector:
    """Runs a rule pack (default: the shipped one) over sources."""

    name = "rules"

    def __init__(self, rules: list[Rule] | None = None):
        self.rules = load_rules(None, compile_queries=False) if rules is None else list(rules)
        self._gates: dict[str, list[_Gate]] = {}
        self._parsers: dict[str, tree_sitter.Parser] = {}

    def gates(self, language: str) -> list[_Gate]:
        if language not in self._gates:
            self._gates[language] = _build_gates(language, self.rules)
        return self._gates[language]

    def prepare(self, languages: Iterable[str]) -> None:
        """Compile every query of these languages now: a process pool forked afterwards shares
        them instead of each worker compiling its own (`detect` otherwise compiles lazily)."""
        for language in languages:
            self.groups(language)

    def groups(self, language: str) -> list[_Group]:
        """Every compiled group of the language (compiles them all; `detect` compiles lazily)."""
        return [group for gate in self.gates(language) for group in gate.groups()]

    def detect(self, source: Source) -> list[Finding]:
        """Findings for one source, sorted by position. A file too deeply nested to analyse is a
        TrustcheckError naming it (the caller reports it as a per-file error)."""
        gates = self.gates(source.language)
        if not gates:
            return []
        try:
            return self._detect(source, gates)
        except RecursionError:
            raise TrustcheckError(f"{source.path}: too deeply nested to analyse") from None

    def _detect(self, source: Source, gates: list[_Gate]) -> list[Finding]:
        content = source.content
        if source.language not in self._parsers:
            self._parsers[source.language] = parser(source.language)
        tree = self._parsers[source.language].parse(content)
        ctx = FileContext(content, tree.root_node, source.language)
        findings: list[Finding] = []
        seen: set[tuple[str, int, int]] = set()
        lines: list[bytes] | None = None
        for gate in gates:
            if not gate.admits(content):
                continue
            spots = gate.spots(content)
            if spots is not None and not spots:
                continue
            for group, (pattern, caps) in ((g, m) for g in gate.groups() for m in _matches(g.query, tree.root_node, spots)):
                match = caps.get("match")
                if not match:
                    continue
                node = match[0]
                text = group.pattern_text[pattern]
                name = None
                capture = group.lead_capture[text]
                if capture is not None:
                    lead = caps.get(capture)
                    name = ctx.resolver.callee(lead[0]) if lead else None
                for index in group.rules_for(text, name):
                    rule = group.rules[index]
                    key = (rule.id, node.start_byte, node.end_byte)
                    if key in seen:
                        continue
                    if group.lead_names[index] is not None and not caps.get(capture or ""):
                        continue
                    ctx.evidence = None
                    if not all(p(ctx, caps) for p in group.predicates[index]):
                        continue
                    seen.add(key)
                    if lines is None:
                        lines = content.split(b"\n")
                    findings.append(_finding(rule, source.path, node, lines, ctx.evidence))
        findings.sort(key=lambda f: (f.line, f.column, f.rule_id))
        return findings


MAX_ANCHOR_SPOTS = 64


def _merge(ranges: Iterable[tuple[int, int]]) -> list[list[int]] | None:
    """Sorted (start, end) ranges merged where they touch; None past MAX_ANCHOR_SPOTS."""
    spots: list[list[int]] = []
    for start, end in ranges:
        if spots and start <= spots[-1][1]:
            spots[-1][1] = max(spots[-1][1], end)
        else:
            spots.append([start, end])
            if len(spots) > MAX_ANCHOR_SPOTS:
                return None
    return spots


def _matches(query: tree_sitter.Query, root: Node, spots: list[list[int]] | None) -> Iterable[tuple[int, dict[str, list[Node]]]]:
    """The query's matches over the whole tree (spots None) or only those overlapping the spots
    (one small cursor run per spot)."""
    if spots is None:
        return tree_sitter.QueryCursor(query).matches(root)
    out: list[tuple[int, dict[str, list[Node]]]] = []
    cursor = tree_sitter.QueryCursor(query)
    for start, end in spots:
        cursor.set_byte_range(start, end)
        out.extend(cursor.matches(root))
    return out


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _finding(rule: Rule, path: str, node: Node, lines: list[bytes], evidence: dict[str, object] | None = None) -> Finding:
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
        message=_PLACEHOLDER.sub(lambda m: str(evidence.get(m[1], m[0])), rule.message) if evidence else rule.message,
        path=path,
        line=row + 1,
        column=len(first[:col].decode("utf-8", errors="replace")) + 1,
        end_line=end_row + 1,
        end_column=len(last[:end_col].decode("utf-8", errors="replace")) + 1,
        cwe=rule.cwe,
        snippet=snippet,
        evidence=evidence or {},
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
