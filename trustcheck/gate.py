"""The diff-aware gate behind `trustcheck ci`, `trustcheck ci --staged` and `trustcheck scan --diff`.

    change (base..head) -> files it touches -> detectors on the head contents -> findings on added
    or modified lines (every line of a new file) -> suppressions -> baseline -> ScanResult

In CI mode (`tamper_proof=True`) the pull request is judged by the base branch's rules: the
configuration ([tool.trustcheck] in pyproject.toml), rule folders it names and the findings
baseline are read from the base commit with `git show`, suppression comments the change adds are
reported (rule `ci-new-suppression`) instead of obeyed, and configuration edits that would weaken
the gate are reported (rule `ci-config-weakened`).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trustcheck import tamper
from trustcheck.baseline import BASELINE_FILE, Baseline
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Finding
from trustcheck.git import INDEX, WORKTREE, FileChange, Repo
from trustcheck.sources import Source

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's id for the empty tree


@dataclasses.dataclass
class GateOptions:
    base: str | None = None  # None: from the CI variables (ci) or HEAD (staged)
    head: str | None = None  # None: HEAD (ci), the index (staged), the working tree (diff)
    mode: str = "ci"  # "ci" | "staged" | "diff"
    allow_new_suppressions: bool = False
    allow_dirty: bool = False
    baseline: str | None = BASELINE_FILE  # repo-relative; None: no baseline
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # CLI flags over config
    config: Any = None  # a Config already loaded (scan --diff); never used in CI mode

    @property
    def tamper_proof(self) -> bool:
        return self.mode == "ci"


@dataclasses.dataclass
class GateRun:
    """What the gate saw: the result to report plus the context a reporter or test may want."""

    result: Any  # trustcheck.pipeline.ScanResult
    config: Any  # trustcheck.config.Config that judged the change
    base: str  # the commit the change is measured from (merge base in CI)
    head: str  # a commit id, INDEX or WORKTREE
    changes: list[FileChange]


def default_base(env: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The ref a CI job's change targets: GitHub's GITHUB_BASE_REF, GitLab's
    CI_MERGE_REQUEST_TARGET_BRANCH_NAME (both as origin/<branch>), else origin/HEAD."""
    for name in ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        branch = env.get(name, "").strip()
        if branch:
            return f"origin/{branch}"
    return "origin/HEAD"


def run_gate(options: GateOptions, start: str | os.PathLike[str] = ".") -> GateRun:
    """Judge one change; see the module docstring. Raises TrustcheckError for what a user can fix."""
    from trustcheck import pipeline

    repo = Repo.discover(start)
    base, head, trusted_at = _sides(repo, options)
    display = _display(repo)
    changes = [c for c in repo.changes(base, head) if c.status != "deleted"]
    if options.config is not None and not options.tamper_proof:
        config = options.config
    else:
        config = tamper.load_config_at(repo, trusted_at, options.overrides)
    extra: list[Finding] = []
    if options.tamper_proof:
        extra += _tampering(repo, config, head, changes, options, display)

    by_path = {c.path: c for c in changes}
    contents = repo.read(head, sorted(by_path))
    sources = _sources(by_path, contents, config, display)
    change_of = {display(p): c for p, c in by_path.items()}  # finding path -> its change

    # In CI the gate applies suppressions itself (tamper.ci_suppress), so the pipeline obeys none.
    strict = options.tamper_proof and not options.allow_new_suppressions
    scanned = pipeline.scan_sources(sources, config, obey=(lambda path, s: False) if strict else None,
                                    detectors=_changed_functions_only(config, change_of, sources))
    if strict:
        scanned, reports = _suppress_under_ci_rules(repo, base, scanned, sources, change_of)
        extra += reports

    def touched(f: Finding) -> bool:
        return change_of[f.path].touches(f.line, f.end_line)

    kept, baselined = scanned.findings, 0
    on_changed = sum(1 for f in kept if touched(f))
    baseline = _load_baseline(repo, options.baseline, trusted_at) if options.baseline else None
    if baseline is not None:
        # Match against every finding in the changed files, untouched ones first, so the
        # baseline's counts are spent on the code that was already there.
        repo_path = {display(p): p for p in by_path}
        kept, old = _split_baseline(baseline, kept, str(options.baseline), by_path, contents, repo_path, touched)
        baselined = sum(1 for f in old if touched(f))
    findings = sorted([f for f in kept if touched(f)] + _fingerprinted(extra),
                      key=lambda f: (f.path, f.line, f.column, f.rule_id))
    stats = {**scanned.stats, **_counts(findings), "changed_files": len(changes), "scanned_files": len(sources),
             "findings_on_changed_lines": on_changed, "baselined": baselined, "base": base[:12],
             "head": head if head in (INDEX, WORKTREE) else head[:12]}
    result = dataclasses.replace(scanned, findings=findings, stats=stats)
    return GateRun(result, config, base, head, changes)


