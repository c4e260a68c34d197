"""Rules as data: the `Rule` type, the YAML loader and its schema checks.

A rule file is `rules/<language>/<rule-id>.yaml` holding exactly one rule; see TEAM.md for the
format and HELPERS.md for the `where:` vocabulary. Every problem a user can fix (broken YAML, a
bad severity, a duplicate id, a query that does not compile) is a TrustcheckError naming the file
and the field.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from detectors.languages import LANGUAGES, grammar
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Confidence, Severity

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
_CWE = re.compile(r"^CWE-\d+$")
_REQUIRED = ("id", "languages", "severity", "confidence", "cwe", "message", "query", "docs", "examples")
_OPTIONAL = ("where", "requires", "anchor", "tags")
_DOC_KEYS = ("what", "why", "use_instead", "references")


@dataclasses.dataclass(frozen=True, eq=False)
class Rule:
    """One rule, loaded and validated. `where` is the raw helper list; the engine compiles it."""

    id: str
    languages: tuple[str, ...]
    severity: Severity
    confidence: Confidence
    cwe: str
    message: str
    query: str
    where: tuple[Any, ...] = ()
    requires: str | None = None  # regex on the file's bytes: the rule runs only where it matches
    anchor: str | None = None  # regex on the file's bytes that every @match node overlaps
    docs: dict[str, Any] = dataclasses.field(default_factory=dict)
    examples: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    tags: tuple[str, ...] = ()
    path: str = ""

    @property
    def language(self) -> str:
        return self.languages[0]


def _safe_loader() -> Any:
    """yaml's safe loader, in C when libyaml is there (same safe subset). yaml is imported here,
    not at module level: with the rule cache warm a scan never needs it."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def default_rules_dir() -> Path:
    """The shipped rule pack (the `rules` package directory)."""
    return Path(str(importlib.resources.files("rules")))


def load_rules(dirs: Iterable[str | Path] | str | Path | None = None, *, compile_queries: bool = True) -> list[Rule]:
    """Every `*.yaml`/`*.yml` rule under `dirs` (recursively; default: the shipped pack), sorted
    by id. Raises TrustcheckError naming the file for any broken rule or a duplicated id.
    `compile_queries=False` skips compiling each query on its own (the engine compiles them
    together anyway; the shipped pack's tests check them one by one)."""
    if dirs is None:
        dirs = [default_rules_dir()]
    elif isinstance(dirs, (str, Path)):
        dirs = [dirs]
    from detectors.rules.cache import RuleCache

    cache = RuleCache.open()
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for directory in dirs:
        root = Path(directory)
        if not root.exists():
            raise TrustcheckError(f"rule folder {root} does not exist")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
        for path in files:
            rule = _load_cached(path, cache, compile_queries)
            if rule.id in seen:
                raise TrustcheckError(
                    f"{path}: duplicate rule id {rule.id!r} (also in {seen[rule.id]})",
                    hint="rule ids are unique and never reused; pick a new id",
                )
            seen[rule.id] = str(path)
            rules.append(rule)
    if cache is not None:
        cache.save()
    return sorted(rules, key=lambda r: r.id)


def _load_cached(path: Path, cache: Any, compile_queries: bool) -> Rule:
    """One rule file through the cache (cache.py): a file whose bytes validated before is not
    parsed or validated again (its query is still compiled when `compile_queries`)."""
    if cache is None:
        return load_rule_file(path, compile_queries=compile_queries)
    from detectors.rules.cache import digest, fields_of, rule_kwargs

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrustcheckError(f"{path}: cannot read rule file: {exc}") from exc
    key, file_digest = str(path), digest(raw)
    fields = cache.get(key, file_digest)
    if fields is not None:
        try:
            rule = Rule(**rule_kwargs(fields, key))
        except (TypeError, ValueError, AttributeError):  # a damaged entry: load the file instead
            rule = None
        if rule is not None:
            if compile_queries:
                check_query(rule)
            return rule
    rule = load_rule_file(path, compile_queries=compile_queries, raw=raw)
    cache.put(key, file_digest, fields_of(rule))
    return rule


