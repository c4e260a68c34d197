"""`trustcheck generate PROMPT`, `trustcheck consensus FILE` and `trustcheck consensus-calibrate`.

Heavy libraries (torch, transformers, litellm) load inside the command bodies only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from trustcheck.errors import ExitCode, TrustcheckError
from trustcheck.findings import Finding, Severity

DEFAULT_VALIDATORS = ["bundled:validator-a", "bundled:validator-b"]
STRATEGIES = ["autoregressive", "speculative", "adaptive", "multi-draft", "ngram", "hybrid", "async", "pipeline", "async-pipeline"]
FORMATS = ("text", "json", "sarif")


def generate(
    prompt: Annotated[str, typer.Argument(help="What to write: a comment, a signature, or both.")],
    target: Annotated[str, typer.Option("--target", help="Generator: bundled name, local path, HF id or litellm model string.")] = "bundled:target",
    drafter: Annotated[str, typer.Option("--drafter", help="Drafter for speculative decoding ('none' for plain decoding).")] = "bundled:drafter",
    validator: Annotated[list[str] | None, typer.Option("--validator", help="Independent validator (repeatable) [default: bundled:validator-a, bundled:validator-b].", show_default=False)] = None,
    independent: Annotated[list[str] | None, typer.Option("--independent", help="Model that writes an independent version for behaviour voting (repeatable) [default: the validators].", show_default=False)] = None,
    no_behaviour: Annotated[bool, typer.Option("--no-behaviour", help="Skip behaviour voting (no independent versions are written).")] = False,
    strategy: Annotated[str, typer.Option("--strategy", help=f"Decoding strategy: {', '.join(STRATEGIES)}.")] = "speculative",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Most tokens to generate.")] = 128,
    candidates: Annotated[int, typer.Option("--candidates", min=1, help="Generate N candidates (greedy + seeds) and keep the one all models find most probable.")] = 1,
    language: Annotated[str, typer.Option("--language", help="Language of the generated code.")] = "python",
    calibration: Annotated[Path | None, typer.Option("--calibration", help="Consensus calibration JSON [default: the bundled one].", show_default=False)] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="Report format: text, json, sarif.")] = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the generated code to this file.", show_default=False)] = None,
    fail_on: Annotated[Severity, typer.Option("--fail-on", help="Exit 1 when a finding has at least this severity.")] = Severity.HIGH,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Do not stream tokens to stderr while generating.")] = False,
) -> int:
    """Generate code with speculative decoding, then check it: rules + cross-model consensus."""
    from detectors.consensus import load_calibration
    from detectors.consensus_pipeline import run_generate

    _check_choices(format, strategy)
    if not no_stream:
        sys.stderr.write(prompt)
    stream = None if no_stream else _stream_to_stderr
    validators = validator or DEFAULT_VALIDATORS
    report = run_generate(
        prompt, target=target, drafter=None if drafter.lower() == "none" else drafter, validators=validators,
        independents=[] if no_behaviour else independent, strategy=strategy, max_new_tokens=max_new_tokens,
        candidates=candidates, calibration=load_calibration(calibration), language=language,
        path=str(output) if output else f"<generated>.{_extension(language)}", on_token=stream)
    if not no_stream:
        sys.stderr.write("\n")
    if output is not None:
        try:
            output.write_text(report.code, encoding="utf-8")
        except OSError as exc:
            raise TrustcheckError(f"cannot write the code to {output}: {exc.strerror or exc}") from None
    _report(report.findings, format, stats=report.stats, code=report.code, extra=report)
    return _exit(report.findings, fail_on)


def consensus(
    file: Annotated[Path, typer.Argument(help="Code file to judge (written elsewhere, e.g. in a pull request).")],
    prompt: Annotated[str, typer.Option("--prompt", help="The prompt the code was written for, when known.")] = "",
    validator: Annotated[list[str] | None, typer.Option("--validator", help="Validator model (repeatable) [default: the bundled validators].", show_default=False)] = None,
    calibration: Annotated[Path | None, typer.Option("--calibration", help="Calibration JSON [default: the bundled one].", show_default=False)] = None,
    generator: Annotated[str | None, typer.Option("--generator", help="The local model that wrote the code, when known: adds the log-likelihood ratio.", show_default=False)] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="Report format: text, json, sarif.")] = "text",
    fail_on: Annotated[Severity, typer.Option("--fail-on", help="Exit 1 when a finding has at least this severity.")] = Severity.HIGH,
) -> int:
    """Token-likelihood consensus on existing code: lines the validators agree are improbable."""
    from detectors.consensus import load_calibration
    from detectors.consensus_pipeline import run_consensus
    from detectors.languages import language_for

    _check_choices(format, "speculative")
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustcheckError(f"cannot read {file}: {exc}") from None
    language = language_for(str(file), code[:200].encode()) or "python"
    findings, verdicts = run_consensus(code, str(file), prompt=prompt, validators=validator or DEFAULT_VALIDATORS,
                                       calibration=load_calibration(calibration), language=language,
                                       generator=generator)
    _report(findings, format, stats={"lines_scored": len(verdicts)}, code=code)
    return _exit(findings, fail_on)


def consensus_calibrate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Clean code (files or folders of .py files) held out from training.", show_default=False)] = None,
    eval_manifest: Annotated[Path | None, typer.Option("--eval-manifest", help="A corpus manifest.json (decoding.training.corpus): calibrate on its held-out 'eval' shard.", show_default=False)] = None,
    validator: Annotated[list[str] | None, typer.Option("--validator", help="Validator to calibrate (repeatable).", show_default=False)] = None,
    fpr: Annotated[float, typer.Option("--fpr", help="Fraction of clean lines allowed to be flagged.")] = 0.01,
    max_files: Annotated[int, typer.Option("--max-files", help="Use at most this many files (sorted by path).")] = 200,
    max_chars: Annotated[int, typer.Option("--max-chars", help="Use at most this many characters of each file (whole lines).")] = 4000,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write [default: decoding/bundled/consensus-calibration.json].", show_default=False)] = None,
) -> int:
    """Calibrate consensus thresholds on clean code for a chosen false-positive rate (reproducible:
    files are taken in sorted order; models are deterministic)."""
    from detectors.consensus import BUNDLED_CALIBRATION
    from detectors.consensus_calibration import calibrate_models
    from detectors.consensus_pipeline import load_validators

    files = sorted({f for p in paths or [] for f in ([p] if p.is_file() else p.rglob("*.py"))})
    if eval_manifest is not None:
        import json

        try:
            entries = json.loads(eval_manifest.read_text())["shards"]["eval"]["entries"]
        except (OSError, ValueError, KeyError) as exc:
            raise TrustcheckError(f"cannot read the eval shard of {eval_manifest}: {exc}") from None
        files += sorted(Path(e["path"]) for e in entries if Path(e["path"]).exists())
    files = files[:max_files]
    if not files:
        raise TrustcheckError("no clean code found to calibrate on", hint="pass files or folders holding .py files")
    texts = [_head(f.read_text(encoding="utf-8", errors="replace"), max_chars) for f in files]
    scorers, _ = load_validators(validator or DEFAULT_VALIDATORS)
    where = ", ".join([*map(str, paths or []), *([f"eval shard of {eval_manifest}"] if eval_manifest else [])])
    cal = calibrate_models(scorers, texts, fpr, source=f"{len(files)} files: {where}")
    target = out or BUNDLED_CALIBRATION
    cal.save(target)
    print(f"calibrated {', '.join(cal.validators)} on {cal.lines} lines: threshold {cal.threshold:.3f} "
          f"at fpr {fpr} -> {target}")
    return ExitCode.OK


def _head(text: str, max_chars: int) -> str:
    """At most `max_chars` characters of `text`, cut after a newline."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", 0, max_chars)
    return text[: cut + 1] if cut > 0 else text[:max_chars]