def _suppress_under_ci_rules(repo: Repo, base: str, scanned: Any, sources: list[Source],
                             change_of: dict[str, FileChange]) -> tuple[Any, list[Finding]]:
    """The scan result with suppressions applied by tamper.ci_suppress, file by file, and the
    ci-new-suppression reports."""
    old_paths = sorted({c.old_path for c in change_of.values() if c.old_path})
    base_contents = repo.read(base, old_paths)
    by_path: dict[str, list[Finding]] = {}
    for f in scanned.findings:
        by_path.setdefault(f.path, []).append(f)
    judged: list[Finding] = []
    reports: list[Finding] = []
    for source in sources:
        change = change_of[source.path]
        kept, found = tamper.ci_suppress(source.path, by_path.get(source.path, []), source.content,
                                         base_contents.get(change.old_path or ""), change)
        judged += kept
        reports += found
    stats = {**scanned.stats, "suppressed": len(scanned.findings) - len(judged)}
    return dataclasses.replace(scanned, findings=judged, stats=stats), reports


def _fingerprinted(findings: list[Finding]) -> list[Finding]:
    """The gate's own findings with fingerprints distinct among identical ones in a file (the
    index among them, in line order), as the pipeline does for detector findings."""
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for f in sorted(findings, key=lambda f: (f.path, f.line, f.column, f.rule_id)):
        key = (f.rule_id, f.path, " ".join(f.snippet.split()))
        out.append(f.with_fingerprint(seen[key]))
        seen[key] += 1
    return out


def _counts(findings: list[Finding]) -> dict[str, Any]:
    severities = Counter(f.severity for f in findings)
    return {"findings": len(findings),
            "by_severity": {s.value: severities[s] for s in sorted(severities, key=lambda s: -s.rank)},
            "by_detector": dict(sorted(Counter(f.detector for f in findings).items()))}


def scan_diff(ref: str, config: Any, *, baseline_file: str | None = None) -> Any:
    """`trustcheck scan --diff REF`: findings on the lines the working tree (staged, unstaged and
    untracked files) adds relative to where it forked from REF, judged by `config`; a ScanResult.
    `baseline_file` (relative to the working directory) defaults to the repository's
    .trustcheck-baseline.json when there is one."""
    baseline = BASELINE_FILE
    if baseline_file is not None:
        if not os.path.isfile(baseline_file):
            raise TrustcheckError(f"baseline {baseline_file} does not exist",
                                  hint="create it with `trustcheck baseline create`")
        root = Repo.discover(".").root
        baseline = Path(os.path.relpath(os.path.abspath(baseline_file), root)).as_posix()
    return run_gate(GateOptions(base=ref, mode="diff", baseline=baseline, config=config)).result


class _ChangedFunctionsDetector:
    """Wraps the anomaly detector so it scores only the functions a change added or edited."""

    def __init__(self, inner: Any, ranges: dict[str, list[tuple[int, int]] | None]):
        self.inner, self.ranges, self.name = inner, ranges, inner.name

    def detect(self, source: Source) -> list[Finding]:
        found: list[Finding] = self.inner.score_functions(source, self.ranges.get(source.path))
        return found


def _changed_functions_only(config: Any, change_of: dict[str, FileChange], sources: list[Source]) -> list[Any] | None:
    """The config's detectors with the anomaly one narrowed to changed functions; None (the
    pipeline's own, possibly parallel, choice) when no detector scores functions."""
    from trustcheck import pipeline

    detectors = pipeline.detectors_for(config, {s.language for s in sources})
    if not any(hasattr(d, "score_functions") for d in detectors):
        return None
    ranges = {p: None if c.status == "added" else _ranges(c.added_lines) for p, c in change_of.items()}
    return [_ChangedFunctionsDetector(d, ranges) if hasattr(d, "score_functions") else d for d in detectors]


def _tampering(repo: Repo, config: Any, head: str, changes: list[FileChange], options: GateOptions,
               display: Callable[[str], str]) -> list[Finding]:
    """ci-config-weakened / ci-baseline-edited findings for what the change does to the gate."""
    found: list[Finding] = []
    touched = {c.path for c in changes}
    if tamper.CONFIG_FILE in touched:
        try:
            head_config = tamper.load_config_at(repo, head, options.overrides, quiet=True)
        except TrustcheckError as exc:
            found.append(tamper.broken_config(str(exc), display(tamper.CONFIG_FILE)))
        else:
            found += tamper.config_weakening(repo, config, head_config, head, display)
    if options.baseline and options.baseline in touched:
        found.append(tamper.baseline_edited(display(options.baseline)))
    model = sorted(p for p in touched if p.startswith(tamper.ANOMALY_DIR + "/"))
    if model:
        found.append(tamper.baseline_edited(display(model[0]), anomaly=True))
    return found


