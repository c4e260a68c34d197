"""`trustcheck rules list | show ID | test [DIR...] | docs`: browse, check and document rule packs."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from trustcheck.errors import ExitCode, TrustcheckError


class ListFormat(str, enum.Enum):
    table = "table"
    json = "json"


def _load(dirs: list[Path] | None) -> list:  # type: ignore[type-arg]
    from detectors.rules import load_rules

    return load_rules(dirs or None)


def list_rules(
    rule_dir: Annotated[list[Path] | None, typer.Option("--rules", help="Rule folder(s) instead of the shipped pack.")] = None,
    language: Annotated[str | None, typer.Option("--language", "-l", help="Only rules for this language.")] = None,
    output_format: Annotated[ListFormat, typer.Option("--format", help="table or json.")] = ListFormat.table,
) -> None:
    """List rules: id, language, severity, confidence, CWE."""
    rules = [r for r in _load(rule_dir) if language is None or language in r.languages]
    if output_format is ListFormat.json:
        rows = [
            {"id": r.id, "languages": list(r.languages), "severity": r.severity.value,
             "confidence": r.confidence.value, "cwe": r.cwe, "message": r.message}
            for r in rules
        ]
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("id", "language", "severity", "confidence", "cwe"):
        table.add_column(column)
    for r in rules:
        table.add_row(r.id, ",".join(r.languages), r.severity.value, r.confidence.value, r.cwe)
    Console(soft_wrap=True).print(table)
    print(f"{len(rules)} rules")


def show_rule(
    rule_id: Annotated[str, typer.Argument(help="The rule id, e.g. py-subprocess-shell-true.")],
    rule_dir: Annotated[list[Path] | None, typer.Option("--rules", help="Rule folder(s) instead of the shipped pack.")] = None,
) -> None:
    """Show one rule: message, docs and examples."""
    rules = {r.id: r for r in _load(rule_dir)}
    rule = rules.get(rule_id)
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id, list(rules), n=3)
        raise TrustcheckError(f"no rule {rule_id!r}", hint=f"did you mean: {', '.join(close)}" if close else "see `trustcheck rules list`")
    docs = rule.docs
    out = [
        f"{rule.id}  ({', '.join(rule.languages)}; severity {rule.severity.value}, confidence {rule.confidence.value}, {rule.cwe})",
        "",
        rule.message,
        "",
        f"What: {' '.join(str(docs.get('what', '')).split())}",
        f"Why: {' '.join(str(docs.get('why', '')).split())}",
        f"Use instead: {' '.join(str(docs.get('use_instead', '')).split())}",
        "References:",
        *[f"  - {ref}" for ref in docs.get("references", [])],
    ]
    for kind, title in (("match", "Flagged"), ("no_match", "Not flagged")):
        for code in rule.examples.get(kind, ()):
            out += ["", f"{title}:", *["    " + line for line in code.rstrip().splitlines()]]
    print("\n".join(out))


def test_rule_dirs(
    dirs: Annotated[list[Path] | None, typer.Argument(help="Rule folders (default: the shipped pack).")] = None,
) -> None:
    """Run every rule's embedded examples; exit 1 on any failure, 2 on a broken rule file."""
    from detectors.rules import test_rules

    rules = _load(dirs)  # a broken file raises TrustcheckError: exit 2
    failures = test_rules(rules)
    for failure in failures:
        print(f"FAIL {failure}")
    examples = sum(len(r.examples.get("match", ())) + len(r.examples.get("no_match", ())) for r in rules)
    print(f"{len(rules)} rules, {examples} examples, {len(failures)} failures")
    if failures:
        raise typer.Exit(ExitCode.FINDINGS)


def rule_docs(
    out: Annotated[Path, typer.Option("--out", help="Folder for the markdown pages.")] = Path("docs/rules"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 listing stale, missing or extra pages.")] = False,
    rule_dir: Annotated[list[Path] | None, typer.Option("--rules", help="Rule folder(s) instead of the shipped pack.")] = None,
) -> None:
    """Generate the rule reference (one page per rule plus README.md) from the rule YAML."""
    from detectors.rules.docs import check_rule_docs, write_rule_docs

    rules = _load(rule_dir)
    if check:
        problems = check_rule_docs(rules, out)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{out} is out of date ({len(problems)} pages); run `trustcheck rules docs --out {out}`")
            raise typer.Exit(ExitCode.FINDINGS)
        print(f"{out} is up to date ({len(rules)} rules)")
        return
    changed = write_rule_docs(rules, out)
    print(f"{len(rules)} rules documented in {out} ({len(changed)} pages changed)")


def register(app: typer.Typer) -> None:
    """Add the `rules` command group to the root app."""
    rules_app = typer.Typer(help="List, show, test and document rules.", no_args_is_help=True)
    rules_app.command("list")(list_rules)
    rules_app.command("show")(show_rule)
    rules_app.command("test")(test_rule_dirs)
    rules_app.command("docs")(rule_docs)
    app.add_typer(rules_app, name="rules")
