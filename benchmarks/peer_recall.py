"""Recall and false hits of trustcheck's rule pack on peer scanners' labelled test inputs.

Reads ../shared/corpora (see its README-corpora.md); never copies from it. Measures:
  (a) bandit's examples: the installed `bandit -f json` issues, and the fraction trustcheck flags
      on an overlapping line (overall, per check family B1xx..B7xx, per test id), plus a
      count-based recall against bandit's functional-test expectations;
  (b) guarddog v2 semgrep annotations: fraction of `ruleid` lines hit and of `ok` lines hit;
  (c) guarddog v3: positive files flagged, benign files flagged;
  (d) Meta ICD unit cases (snippet -> expected count; right when both are zero or both non-zero)
      and its semgrep fixture annotations, per language trustcheck supports.
A "hit" is any trustcheck rule finding whose line span covers the target line: the peers'
taxonomies differ from ours, so a line counts as caught whichever of our rules catches it.
Thresholds: bandit and ICD flag insecure code at every severity, so (a) and (d) count findings
at or above --min-severity (default info: all). guarddog labels malware, and its `ok`/benign
cases are ordinary (if sloppy) code that bandit-style rules rightly mention at low/medium, so
(b) and (c) count findings at or above --gate (default high: what fails a commit by default);
the all-severity figures are printed beside them.

Usage: .venv/bin/python benchmarks/peer_recall.py [--corpora ../shared/corpora] [--min-severity low] [-v]
Ends with one line: bandit_examples=.. guarddog_ruleid=.. guarddog_ok_hit=.. guarddog_v3_pos=..
guarddog_v3_benign_hit=.. icd_cases=..
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.languages import language_for
from detectors.rules import RuleDetector
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Finding, Severity
from trustcheck.sources import Source

EXTENSIONS = {"python": ".py", "javascript": ".js", "typescript": ".ts", "go": ".go", "bash": ".sh"}


class Scanner:
    def __init__(self, min_severity: Severity):
        self.detector = RuleDetector()
        self.min_rank = min_severity.rank
        self._cache: dict[tuple[str, str], list[Finding]] = {}
        self.supported = {lang for r in self.detector.rules for lang in r.languages} | {"typescript", "tsx"}

    def scan(self, path: Path, language: str | None = None) -> list[Finding] | None:
        """Findings for a file, or None when its language is not supported."""
        content = path.read_bytes()
        language = language or language_for(str(path), content[:128])
        if language is None or language not in self.supported:
            return None
        return self.code(content, language, str(path))

    def code(self, content: bytes, language: str, name: str = "<snippet>") -> list[Finding]:
        key = (name, language)
        if name == "<snippet>" or key not in self._cache:
            try:
                findings = self.detector.detect(Source(name, language, content))
            except TrustcheckError:
                findings = []
            self._cache[key] = findings
        return [f for f in self._cache[key] if f.severity.rank >= self.min_rank]


def _covers(findings: list[Finding], first: int, last: int | None = None) -> bool:
    last = first if last is None else last
    return any(f.line <= last and (f.end_line or f.line) >= first for f in findings)


def _ratio(hit: int, total: int) -> float:
    return round(hit / total, 3) if total else float("nan")


def bandit_examples(corpora: Path, scanner: Scanner, verbose: bool) -> float:
    examples = corpora / "bandit" / "examples"
    bandit = shutil.which("bandit") or str(Path(sys.executable).with_name("bandit"))
    run = subprocess.run([bandit, "-f", "json", "-q", "-r", str(examples)], capture_output=True, text=True, check=False)
    issues = json.loads(run.stdout)["results"]
    cache: dict[str, list[Finding]] = {}
    by_family: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    by_test: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    missed: list[str] = []
    for issue in issues:
        name = issue["filename"]
        if name not in cache:
            cache[name] = scanner.scan(Path(name), "python") or []
        span = issue.get("line_range") or [issue["line_number"]]
        hit = _covers(cache[name], min(span), max(span))
        test = f"{issue['test_id']} {issue['test_name']}"
        for table, key in ((by_family, issue["test_id"][:2] + "xx"), (by_test, test)):
            table[key][0] += hit
            table[key][1] += 1
        if not hit:
            missed.append(f"{Path(name).name}:{issue['line_number']} {test}")
    total_hit = sum(h for h, _ in by_family.values())
    print(f"(a) bandit examples: {total_hit}/{len(issues)} bandit issues flagged on the same line = {_ratio(total_hit, len(issues))}")
    for family, (hit, total) in sorted(by_family.items()):
        print(f"    {family}: {hit}/{total} = {_ratio(hit, total)}")
    if verbose:
        for test, (hit, total) in sorted(by_test.items()):
            print(f"      {test}: {hit}/{total}")
        for line in missed:
            print(f"      missed {line}")
    labels = json.loads((corpora / "bandit" / "labels" / "functional_expected_counts.json").read_text())
    expected = got = 0
    for case in labels["cases"]:
        path = corpora / "bandit" / case["example"]
        want = sum(case["expected_severity"].values())
        if not path.exists() or not want:
            continue
        findings = cache.get(str(path)) if str(path) in cache else scanner.scan(path, "python") or []
        lines = {f.line for f in findings or []}
        expected += want
        got += min(want, len(lines))
    print(f"    vs functional_expected_counts.json: {got}/{expected} expected issues matched by distinct flagged lines = {_ratio(got, expected)}")
    return _ratio(total_hit, len(issues))


def guarddog_v2(corpora: Path, scanner: Scanner, verbose: bool) -> tuple[float, float]:
    root = corpora / "guarddog" / "v2.10.0-semgrep"
    labels = json.loads((root / "labels" / "semgrep_test_annotations.json").read_text())
    gate = scanner.min_rank
    results = {}
    for label, rank in (("all severities", Severity.INFO.rank), (f"gate >= {Severity(list(Severity)[gate]).value}", gate)):
        scanner.min_rank = rank
        table: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
        missed = []
        skipped = set()
        for ann in labels["annotations"]:
            if ann["kind"] not in ("ruleid", "ok"):
                continue
            findings = scanner.scan(root / ann["file"])
            if findings is None:
                skipped.add(ann["file"].rsplit(".", 1)[-1])
                continue
            language = language_for(ann["file"]) or "?"
            hit = _covers(findings, ann["target_line"])
            table[(language, ann["kind"])][0] += hit
            table[(language, ann["kind"])][1] += 1
            if hit != (ann["kind"] == "ruleid"):
                missed.append(f"{ann['kind']} {ann['file'].rsplit('/', 1)[-1]}:{ann['target_line']} ({ann['rule']})")
        totals = {kind: [sum(v[0] for (_, k), v in table.items() if k == kind), sum(v[1] for (_, k), v in table.items() if k == kind)] for kind in ("ruleid", "ok")}
        print(f"(b) guarddog v2 annotations, {label} (unsupported extensions skipped: {', '.join(sorted(skipped))}):")
        for (language, kind), (hit, total) in sorted(table.items()):
            print(f"    {language} {kind}: {hit}/{total} hit = {_ratio(hit, total)}")
        print(f"    all ruleid: {totals['ruleid'][0]}/{totals['ruleid'][1]}; all ok hit: {totals['ok'][0]}/{totals['ok'][1]}")
        if verbose and rank == gate:
            for line in missed:
                print(f"      wrong {line}")
        results[rank] = (_ratio(*totals["ruleid"]), _ratio(*totals["ok"]))
    scanner.min_rank = gate
    return results[gate]


def guarddog_v3(corpora: Path, scanner: Scanner, verbose: bool) -> tuple[float, float]:
    root = corpora / "guarddog" / "HEAD-ca8b5b4-v3-yara"
    labels = json.loads((root / "labels" / "yara_test_labels.json").read_text())
    result = {}
    gate = scanner.min_rank
    for kind in ("positive", "benign"):
        hit = hit_all = total = 0
        for entry in labels[kind]:
            scanner.min_rank = Severity.INFO.rank
            every = scanner.scan(root / entry["file"])
            scanner.min_rank = gate
            findings = scanner.scan(root / entry["file"])
            if findings is None or every is None:
                continue
            total += 1
            hit += bool(findings)
            hit_all += bool(every)
            if verbose and bool(findings) != (kind == "positive"):
                print(f"      wrong {kind} {entry['file']}: {sorted({f.rule_id for f in findings})}")
        result[kind] = _ratio(hit, total)
        print(f"(c) guarddog v3 {kind} files flagged at the gate: {hit}/{total} = {result[kind]} (all severities: {hit_all}/{total})")
    return result["positive"], result["benign"]


def icd(corpora: Path, scanner: Scanner, verbose: bool) -> float:
    labels = json.loads((corpora / "PurpleLlama" / "labels" / "icd_unit_test_cases.json").read_text())
    table: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    unsupported: collections.Counter[str] = collections.Counter()
    for case in labels["unit_cases"]:
        language = case["language"]
        if language not in scanner.supported:
            unsupported[language] += 1
            continue
        code = case["code"]
        if language == "php" and "<?php" not in code:  # ICD feeds bare statements; a .php file needs the tag
            code = "<?php\n" + code
        findings = scanner.code(code.encode(), language)
        expected = case.get("expected_count", 1 if case.get("expected_first_issue_line") else 0)
        right = bool(findings) == (expected > 0)
        table[language][0] += right
        table[language][1] += 1
        if verbose and not right:
            print(f"      wrong {language} expected {expected}: {case['code'][:70]!r}")
    right = sum(v[0] for v in table.values())
    total = sum(v[1] for v in table.values())
    print(f"(d) ICD unit cases, supported languages: {right}/{total} right = {_ratio(right, total)}")
    for language, (hit, count) in sorted(table.items()):
        print(f"    {language}: {hit}/{count}")
    print(f"    not yet supported: {dict(sorted(unsupported.items()))}")
    fixtures: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    base = corpora / "PurpleLlama"
    for ann in labels["semgrep_fixture_annotations"]:
        path = base / ann["file"]
        if not path.exists() or ann["kind"] not in ("ruleid", "ok"):
            continue
        findings = scanner.scan(path)
        if findings is None:
            continue
        key = (language_for(str(path)) or "?", ann["kind"])
        fixtures[key][0] += _covers(findings, ann["target_line"])
        fixtures[key][1] += 1
    for (language, kind), (hit, count) in sorted(fixtures.items()):
        print(f"    ICD semgrep fixtures {language} {kind}: {hit}/{count} lines hit")
    return _ratio(right, total)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora")
    ap.add_argument("--min-severity", default="info", choices=[s.value for s in Severity])
    ap.add_argument("--gate", default="high", choices=[s.value for s in Severity], help="threshold for the guarddog measures")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss and false hit")
    args = ap.parse_args()
    corpora = args.corpora.resolve()
    if not corpora.is_dir():
        sys.exit(f"peer_recall: corpora not found at {corpora} (pass --corpora)")
    scanner = Scanner(Severity(args.min_severity))
    print(f"trustcheck rules: {len(scanner.detector.rules)}; counting findings at severity >= {args.min_severity}")
    bandit = bandit_examples(corpora, scanner, args.verbose)
    scanner.min_rank = Severity(args.gate).rank
    ruleid, ok_hit = guarddog_v2(corpora, scanner, args.verbose)
    pos, benign = guarddog_v3(corpora, scanner, args.verbose)
    scanner.min_rank = Severity(args.min_severity).rank
    icd_cases = icd(corpora, scanner, args.verbose)
    print(
        f"bandit_examples={bandit} guarddog_ruleid={ruleid} guarddog_ok_hit={ok_hit} "
        f"guarddog_v3_pos={pos} guarddog_v3_benign_hit={benign} icd_cases={icd_cases}"
    )


if __name__ == "__main__":
    main()
