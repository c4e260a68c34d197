"""Tamper resistance for the CI gate: a pull request is judged by the base branch's rules.

- `load_config_at` reads [tool.trustcheck] (and the rule folders and anomaly baseline it relies
  on) from a commit, so edits the pull request makes to them have no effect on its own verdict.
- `config_weakening` reports those edits when they would weaken the gate (`ci-config-weakened`).
- `ci_suppress` obeys only suppression comments that already existed on the base side, and on
  lines the change adds only where the base had the same comment over the same code; comments the
  change adds are reported (`ci-new-suppression`) and the findings they would hide stay.
"""

from __future__ import annotations

import atexit
import dataclasses
import io
import os
import re
import shutil
import tarfile
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trustcheck.errors import TrustcheckError
from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.git import WORKTREE, FileChange, Repo

CONFIG_FILE = "pyproject.toml"
ANOMALY_DIR = ".trustcheck/anomaly"  # detectors.anomaly.BASELINE_DIR, kept as a string here
WEAKENED = "ci-config-weakened"
NEW_SUPPRESSION = "ci-new-suppression"
BASELINE_EDITED = "ci-baseline-edited"

# Config fields that do not change what the gate reports.
_NEUTRAL_FIELDS = {"format", "jobs", "root", "source"}


def load_config_at(repo: Repo, at: str, overrides: Mapping[str, Any] | None = None, *, quiet: bool = False) -> Any:
    """The Config that `at` (a commit, or WORKTREE for the files on disk) defines, CLI overrides
    applied. For a commit, pyproject.toml, the rule folders it names and the anomaly baseline are
    copied out of git into a private folder that the Config's `root` then points at."""
    from trustcheck.config import load_config

    if at == WORKTREE:
        return load_config(repo.root, overrides)
    folder = Path(tempfile.mkdtemp(prefix=f"trustcheck-{at[:8]}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    text = repo.show(at, CONFIG_FILE) or b""
    (folder / CONFIG_FILE).write_bytes(text)
    try:
        config = load_config(folder, overrides, config_file=folder / CONFIG_FILE)
    except TrustcheckError as exc:
        if quiet:
            raise
        raise TrustcheckError(f"{CONFIG_FILE} at {at[:12]} (the base the change is judged by): {exc}",
                              hint=exc.hint or "fix the configuration on the base branch first") from None
    wanted = [os.path.relpath(r, folder) for r in config.rules] + [ANOMALY_DIR]
    _export(repo, at, [w for w in wanted if not w.startswith("..")], folder)
    return config


def _export(repo: Repo, at: str, paths: list[str], into: Path) -> None:
    """Copy `paths` (folders or files) as they are at commit `at` into `into`; absent ones are skipped."""
    present = [p for p in paths if repo.git("ls-tree", "--name-only", at, "--", p, what=f"list {p} at {at[:12]}").strip()]
    if not present:
        return
    archive = repo.git("archive", "--format=tar", at, "--", *present, what=f"export {', '.join(present)} at {at[:12]}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(into, filter="data")
        else:  # git archive of our own commit: no absolute or .. members, but check anyway
            members = [m for m in tar.getmembers() if (m.isfile() or m.isdir()) and not (
                m.name.startswith("/") or ".." in m.name.split("/"))]
            tar.extractall(into, members=members)


def config_weakening(repo: Repo, base: Any, head: Any, head_ref: str, display: Any = str) -> list[Finding]:
    """Findings for each way `head`'s configuration would report less than `base`'s."""
    findings: list[Finding] = []
    lines = (repo.show(head_ref, CONFIG_FILE) or b"").decode("utf-8", "replace").splitlines()
    for field in dataclasses.fields(base):
        name = field.name
        old, new = getattr(base, name), getattr(head, name)
        if name in _NEUTRAL_FIELDS:
            continue
        if name == "rules":  # absolute paths under two different private folders: compare relative
            old = tuple(os.path.relpath(r, base.root) for r in old)
            new = tuple(os.path.relpath(r, head.root) for r in new)
        if old == new:
            continue
        why = _weakens(name, old, new)
        if why is None:
            continue
        key = name.replace("_", "-")
        line = _key_line(lines, key)
        findings.append(Finding(
            rule_id=WEAKENED, detector="ci", severity=Severity.HIGH, confidence=Confidence.HIGH,
            message=(f"This change edits [tool.trustcheck] {key} in a way that would weaken the gate ({why}). "
                     f"The gate judged it with the base branch's setting; a maintainer should review the edit."),
            path=display(CONFIG_FILE), line=line, snippet=lines[line - 1] if line <= len(lines) else "",
            evidence={"key": key, "base": _plain(old), "head": _plain(new)},
        ).with_fingerprint(len(findings)))
    return findings


def _weakens(name: str, old: Any, new: Any) -> str | None:
    """Why going from `old` to `new` reports less, or None if it does not."""
    if isinstance(old, Severity):
        return f"{old.value} -> {new.value}" if new.rank > old.rank else None
    if name == "select":
        if not old and new:
            return f"only {', '.join(new)} would run"
        dropped = [s for s in old if s not in new]
        return f"stops running {', '.join(dropped)}" if dropped and new else None
    if name in ("ignore", "exclude"):
        added = [s for s in new if s not in old]
        return f"adds {', '.join(added)}" if added else None
    if name == "rules":
        dropped = [r for r in old if r not in new]
        return f"drops rule folder(s) {', '.join(dropped)}" if dropped else None
    if isinstance(old, bool):
        if name == "skip_errors":
            return "unscannable files would no longer fail the gate" if new and not old else None
        return f"turns {name.replace('_', '-')} off" if old and not new else None
    if isinstance(old, int):
        return f"{old} -> {new}" if new < old else None
    return f"{old!r} -> {new!r}"


def _key_line(lines: list[str], key: str) -> int:
    """1-based line of `key = ...` in [tool.trustcheck] (else the table header, else 1)."""
    table_line, in_table = 0, False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped.replace(" ", "") == "[tool.trustcheck]"
            if in_table:
                table_line = number
        elif in_table and re.match(rf"[\"']?{re.escape(key)}[\"']?\s*=", stripped):
            return number
    return table_line or 1


def _plain(value: Any) -> Any:
    if isinstance(value, Severity):
        return value.value
    return list(value) if isinstance(value, tuple) else value


def baseline_edited(path: str, display: Any = str, *, anomaly: bool = False) -> Finding:
    what = "the fitted anomaly model" if anomaly else "the findings baseline"
    return Finding(
        rule_id=BASELINE_EDITED, detector="ci", severity=Severity.LOW, confidence=Confidence.HIGH,
        message=(f"This change edits {what}. The gate used the base branch's copy, so what the change adds "
                 "is still judged against it; the edit takes effect once merged."),
        path=display(path), line=1,
    ).with_fingerprint()


# -- suppressions ---------------------------------------------------------------------------------


def new_suppressions(head: bytes, base: bytes | None, change: FileChange) -> list[Any]:
    """The suppression comments (trustcheck.suppressions.Suppression) the change adds to a file:
    on a line the change added, and not accounted for by an identical line on the base side (so
    code that merely moved keeps its existing suppressions)."""
    from trustcheck.suppressions import parse_suppressions

    head_lines = head.split(b"\n")
    available = Counter(_line_key(base.split(b"\n"), s.line) for s in parse_suppressions(base)) if base else Counter()
    # Comments on untouched lines account for their base copies first, so a pasted duplicate of an
    # existing suppressed line counts as new.
    ordered = sorted(parse_suppressions(head), key=lambda s: (change.touches(s.line), s.line))
    fresh = []
    for s in ordered:
        key = _line_key(head_lines, s.line)
        if available[key] > 0:
            available[key] -= 1
        elif change.touches(s.line):
            fresh.append(s)
    return sorted(fresh, key=lambda s: (s.line, s.column))


def ci_suppress(path: str, findings: list[Finding], head: bytes, base: bytes | None,
                change: FileChange) -> tuple[list[Finding], list[Finding]]:
    """(findings that stand, ci-new-suppression reports) for one file under CI rules:

    - a suppression the change adds (`new_suppressions`) hides nothing and is reported;
    - an older one hides findings on untouched lines as usual, but a finding on a line the change
      added or edited only when the base side already had the same comment covering the same code
      (so re-indented or moved code keeps its suppression, while new code slipped in under an
      existing comment, on its line or the line after it, does not)."""
    from trustcheck.suppressions import parse_suppressions

    fresh = [s for s in new_suppressions(head, base, change) if s.rule_ids]
    reports = [suppression_finding(path, s) for s in fresh]
    suppressions = [s for s in parse_suppressions(head) if s.rule_ids and s not in fresh]
    if not suppressions:
        return findings, reports
    head_lines = head.split(b"\n")
    reviewed = _covered_pairs(base) if base else set()
    kept = []
    for f in findings:
        covering = [s for s in suppressions if s.covers(f)]
        if covering and (not change.touches(f.line) or any(
                (_line_key(head_lines, s.line), f.line - s.line, _line_key(head_lines, f.line)) in reviewed
                for s in covering)):
            continue
        kept.append(f)
    return kept, reports


def _covered_pairs(content: bytes) -> set[tuple[bytes, int, bytes]]:
    """(comment line, offset, covered line) for every suppression in a file, lines normalised."""
    from trustcheck.suppressions import parse_suppressions

    lines = content.split(b"\n")
    return {(_line_key(lines, s.line), offset, _line_key(lines, s.line + offset))
            for s in parse_suppressions(content) if s.rule_ids for offset in (0, 1)}


def suppression_finding(path: str, suppression: Any) -> Finding:
    ids = ", ".join(suppression.rule_ids) or "no rule"
    return Finding(
        rule_id=NEW_SUPPRESSION, detector="ci", severity=Severity.MEDIUM, confidence=Confidence.HIGH,
        message=(f"This change adds a suppression comment ({ids}). In CI the gate does not obey suppressions a "
                 "change adds to itself: the findings it would hide are reported. A maintainer should review it "
                 "(or rerun with --allow-new-suppressions)."),
        path=path, line=suppression.line, column=suppression.column, end_line=suppression.line,
        end_column=suppression.column + len(suppression.text), snippet=suppression.text,
    ).with_fingerprint()


def _line_key(lines: list[bytes], number: int) -> bytes:
    return b" ".join(lines[number - 1].split()) if 1 <= number <= len(lines) else b""


def broken_config(error: str, path: str) -> Finding:
    return Finding(
        rule_id=WEAKENED, detector="ci", severity=Severity.HIGH, confidence=Confidence.HIGH,
        message=f"This change leaves [tool.trustcheck] unreadable ({error}); the gate used the base branch's config.",
        path=path, line=1,
    ).with_fingerprint()


# -- rule metadata for reporters (SARIF rule descriptors) ------------------------------------------


@dataclasses.dataclass(frozen=True)
class GateRule:
    id: str
    severity: Severity
    confidence: Confidence
    message: str
    docs: dict[str, Any]
    cwe: str | None = None


GATE_RULES = {r.id: r for r in (
    GateRule(WEAKENED, Severity.HIGH, Confidence.HIGH,
             "A change edits [tool.trustcheck] so that the gate would report less.",
             {"what": "The pull request raises fail-on or min-severity, adds ignore/exclude entries, narrows select, "
                      "drops rule folders or turns a detector off.",
              "why": "A change must not choose the rules it is judged by; the gate uses the base branch's "
                     "configuration, and the edit needs a maintainer's review.",
              "use_instead": "Change the configuration in a separate, reviewed pull request.", "references": []}),
    GateRule(NEW_SUPPRESSION, Severity.MEDIUM, Confidence.HIGH,
             "A change adds a `trustcheck: ignore[...]` comment, which CI reports instead of obeying.",
             {"what": "A suppression comment on a line the pull request adds.",
              "why": "Code that silences its own findings is how a backdoor would pass review; the gate keeps the "
                     "findings and reports the comment.",
              "use_instead": "Fix the code, or have a maintainer accept the finding in the baseline "
                             "(`trustcheck baseline update`) or rerun with --allow-new-suppressions.", "references": []}),
    GateRule(BASELINE_EDITED, Severity.LOW, Confidence.HIGH,
             "A change edits the findings baseline (the gate used the base branch's copy).",
             {"what": "The pull request modifies .trustcheck-baseline.json.",
              "why": "A change must not accept its own findings; the new baseline applies once merged.",
              "use_instead": "Update the baseline in a separate, reviewed pull request.", "references": []}),
)}
