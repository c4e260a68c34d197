"""`--format text`: findings grouped by file, each with its code, severity in colour (no colour
with NO_COLOR or when not writing to a terminal), then a one-line summary."""

from __future__ import annotations

import io
from collections import Counter
from itertools import groupby
from typing import Any

from trustcheck.findings import Finding, Severity

STYLES = {Severity.CRITICAL: "bold white on red", Severity.HIGH: "bold red", Severity.MEDIUM: "yellow",
          Severity.LOW: "cyan", Severity.INFO: "dim"}
SNIPPET_LINES = 3  # at most this many lines of code under a finding


def report_text(result: Any, ctx: Any) -> str:
    from rich.console import Console
    from rich.text import Text

    from trustcheck.reporters import relative_path

    out = io.StringIO()
    console = Console(file=out, width=ctx.width or 100, color_system="standard" if ctx.color else None,
                      force_terminal=ctx.color, no_color=not ctx.color, highlight=False, emoji=False,
                      soft_wrap=False)
    ordered = sorted(result.findings, key=lambda f: (relative_path(f.path, ctx.cwd), f.line, f.column, f.rule_id))
    for path, group in groupby(ordered, key=lambda f: relative_path(f.path, ctx.cwd)):
        console.print(Text(path, style="bold underline"))
        for finding in group:
            _print_finding(console, finding)
        console.print()
    for error in result.errors:
        line = Text("error: ", style="bold red")
        line.append(f"{relative_path(error.path, ctx.cwd)}: {error.message}")
        console.print(line)
    if result.errors:
        console.print()
    console.print(_summary(result, ctx))
    # rich pads wrapped lines to the console width; trailing spaces are noise in logs and diffs
    return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())


def _print_finding(console: Any, f: Finding) -> None:
    from rich.text import Text

    head = Text("  ")
    head.append(f"{f.line}:{f.column}", style="bold")
    head.append("  ")
    head.append(f.severity.value, style=STYLES[f.severity])
    head.append("  ")
    head.append(f.rule_id, style="magenta")
    if f.cwe:
        head.append(f"  {f.cwe}", style="dim")
    console.print(head)
    from rich.padding import Padding

    console.print(Padding(Text(f.message), (0, 0, 0, 4), expand=False))
    lines = f.snippet.splitlines()[:SNIPPET_LINES] if f.snippet else []
    for offset, code in enumerate(lines):
        row = Text(f"    {f.line + offset:>5} | ", style="dim")
        row.append(code.expandtabs(4))
        console.print(row, overflow="ellipsis", no_wrap=True)


def _summary(result: Any, ctx: Any) -> Any:
    from rich.text import Text

    findings = result.findings
    stats = result.stats or {}
    text = Text()
    if findings:
        counts = Counter(f.severity for f in findings)
        files = len({f.path for f in findings})
        parts = ", ".join(f"{counts[s]} {s.value}" for s in sorted(counts, key=lambda s: -s.rank))
        text.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}", style="bold")
        text.append(f" ({parts}) in {files} file{'s' if files != 1 else ''}")
    else:
        text.append("No findings", style="bold green")
    if "files" in stats:
        text.append(f"; scanned {stats['files']} file{'s' if stats['files'] != 1 else ''}, "
                    f"{stats.get('lines', 0)} lines")
    if result.errors:
        text.append(f"; {len(result.errors)} could not be scanned", style="bold red")
    if ctx.fail_on:
        text.append(f" (fail-on: {ctx.fail_on})", style="dim")
    return text