def _check_choices(format: str, strategy: str) -> None:
    if format not in FORMATS:
        raise TrustcheckError(f"unknown format {format!r}", hint=f"choose one of {', '.join(FORMATS)}")
    if strategy not in STRATEGIES:
        raise TrustcheckError(f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}")


def _stream_to_stderr(piece: str) -> None:
    sys.stderr.write(piece)
    sys.stderr.flush()


def _extension(language: str) -> str:
    from detectors.languages import LANGUAGES

    spec = LANGUAGES.get(language)
    return spec.extensions[0].lstrip(".") if spec else "txt"


def _report(findings: list[Finding], format: str, *, stats: dict, code: str, extra=None) -> None:
    from trustcheck.pipeline import ScanResult
    from trustcheck.reporters import REPORTERS, ReportContext

    result = ScanResult(findings=findings, errors=[], stats=stats)
    if format != "text":
        sys.stdout.write(REPORTERS[format](result, ReportContext()))
        return
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True, no_color=bool(os.environ.get("NO_COLOR")))
    render_code(console, code, findings)
    if extra is not None and extra.candidates:
        render_candidates(Console(stderr=True), extra.candidates)
    if extra is not None and getattr(extra.generation, "trace", None) is not None and extra.generation.trace.rounds:
        from decoding.trace import render_efficiency, summarize

        render_efficiency(summarize(extra.generation.trace))
    sys.stdout.write(REPORTERS["text"](result, ReportContext()))


def render_code(console, code: str, findings: list[Finding]) -> None:
    """The code with line numbers; flagged lines highlighted and marked with their rule ids."""
    by_line: dict[int, list[Finding]] = {}
    for f in findings:
        by_line.setdefault(f.line, []).append(f)
    for number, line in enumerate(code.rstrip("\n").split("\n"), start=1):
        hits = by_line.get(number)
        if hits:
            worst = max(hits, key=lambda f: f.severity.rank)
            style = "bold white on red" if worst.severity.rank >= Severity.HIGH.rank else "black on yellow"
            ids = ", ".join(sorted({f.rule_id for f in hits}))
            console.print(f"{number:4d} ! ", end="")
            console.print(line, style=style, end="", markup=False)
            console.print(f"  <- {ids}", style="dim", markup=False)
        else:
            console.print(f"{number:4d}   {line}", markup=False)


def render_candidates(console, candidates) -> None:
    from rich.table import Table

    table = Table(title="best-of-N: cross-model log-likelihood per character (higher is more probable)")
    names = list(candidates[0].per_model) if candidates else []
    for col in ["candidate", *names, "mean"]:
        table.add_column(Path(col.rstrip("/")).name if "/" in col else col, justify="right")
    for i, c in enumerate(candidates):
        table.add_row(("* " if i == 0 else "") + c.label, *(f"{c.per_model[n]:.3f}" for n in names), f"{c.score:.3f}")
    console.print(table)


def _exit(findings: list[Finding], fail_on: Severity) -> int:
    return int(ExitCode.FINDINGS if any(f.severity.rank >= fail_on.rank for f in findings) else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command()(generate)
    app.command()(consensus)
    app.command("consensus-calibrate")(consensus_calibrate)
