"""`trustcheck scan [PATHS...]`: run the detectors over files and folders, report, exit 0/1/2."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from trustcheck.errors import ExitCode, TrustcheckError
from trustcheck.findings import Severity


def scan(
    paths: Annotated[list[str] | None, typer.Argument(help="Files or folders to scan (default: the current folder).",
                                                         show_default=False)] = None,
    format: Annotated[str | None, typer.Option("--format", "-f", help="Report format: text, json, sarif, ...",
                                                  show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file instead of stdout.",
                                                   show_default=False)] = None,
    fail_on: Annotated[Severity | None, typer.Option("--fail-on", help="Exit 1 when a finding has at least this severity [default: high].",
                                                        show_default=False, case_sensitive=False)] = None,
    min_severity: Annotated[Severity | None, typer.Option("--min-severity", help="Do not report findings below this severity.",
                                                             show_default=False, case_sensitive=False)] = None,
    select: Annotated[list[str] | None, typer.Option("--select", help="Run only these rule ids (globs; repeatable).",
                                                        show_default=False)] = None,
    ignore: Annotated[list[str] | None, typer.Option("--ignore", help="Never report these rule ids (globs; repeatable).",
                                                        show_default=False)] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Skip paths matching this gitignore-style pattern (repeatable).",
                                                         show_default=False)] = None,
    rules: Annotated[list[str] | None, typer.Option("--rules", help="Also load rules from this folder (repeatable).",
                                                       show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Read [tool.trustcheck] from this pyproject.toml "
                                                   "[default: the nearest one above the first path].", show_default=False)] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes; 0 = one per core.", show_default=False)] = None,
    skip_errors: Annotated[bool, typer.Option("--skip-errors", help="Files that cannot be scanned are reported but do not make the exit code 2.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Never show a progress bar.")] = False,
    no_anomaly: Annotated[bool, typer.Option("--no-anomaly", help="Do not run the anomaly detector even when a baseline is fitted.")] = False,
    diff: Annotated[str | None, typer.Option("--diff", metavar="REF", help="Only lines the working tree adds since it forked from REF (git).", show_default=False)] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="Report only findings not in this baseline (trustcheck baseline create).", show_default=False)] = None,
) -> int:
    """Scan files and folders for insecure or backdoored code."""
    from trustcheck.config import load_config
    from trustcheck.pipeline import scan as run_scan
    from trustcheck.reporters import REPORTERS, ReportContext

    targets = list(paths or [])
    # Relative extra rule folders on the command line are relative to where the command runs.
    extra_rules = [os.path.abspath(r) for r in rules or []]
    overrides = {
        "format": format, "fail-on": fail_on.value if fail_on else None,
        "min-severity": min_severity.value if min_severity else None, "select": select, "ignore": ignore,
        "exclude": exclude, "jobs": jobs, "skip-errors": True if skip_errors else None,
        "anomaly": False if no_anomaly else None,
    }
    cfg = load_config(targets[0] if targets else ".", overrides, config_file=config)
    if extra_rules:
        import dataclasses

        cfg = dataclasses.replace(cfg, rules=(*cfg.rules, *extra_rules))
    if diff is not None:  # CIGATE: diff-aware scan (applies the repository's baseline itself)
        from trustcheck.gate import scan_diff

        result = scan_diff(diff, cfg, baseline_file=str(baseline) if baseline else None)
    else:
        result = run_scan(targets, cfg, progress=not no_progress and sys.stderr.isatty())
        if baseline is not None:
            from trustcheck.baseline import filter_result

            result = filter_result(result, baseline)

    to_terminal = output is None and sys.stdout.isatty()
    rule_index = {rule.id: rule for d in result.detectors for rule in getattr(d, "rules", [])}
    ctx = ReportContext(color=to_terminal and not os.environ.get("NO_COLOR"), rules=rule_index,
                        width=os.get_terminal_size().columns if to_terminal else None, fail_on=cfg.fail_on.value)
    report = REPORTERS[cfg.format](result, ctx)
    if output is None:
        sys.stdout.write(report)
        sys.stdout.flush()
    else:
        try:
            output.write_text(report, encoding="utf-8")
        except OSError as exc:
            raise TrustcheckError(f"cannot write the report to {output}: {exc.strerror or exc}") from None
    return int(exit_code(result, cfg.fail_on, cfg.skip_errors))


def exit_code(result: object, fail_on: Severity, skip_errors: bool = False) -> ExitCode:
    """2 when something could not be scanned (unless skipped), else 1 when a finding is at or above
    `fail_on`, else 0."""
    if getattr(result, "errors", None) and not skip_errors:
        return ExitCode.USAGE
    if any(f.severity.rank >= fail_on.rank for f in getattr(result, "findings", [])):
        return ExitCode.FINDINGS
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    """Add `scan` to the root app."""
    app.command(name="scan")(scan)
