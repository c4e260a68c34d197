"""`trustcheck ci` (the pull-request gate, and `--staged` for pre-commit) and
`trustcheck baseline create|update` (accept today's findings so later runs report only new ones)."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from trustcheck.baseline import BASELINE_FILE
from trustcheck.errors import ExitCode, TrustcheckError


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"
    github = "github"
    codequality = "codequality"


def ci(
    base: Annotated[str | None, typer.Option(help="Ref the change targets. Default: origin/$GITHUB_BASE_REF, "
                                                     "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME, else origin/HEAD.")] = None,
    head: Annotated[str | None, typer.Option(help="Commit to judge. Default: HEAD.")] = None,
    staged: Annotated[bool, typer.Option("--staged", help="Pre-commit mode: judge the staged lines only "
                                                          "(config and baseline from the working tree).")] = False,
    output_format: Annotated[Format | None, typer.Option("--format", "-f", help="Report format.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")] = None,
    also: Annotated[list[str] | None, typer.Option("--also", metavar="FORMAT:FILE",
                                                      help="Also write another format to a file (repeatable).")] = None,
    fail_on: Annotated[str | None, typer.Option(help="Lowest severity that fails (default: the base config's).")] = None,
    allow_new_suppressions: Annotated[bool, typer.Option(
        "--allow-new-suppressions", help="Obey suppression comments the change adds (default: report them).")] = False,
    baseline: Annotated[str, typer.Option(help="Findings baseline, repo-relative, read from the base ref.")] = BASELINE_FILE,
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="Ignore the findings baseline.")] = False,
    allow_dirty: Annotated[bool, typer.Option("--allow-dirty", help="Judge HEAD even with uncommitted edits.")] = False,
    annotations: Annotated[bool | None, typer.Option(
        "--annotations/--no-annotations", help="Print GitHub workflow annotations (default: when GITHUB_ACTIONS=true).")] = None,
) -> None:
    """Judge what a change adds: findings on added or modified lines, under the base branch's
    config and baseline; suppressions the change adds are reported, not obeyed. Exit 0 clean,
    1 findings at or above --fail-on, 2 could not complete."""
    from trustcheck.gate import GateOptions, run_gate

    options = GateOptions(
        base=base, head=head, mode="staged" if staged else "ci", allow_new_suppressions=allow_new_suppressions,
        allow_dirty=allow_dirty, baseline=None if no_baseline else baseline, overrides={"fail_on": fail_on})
    run = run_gate(options)
    fmt = (output_format.value if output_format else None) or _config_format(run.config)
    emit(run.result, run.config, fmt, output, also or [], annotations)
    code = gate_exit_code(run.result, run.config)
    if output is not None:  # the report went to a file: say the verdict in the job log
        print(verdict(run.result, run.config, code), file=sys.stderr)
    raise typer.Exit(code)


def verdict(result: Any, config: Any, code: int) -> str:
    """One line for a CI log: what was judged and the outcome."""
    stats = result.stats
    by = ", ".join(f"{n} {s}" for s, n in stats.get("by_severity", {}).items())
    found = f"{len(result.findings)} new finding(s) ({by})" if result.findings else "no new findings"
    errors = f", {len(result.errors)} file(s) could not be scanned" if result.errors else ""
    outcome = {0: "pass", 1: f"fail (a finding at or above {config.fail_on.value})", 2: "incomplete"}.get(code, str(code))
    return (f"trustcheck ci: {stats.get('base')}..{stats.get('head')}: {stats.get('changed_files', 0)} changed file(s), "
            f"{found}{errors}, {stats.get('baselined', 0)} baselined: {outcome}")


def emit(result: Any, config: Any, fmt: str, output: Path | None, also: list[str], annotations: bool | None) -> None:
    """Write the report(s); in GitHub Actions also annotations on stdout and the job summary."""
    from trustcheck.reporters.github import in_github_actions

    _write(render(result, config, fmt), output)
    for spec in also:
        extra_fmt, sep, path = spec.partition(":")
        if not sep or not path:
            raise TrustcheckError(f"--also {spec!r}: expected FORMAT:FILE", hint="e.g. --also markdown:summary.md")
        _write(render(result, config, extra_fmt), Path(path))
    actions = in_github_actions()
    if (annotations if annotations is not None else actions) and not (fmt == "github" and output is None):
        sys.stdout.write(render(result, config, "github"))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if actions and summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(render(result, config, "markdown"))


def render(result: Any, config: Any, fmt: str) -> str:
    from trustcheck import reporters

    reporter = reporters.REPORTERS.get(fmt) or _gate_reporter(fmt)
    if reporter is None:
        raise TrustcheckError(f"unknown report format {fmt!r}", hint=f"use one of {', '.join(reporters.REPORTERS)}")
    return reporter(result, _report_context(result, config))


def _gate_reporter(fmt: str) -> Any:
    """The gate's own formats, in case the shared registry does not list them."""
    if fmt == "markdown":
        from trustcheck.reporters.markdown import report_markdown

        return report_markdown
    if fmt == "github":
        from trustcheck.reporters.github import report_github

        return report_github
    if fmt == "codequality":
        from trustcheck.reporters.codequality import report_codequality

        return report_codequality
    return None


