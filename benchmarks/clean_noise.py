"""Noise of the shipped rule pack on ordinary code: blocking findings per 10k lines.

The default gate (`--fail-on high`) must stay quiet on clean code. This scans two trees of code
that is trusted by construction, with the shipped pack only (no anomaly model, no suppressions
file of our own):
  - the interpreter's standard library (sysconfig's `stdlib`), without test folders;
  - the venv's site-packages (sysconfig's `purelib`), without test folders. It holds millions of
    lines (torch, transformers, ...), so by default a deterministic sample of files is scanned
    (the files whose path hash is smallest; `--site-files 0` scans everything).
For each tree it prints lines scanned, high/critical findings per 10k lines, and the rules with the
most high/critical findings (with one example location each, to read them).

Usage: nice .venv/bin/python benchmarks/clean_noise.py [--stdlib DIR] [--site DIR] [--site-files N] [--top N]
Ends with one line: stdlib_high_per_10k=.. site_packages_high_per_10k=..
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trustcheck.config import load_config
from trustcheck.findings import Finding, Severity
from trustcheck.pipeline import scan

# Folder names that hold test suites (their code exercises insecure APIs on purpose).
TEST_DIRS = {"test", "tests", "testing", "idle_test", "unittests"}
# Not Python a user writes: vendored copies are scanned once, under their own project.
SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages"}


def python_files(root: Path) -> list[Path]:
    """Every .py file under `root`, skipping test and cache folders (and nested site-packages)."""
    files = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).parts[:-1]
        if any(p in TEST_DIRS or p in SKIP_DIRS or p.startswith("test_") for p in parts):
            continue
        if path.is_file() and not path.is_symlink():
            files.append(path)
    return sorted(files)


def sample(files: list[Path], root: Path, count: int) -> list[Path]:
    """A deterministic spread-out sample: the `count` files whose relative path hashes lowest."""
    if count <= 0 or count >= len(files):
        return files
    def key(path: Path) -> str:
        return hashlib.sha1(str(path.relative_to(root)).encode()).hexdigest()

    return sorted(sorted(files, key=key)[:count])


def count_lines(files: list[Path]) -> int:
    return sum(path.read_bytes().count(b"\n") for path in files)


def measure(name: str, root: Path, files: list[Path], top: int) -> float:
    """Scan `files` with the shipped pack; print the table for this tree; return high per 10k lines."""
    with tempfile.TemporaryDirectory() as empty:  # a folder without pyproject.toml: default config
        config = load_config(empty, {"anomaly": False, "min_severity": "high"})
    result = scan([str(p) for p in files], config)
    lines = count_lines(files)
    blocking = [f for f in result.findings if f.severity.rank >= Severity.HIGH.rank]
    rate = round(1e4 * len(blocking) / lines, 2) if lines else 0.0
    print(f"{name}: {root}")
    print(f"  files {len(files)}, lines {lines}, scan errors {len(result.errors)}")
    print(f"  high/critical findings: {len(blocking)} = {rate} per 10k lines")
    by_rule: dict[str, list[Finding]] = collections.defaultdict(list)
    for finding in blocking:
        by_rule[finding.rule_id].append(finding)
    for rule_id, found in sorted(by_rule.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]:
        first = found[0]
        where = Path(first.path).resolve()
        where_text = where.relative_to(root) if where.is_relative_to(root) else where
        print(f"    {len(found):4d} {rule_id:40s} e.g. {where_text}:{first.line}")
    return rate


def main() -> None:
    paths = sysconfig.get_paths()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stdlib", type=Path, default=Path(paths["stdlib"]))
    ap.add_argument("--site", type=Path, default=Path(paths["purelib"]))
    ap.add_argument("--site-files", type=int, default=1500, help="files sampled from site-packages (0: all)")
    ap.add_argument("--top", type=int, default=10, help="rules listed per tree")
    args = ap.parse_args()
    stdlib_root, site_root = args.stdlib.resolve(), args.site.resolve()
    stdlib = measure("stdlib", stdlib_root, python_files(stdlib_root), args.top)
    every = python_files(site_root)
    chosen = sample(every, site_root, args.site_files)
    label = "site-packages" + (f" (sample of {len(chosen)}/{len(every)} files)" if len(chosen) < len(every) else "")
    site = measure(label, site_root, chosen, args.top)
    print(f"stdlib_high_per_10k={stdlib} site_packages_high_per_10k={site}")


if __name__ == "__main__":
    main()