def load_rule_file(path: Path, *, compile_queries: bool = True, raw: bytes | None = None) -> Rule:
    """Parse and validate one rule file (`raw`: its bytes, when already read)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8") if raw is None else raw.decode("utf-8")
        data = yaml.load(text, Loader=_safe_loader())  # libyaml: ~10x faster start-up
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustcheckError(f"{path}: cannot read rule file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TrustcheckError(f"{path}: invalid YAML: {exc}", hint="check indentation and quoting") from exc
    return rule_from_dict(data, str(path), compile_queries=compile_queries)


def _fail(where: str, field: str, problem: str, hint: str | None = None) -> TrustcheckError:
    return TrustcheckError(f"{where}: field {field!r}: {problem}", hint=hint)


def rule_from_dict(data: Any, where: str = "<rule>", *, compile_queries: bool = True) -> Rule:
    """Validate a parsed rule mapping; `where` (the file path) prefixes every error."""
    if not isinstance(data, dict):
        raise TrustcheckError(f"{where}: a rule file holds one mapping (id, languages, ...), got {type(data).__name__}")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise _fail(where, missing[0], "missing", hint=f"required fields: {', '.join(_REQUIRED)}")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise _fail(where, unknown[0], "unknown field", hint=f"allowed: {', '.join(_REQUIRED + _OPTIONAL)}")
    rule_id = data["id"]
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise _fail(where, "id", f"{rule_id!r} is not a kebab-case id with a language prefix (e.g. py-eval-call)")
    stem = Path(where).stem
    if where.endswith((".yaml", ".yml")) and stem != rule_id:
        raise _fail(where, "id", f"{rule_id!r} differs from the file name {stem!r}", hint="name the file <id>.yaml")
    languages = data["languages"]
    if isinstance(languages, str):
        languages = [languages]
    if not isinstance(languages, list) or not languages or any(lang not in LANGUAGES for lang in languages):
        raise _fail(where, "languages", f"{data['languages']!r}", hint=f"a list of: {', '.join(LANGUAGES)}")
    try:
        severity = Severity(data["severity"])
    except ValueError:
        raise _fail(where, "severity", f"{data['severity']!r}", hint="one of info, low, medium, high, critical") from None
    try:
        confidence = Confidence(data["confidence"])
    except ValueError:
        raise _fail(where, "confidence", f"{data['confidence']!r}", hint="one of low, medium, high") from None
    cwe = data["cwe"]
    if not isinstance(cwe, str) or not _CWE.match(cwe):
        raise _fail(where, "cwe", f"{cwe!r} is not of the form CWE-123")
    for text_field in ("message", "query"):
        if not isinstance(data[text_field], str) or not data[text_field].strip():
            raise _fail(where, text_field, "must be a non-empty string")
    docs = data["docs"]
    if not isinstance(docs, dict) or any(not docs.get(k) for k in _DOC_KEYS):
        raise _fail(where, "docs", "needs what, why, use_instead and references")
    examples = data["examples"]
    if not isinstance(examples, dict):
        raise _fail(where, "examples", "must be a mapping with match and no_match lists")
    for kind in ("match", "no_match"):
        items = examples.get(kind)
        if not isinstance(items, list) or not items or not all(isinstance(x, str) for x in items):
            raise _fail(where, f"examples.{kind}", "needs at least one code example (a list of strings)")
    unknown_examples = set(examples) - {"match", "no_match"}
    if unknown_examples:
        raise _fail(where, "examples", f"unknown key {min(unknown_examples)!r}")
    where_list = data.get("where") or []
    if not isinstance(where_list, list):
        raise _fail(where, "where", "must be a list of helpers")
    for gate in ("requires", "anchor"):
        if data.get(gate) is not None:
            try:
                re.compile(str(data[gate]).encode())
            except re.error as exc:
                raise _fail(where, gate, f"bad regex: {exc}") from None
    requires, anchor = data.get("requires"), data.get("anchor")
    rule = Rule(
        id=rule_id,
        languages=tuple(languages),
        severity=severity,
        confidence=confidence,
        cwe=cwe,
        message=" ".join(data["message"].split()),
        query=data["query"],
        where=tuple(where_list),
        requires=None if requires is None else str(requires),
        anchor=None if anchor is None else str(anchor),
        docs=docs,
        examples={k: tuple(examples[k]) for k in ("match", "no_match")},
        tags=tuple(data.get("tags") or ()),
        path=where,
    )
    if compile_queries:
        check_query(rule)
    from detectors.rules.helpers import compile_where  # late: helpers import this module

    try:
        compile_where(rule.where, rule.language)
    except TrustcheckError as exc:
        raise _fail(where, "where", str(exc), hint="see detectors/rules/HELPERS.md") from None
    return rule


def check_query(rule: Rule) -> int:
    """Compile the rule's query for each of its languages; return its pattern count."""
    import tree_sitter

    count = 0
    for language in rule.languages:
        try:
            query = tree_sitter.Query(grammar(language), rule.query)
        except (tree_sitter.QueryError, ValueError, NameError) as exc:
            raise _fail(rule.path or rule.id, "query", f"does not compile for {language}: {exc}") from None
        if count and query.pattern_count != count:
            raise _fail(rule.path or rule.id, "query", "compiles to different pattern counts per language")
        count = query.pattern_count
        if "match" not in [query.capture_name(i) for i in range(query.capture_count)]:
            raise _fail(rule.path or rule.id, "query", "needs a @match capture (the span to report)")
    return count