def _split_baseline(baseline: Baseline, findings: list[Finding], baseline_path: str, by_path: dict[str, FileChange],
                    contents: dict[str, bytes | None], repo_path: dict[str, str],
                    touched: Callable[[Finding], bool]) -> tuple[list[Finding], list[Finding]]:
    """Baseline paths are relative to the baseline file's folder and name the base side of a
    renamed file; context lines come from the head contents."""
    folder = posixpath.dirname(baseline_path)
    base_side = {p: c.old_path or p for p, c in by_path.items()}
    head_side = {posixpath.relpath(old, folder or "."): head for head, old in base_side.items()}
    cache: dict[str, list[str] | None] = {}

    def lines_for(rel: str) -> list[str] | None:
        if rel not in cache:
            content = contents.get(head_side.get(rel, rel))
            cache[rel] = None if content is None else content.decode("utf-8", "replace").splitlines()
        return cache[rel]

    def path_of(path: str) -> str:
        return posixpath.relpath(base_side[repo_path[path]], folder or ".")

    return baseline.split(findings, lines_for, path_of=path_of, changed=touched)


def _ranges(lines: frozenset[int]) -> list[tuple[int, int]]:
    """Sorted line numbers as inclusive (start, end) runs."""
    runs: list[tuple[int, int]] = []
    for n in sorted(lines):
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _sides(repo: Repo, options: GateOptions) -> tuple[str, str, str]:
    """(diff base, head side, where trusted config comes from) for the mode."""
    if options.mode == "staged":
        base = repo.resolve(options.base) if options.base else (
            repo.resolve("HEAD") if repo.has_ref("HEAD") else EMPTY_TREE)
        return base, INDEX, WORKTREE
    if options.mode == "diff":
        ref = repo.resolve(options.base or "HEAD")
        base = repo.merge_base(ref, repo.resolve("HEAD")) if repo.has_ref("HEAD") else ref
        return base, WORKTREE, WORKTREE
    head = repo.resolve(options.head or "HEAD")
    if options.head is None and not options.allow_dirty:
        dirty = repo.dirty_files()
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            raise TrustcheckError(
                f"the working tree has uncommitted changes ({shown}); `trustcheck ci` judges commit "
                f"{head[:12]}, so those edits would not be checked and the result would not describe the files on disk",
                hint="commit them, pass --allow-dirty to judge the commit anyway, or use `trustcheck scan --diff REF` "
                     "to check uncommitted work")
    base_ref = repo.resolve(options.base or _default_base_in(repo))
    base = repo.merge_base(base_ref, head)
    return base, head, base


def _default_base_in(repo: Repo) -> str:
    """default_base(), falling back from origin/HEAD (which actions/checkout does not create) to
    origin/main or origin/master when those exist."""
    ref = default_base()
    if ref == "origin/HEAD" and not repo.has_ref(ref):
        return next((r for r in ("origin/main", "origin/master") if repo.has_ref(r)), ref)
    return ref


def _sources(by_path: dict[str, FileChange], contents: dict[str, bytes | None], config: Any,
             display: Callable[[str], str]) -> list[Source]:
    """Sources for the changed files trustcheck has a language for and the config does not exclude
    (exclude patterns are relative to the repository root, where the trusted config lives)."""
    import pathspec

    from detectors.languages import language_for

    exclude = pathspec.GitIgnoreSpec.from_lines(config.exclude) if config.exclude else None
    sources = []
    for path in sorted(by_path):
        content = contents.get(path)
        if content is None or (exclude is not None and exclude.match_file(path)):
            continue
        language = language_for(path, content[:256])
        if language is not None:
            sources.append(Source(display(path), language, content))
    return sources


def _display(repo: Repo) -> Callable[[str], str]:
    """Repo-relative path -> the path findings carry (relative to the working directory)."""
    cwd = os.path.realpath(os.getcwd())
    root = os.path.realpath(repo.root)
    if cwd == root:
        return lambda p: p
    return lambda p: Path(os.path.relpath(os.path.join(root, p), cwd)).as_posix()


def _load_baseline(repo: Repo, path: str, at: str) -> Baseline | None:
    if at == WORKTREE:
        full = repo.root / path
        return Baseline.load(full) if full.exists() else None
    content = repo.show(at, path)
    return None if content is None else Baseline.loads(content, where=f"{path} at {at[:12]}")


__all__ = ["GateOptions", "GateRun", "default_base", "run_gate", "scan_diff"]
