"""Rule reference pages generated from the rule YAML: one markdown page per rule plus an index.

`render_rule_docs(rules)` maps file names (relative to the docs folder) to page text;
`write_rule_docs(rules, out_dir)` writes them and removes stale pages; `check_rule_docs(rules,
out_dir)` lists what is stale, missing or extra without writing. Pages are deterministic: rules
sorted by id, languages in their YAML order, no dates, prose whitespace collapsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from detectors.rules.model import Rule

INDEX = "README.md"
_HEADER = "<!-- Generated from the rule YAML by `trustcheck rules docs`; do not edit by hand. -->"


def _prose(value: Any) -> str:
    """One paragraph: YAML block scalars fold to single spaces."""
    return " ".join(str(value or "").split())


def _fence(code: str, language: str) -> list[str]:
    """A fenced block long enough not to be closed by backticks inside `code`."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{language}", *code.rstrip("\n").splitlines(), ticks]


def _cwe_link(cwe: str) -> str:
    number = cwe.split("-", 1)[-1]
    return f"[{cwe}](https://cwe.mitre.org/data/definitions/{number}.html)" if number.isdigit() else cwe


def _source(rule: Rule) -> str:
    """`rules/<folder>/<file>` for the rule's YAML (the last two parts of its path)."""
    if not rule.path:
        return ""
    parts = Path(rule.path).parts[-2:]
    return "rules/" + "/".join(parts)


def page_name(rule: Rule) -> str:
    return f"{rule.id}.md"


def render_rule_doc(rule: Rule) -> str:
    """The markdown page for one rule."""
    docs = rule.docs or {}
    out = [
        _HEADER,
        "",
        f"# {rule.id}",
        "",
        "| Severity | Confidence | CWE | Languages |",
        "| --- | --- | --- | --- |",
        f"| {rule.severity.value} | {rule.confidence.value} | {_cwe_link(rule.cwe)} | {', '.join(rule.languages)} |",
        "",
        f"> {_prose(rule.message)}",
        "",
        "## What it does",
        "",
        _prose(docs.get("what")),
        "",
        "## Why it is bad",
        "",
        _prose(docs.get("why")),
        "",
    ]
    matches = rule.examples.get("match", ())
    if matches:
        out += ["## Example", "", "Flagged:", "", *_fence(matches[0], rule.language), ""]
    out += ["## Use instead", "", _prose(docs.get("use_instead")), ""]
    references = [str(ref) for ref in docs.get("references") or ()]
    if references:
        out += ["## References", "", *[f"- <{ref}>" if "://" in ref else f"- {ref}" for ref in references], ""]
    source = _source(rule)
    if source:
        out += [f"Defined in `{source}`.", ""]
    return "\n".join(out)


def _cell(text: str) -> str:
    return _prose(text).replace("|", "\\|")


def render_index(rules: Iterable[Rule]) -> str:
    """`README.md`: a table per language (a rule with several languages is listed under each)."""
    by_language: dict[str, list[Rule]] = {}
    for rule in rules:
        for language in rule.languages:
            by_language.setdefault(language, []).append(rule)
    total = len({rule.id for group in by_language.values() for rule in group})
    out = [
        _HEADER,
        "",
        "# Rule reference",
        "",
        f"{total} rules. Regenerate with `trustcheck rules docs`; check with `trustcheck rules docs --check`.",
        "",
        *[f"- [{language}](#{language}) ({len(group)})" for language, group in sorted(by_language.items())],
        "",
    ]
    for language, group in sorted(by_language.items()):
        out += [
            f"## {language}",
            "",
            "| Rule | Severity | Confidence | CWE | Message |",
            "| --- | --- | --- | --- | --- |",
        ]
        for rule in sorted(group, key=lambda r: r.id):
            out.append(
                f"| [{rule.id}]({page_name(rule)}) | {rule.severity.value} | {rule.confidence.value} "
                f"| {rule.cwe} | {_cell(rule.message)} |"
            )
        out.append("")
    return "\n".join(out)


def render_rule_docs(rules: Iterable[Rule]) -> dict[str, str]:
    """Every page, by file name relative to the docs folder, the index included."""
    rules = sorted(rules, key=lambda r: r.id)
    pages = {page_name(rule): render_rule_doc(rule) for rule in rules}
    pages[INDEX] = render_index(rules)
    return dict(sorted(pages.items()))


def _existing(out_dir: Path) -> set[str]:
    return {p.name for p in out_dir.glob("*.md")} if out_dir.is_dir() else set()


def check_rule_docs(rules: Iterable[Rule], out_dir: str | Path) -> list[str]:
    """Problems (sorted): `stale: X` (content differs), `missing: X`, `extra: X` (a page for no rule)."""
    out_dir = Path(out_dir)
    pages = render_rule_docs(rules)
    existing = _existing(out_dir)
    problems = []
    for name, text in pages.items():
        if name not in existing:
            problems.append(f"missing: {name}")
        elif (out_dir / name).read_text(encoding="utf-8") != text:
            problems.append(f"stale: {name}")
    problems += [f"extra: {name}" for name in sorted(existing - set(pages))]
    return problems


def write_rule_docs(rules: Iterable[Rule], out_dir: str | Path) -> list[Path]:
    """Write every page into `out_dir` (created), remove `*.md` pages no rule produces; returns
    the paths written or removed that changed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = render_rule_docs(rules)
    changed = []
    for name, text in pages.items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            changed.append(path)
    for name in sorted(_existing(out_dir) - set(pages)):
        (out_dir / name).unlink()
        changed.append(out_dir / name)
    return changed
