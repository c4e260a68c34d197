"""The findings baseline: findings a team has already accepted, so later scans report only new ones.

A baseline entry is keyed on rule + path + the code around the finding (its line and one line
either side, whitespace-normalised), never on the line number, so it survives code moving up or
down. Entries are counted: a baseline holding one `py-exec-base64` in a file hides one such finding
there, and a second identical one next to it is reported (bandit#1467 is the counter-example,
where one baselined issue hid every later issue of the same kind in the file).

Matching runs in two passes: exact context first, then the finding line alone, so an edit next to
a baselined finding does not resurrect it; each entry is consumed by at most one finding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trustcheck.errors import TrustcheckError
from trustcheck.findings import Finding

BASELINE_FILE = ".trustcheck-baseline.json"
FORMAT_VERSION = 1
CONTEXT_LINES = 1  # neighbours each side that go into the context fingerprint

LinesFor = Callable[[str], "list[str] | None"]  # repo-relative path -> the file's lines (or None)


@dataclasses.dataclass(frozen=True)
class BaselineEntry:
    rule_id: str
    path: str  # relative to the baseline's root, posix separators
    context: str  # hash of rule + path + normalised line and neighbours
    line_hash: str  # hash of rule + path + the normalised finding line alone
    line: int = 0  # where it was when recorded: for people reading the file, not for matching
    severity: str = ""
    message: str = ""


@dataclasses.dataclass
class Baseline:
    entries: list[BaselineEntry]

    def split(self, findings: Iterable[Finding], lines_for: LinesFor, *, path_of: Callable[[str], str] = lambda p: p,
              changed: Callable[[Finding], bool] | None = None) -> tuple[list[Finding], list[Finding]]:
        """(new, baselined): which findings the baseline does not cover, and which it does.
        `path_of` maps a finding's path to the baseline's relative path (and renames). Pass every
        finding of a file, not only those on changed lines; `changed(f)` says which ones a change
        touched, and entries go to untouched findings first, so a copy of a baselined finding
        added next to it (above or below) is the one reported."""
        findings = sorted(findings, key=lambda f: (changed(f) if changed else False, f.path, f.line, f.column, f.rule_id))
        keys = [fingerprints(f.rule_id, path_of(f.path), lines_for(path_of(f.path)), f.line) for f in findings]
        by_context: dict[str, int] = defaultdict(int)
        by_line: dict[str, int] = defaultdict(int)
        for entry in self.entries:
            by_context[entry.context] += 1
        matched = [False] * len(findings)
        for i, (context, _) in enumerate(keys):
            if by_context[context] > 0:
                by_context[context] -= 1
                matched[i] = True
        # Entries left after the exact pass may still match on the finding line alone.
        left = dict(by_context)
        for entry in self.entries:
            if left.get(entry.context, 0) > 0:
                left[entry.context] -= 1
                by_line[entry.line_hash] += 1
        for i, (_, line_hash) in enumerate(keys):
            if not matched[i] and by_line[line_hash] > 0:
                by_line[line_hash] -= 1
                matched[i] = True
        def order(f: Finding) -> tuple[str, int, int, str]:
            return (f.path, f.line, f.column, f.rule_id)

        new = sorted((f for f, m in zip(findings, matched) if not m), key=order)
        old = sorted((f for f, m in zip(findings, matched) if m), key=order)
        return new, old

    def dumps(self) -> str:
        entries = sorted(self.entries, key=lambda e: (e.path, e.line, e.rule_id, e.context))
        data = {"version": FORMAT_VERSION, "tool": "trustcheck", "findings": [dataclasses.asdict(e) for e in entries]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str | bytes, *, where: str) -> Baseline:
        try:
            data = json.loads(text)
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"unsupported version {data.get('version')!r}")
            names = {f.name for f in dataclasses.fields(BaselineEntry)}
            entries = [BaselineEntry(**{k: v for k, v in e.items() if k in names}) for e in data["findings"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TrustcheckError(f"{where}: not a trustcheck baseline ({exc})",
                                  hint="recreate it with `trustcheck baseline create --force`") from exc
        return cls(entries)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Baseline:
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise TrustcheckError(f"cannot read baseline {path}: {exc.strerror}",
                                  hint="create one with `trustcheck baseline create`") from exc
        return cls.loads(text, where=str(path))


def build(findings: Iterable[Finding], lines_for: LinesFor, *, path_of: Callable[[str], str] = lambda p: p) -> Baseline:
    """A baseline holding every finding given (one entry per finding: counts come from repeats)."""
    entries = []
    for f in findings:
        rel = path_of(f.path)
        context, line_hash = fingerprints(f.rule_id, rel, lines_for(rel), f.line)
        entries.append(BaselineEntry(f.rule_id, rel, context, line_hash, f.line, f.severity.value, f.message))
    return Baseline(entries)


def fingerprints(rule_id: str, path: str, lines: list[str] | None, line: int) -> tuple[str, str]:
    """(context hash, line hash) for a finding at 1-based `line` of a file with `lines`."""
    lines = lines or []
    window = [_normalise(lines[n - 1]) if 1 <= n <= len(lines) else "" for n in
              range(line - CONTEXT_LINES, line + CONTEXT_LINES + 1)]
    own = window[CONTEXT_LINES]
    return _digest(rule_id, path, *window), _digest(rule_id, path, own)


def relative_to(root: str | os.PathLike[str]) -> Callable[[str], str]:
    """A `path_of` that turns finding paths (relative to the cwd or absolute) into posix paths
    relative to `root`."""
    base = os.path.abspath(root)

    def path_of(path: str) -> str:
        return Path(os.path.relpath(os.path.abspath(path), base)).as_posix()

    return path_of


def disk_lines(root: str | os.PathLike[str]) -> LinesFor:
    """A `lines_for` reading files under `root` from disk (cached per path)."""
    cache: dict[str, list[str] | None] = {}

    def lines_for(rel: str) -> list[str] | None:
        if rel not in cache:
            try:
                cache[rel] = Path(root, rel).read_bytes().decode("utf-8", "replace").splitlines()
            except OSError:
                cache[rel] = None
        return cache[rel]

    return lines_for


def _normalise(line: str) -> str:
    return " ".join(line.split())


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:24]


def filter_result(result: Any, baseline_file: str | os.PathLike[str]) -> Any:
    """A copy of a ScanResult holding only the findings `baseline_file` does not cover (paths in
    the baseline are relative to its folder); `stats["baselined"]` counts the ones it hid. For
    `trustcheck scan --baseline FILE` (the CI gate does its own matching)."""
    baseline = Baseline.load(baseline_file)
    root = Path(baseline_file).resolve().parent
    new, old = baseline.split(result.findings, disk_lines(root), path_of=relative_to(root))
    return dataclasses.replace(result, findings=new, stats={**result.stats, "findings": len(new), "baselined": len(old)})
