"""`trustcheck anomaly fit|score`: fit the anomaly baseline on a repository, score files against it.

numpy and scikit-learn load inside the command bodies only, so `trustcheck scan` stays fast.
"""

from __future__ import annotations

import enum
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from trustcheck.errors import ExitCode, TrustcheckError

BASELINE_DIR = Path(".trustcheck") / "anomaly"


class ModelKind(str, enum.Enum):
    isolation_forest = "isolation-forest"
    lof = "lof"
    ocsvm = "ocsvm"


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


def repo_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding .git or a saved baseline; else `start`."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists() or (candidate / BASELINE_DIR / "baseline.json").is_file():
            return candidate
    return folder


def fit(
    path: Annotated[Path, typer.Argument(help="Repository or folder to learn from (default: .)")] = Path("."),
    model: Annotated[ModelKind, typer.Option(help="Outlier model")] = ModelKind.isolation_forest,
    out: Annotated[Path | None, typer.Option(help="Where to save the baseline [default: <repo>/.trustcheck/anomaly]")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of files to leave out (repeatable)")] = None,
    language: Annotated[str, typer.Option(help="Language to learn: python, javascript, typescript, tsx")] = "python",
) -> None:
    """Fit the anomaly baseline on a repository's own functions (saved as .npz + JSON)."""
    from detectors.anomaly.fit import fit_baseline
    from detectors.anomaly.model import fit_model

    if not path.exists():
        raise TrustcheckError(f"{path}: no such file or folder", hint="pass the repository to learn from")
    started = time.perf_counter()
    root = repo_root(path)
    baseline = fit_baseline(path, model=model.value, language=language, exclude=tuple(exclude or ()),
                            relative_to=root)
    fit_model(baseline.matrix, model.value, baseline.settings["feature_names"])  # fails here, not at scan time
    directory = out or root / BASELINE_DIR
    baseline.settings["fit_seconds"] = round(time.perf_counter() - started, 3)
    baseline.save(directory)
    settings = baseline.settings
    print(f"fitted {settings['model']} on {settings['n_units']} units from {settings['n_files']} files "
          f"in {settings['fit_seconds']:.1f}s -> {directory}", file=sys.stderr)
    print(directory)


def score(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to score")],
    baseline: Annotated[Path | None, typer.Option(help="Baseline folder [default: <repo>/.trustcheck/anomaly]")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format")] = OutputFormat.text,
    threshold: Annotated[float | None, typer.Option(help="Report units above this baseline percentile")] = None,
    all_units: Annotated[bool, typer.Option("--all", help="List every unit's score, not only findings")] = False,
    fail_on: Annotated[str, typer.Option(help="Exit 1 on findings at or above this severity")] = "high",
) -> None:
    """Score files against the saved baseline and explain the functions that look out of place."""
    from detectors.anomaly.detector import AnomalyDetector
    from detectors.anomaly.fit import find_files, stale_files
    from detectors.languages import language_for
    from trustcheck.findings import Severity
    from trustcheck.sources import Source

    try:
        floor = Severity(fail_on)
    except ValueError:
        raise TrustcheckError(f"--fail-on {fail_on!r} is not a severity",
                              hint=f"one of: {', '.join(s.value for s in Severity)}") from None
    for path in paths:
        if not path.exists():
            raise TrustcheckError(f"{path}: no such file or folder", hint="pass files or folders to score")
    root = repo_root(paths[0] if paths else Path("."))
    directory = baseline or root / BASELINE_DIR
    detector = AnomalyDetector.from_dir(directory, threshold=threshold)
    fitted_root = directory.resolve().parent.parent if directory.resolve().parts[-2:] == BASELINE_DIR.parts \
        else Path(detector.baseline.settings["fitted_on"].get("root", root))
    changed = stale_files(detector.baseline, fitted_root)
    if changed:
        print(f"trustcheck: warning: the anomaly baseline is stale: {len(changed)} of the files it was fitted on "
              f"changed since (e.g. {changed[0]}); re-fit with `trustcheck anomaly fit`", file=sys.stderr)
    files: list[Path] = []
    for path in paths:
        files += find_files(path, detector.language)
    findings, units, n_units = [], [], 0
    for file in files:
        content = file.read_bytes()
        source = Source(str(file), language_for(str(file), content[:256]) or "", content)
        scored = detector.score_units(source)
        n_units += len(scored)
        if all_units:
            units += [{"path": str(file), "line": u.start_line, "unit": u.name, "score": round(s, 4),
                       "percentile": round(p, 2)} for u, s, p in scored]
        findings += detector.findings_for(source, scored)
    if not n_units:
        raise TrustcheckError(f"no {detector.language} functions found in {', '.join(map(str, paths))}",
                              hint=f"pass files or folders with {detector.language} code")
    _print(findings, units, output)
    if any(f.severity.rank >= floor.rank for f in findings):
        raise typer.Exit(ExitCode.FINDINGS)


def _print(findings: list, units: list[dict], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        print(json.dumps({"findings": [f.to_dict() for f in findings], **({"units": units} if units else {})},
                         indent=2))
        return
    for unit in sorted(units, key=lambda u: -u["score"]):
        print(f"{unit['percentile']:6.2f}%  {unit['score']:.4f}  {unit['path']}:{unit['line']}  {unit['unit']}")
    for f in findings:
        print(f"{f.path}:{f.line}: {f.severity.value} {f.rule_id}{f' ({f.cwe})' if f.cwe else ''}: {f.message}")
    print(f"{len(findings)} anomaly finding(s)", file=sys.stderr)


def register(app: typer.Typer) -> None:
    """Add `trustcheck anomaly fit|score` to the root app."""
    sub = typer.Typer(help="Anomaly model fitted on the repository's own code.", no_args_is_help=True)
    sub.command("fit")(fit)
    sub.command("score")(score)
    app.add_typer(sub, name="anomaly")