def _report_context(result: Any, config: Any) -> Any:
    from trustcheck import reporters
    from trustcheck.tamper import GATE_RULES

    rules = {r.id: r for d in getattr(result, "detectors", ()) for r in getattr(d, "rules", ())}
    rules.update(GATE_RULES)
    return reporters.ReportContext(rules=rules, fail_on=config.fail_on.value)


def _config_format(config: Any) -> str:
    return getattr(config, "format", "text") or "text"


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TrustcheckError(f"cannot write {output}: {exc.strerror}") from exc


def gate_exit_code(result: Any, config: Any) -> int:
    """The scan's exit codes: 2 if the scan could not complete (unless skip-errors), 1 if a
    finding is at or above fail-on, else 0."""
    if result.errors and not getattr(config, "skip_errors", False):
        return ExitCode.USAGE
    if any(f.severity.rank >= config.fail_on.rank for f in result.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


# -- baseline -----------------------------------------------------------------------------------

baseline_app = typer.Typer(help="Accept today's findings so later scans and CI report only new ones.",
                           no_args_is_help=True)


def _write_baseline(paths: list[str] | None, output: Path, *, must_exist: bool | None) -> None:
    from trustcheck import pipeline
    from trustcheck.baseline import Baseline, build, disk_lines, relative_to
    from trustcheck.config import load_config

    if must_exist is False and output.exists():
        raise TrustcheckError(f"{output} already exists", hint="use `trustcheck baseline update` to rewrite it")
    config = load_config(paths[0] if paths else ".")
    result = pipeline.scan(list(paths or []), config)
    if result.errors and not config.skip_errors:
        shown = "; ".join(f"{e.path}: {e.message}" for e in result.errors[:3])
        raise TrustcheckError(f"the scan could not complete, so the baseline would be incomplete ({shown})",
                              hint="fix or exclude those files, or set skip-errors = true")
    root = output.resolve().parent
    new = build(result.findings, disk_lines(root), path_of=relative_to(root))
    before = Baseline.load(output).entries if output.exists() else []
    _write(new.dumps(), output)
    print(f"trustcheck: wrote {len(new.entries)} finding(s) to {output}"
          + (f" (was {len(before)})" if must_exist else ""), file=sys.stderr)


@baseline_app.command("create")
def baseline_create(
    paths: Annotated[list[str] | None, typer.Argument(help="Files or folders (default: the current folder).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Baseline file.")] = Path(BASELINE_FILE),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing baseline.")] = False,
) -> None:
    """Record every current finding in a new baseline file (commit it)."""
    _write_baseline(paths, output, must_exist=None if force else False)


@baseline_app.command("update")
def baseline_update(
    paths: Annotated[list[str] | None, typer.Argument(help="Files or folders (default: the current folder).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Baseline file.")] = Path(BASELINE_FILE),
) -> None:
    """Rewrite the baseline with the current findings (drops fixed ones, accepts new ones)."""
    _write_baseline(paths, output, must_exist=True)


def register(app: typer.Typer) -> None:
    """Add `ci` and `baseline` to the root app."""
    app.command()(ci)
    app.add_typer(baseline_app, name="baseline")
