"""Scan speed: trustcheck vs bandit vs semgrep on this machine's Python standard library.

    python benchmarks/scan_speed.py [--runs 3] [--one-file-runs 7] [--jobs 0] [--no-semgrep]

The stdlib's .py files (without test/ and site-packages/) are copied to a temporary folder so that
every tool sees exactly the same files. Each run times the three tools back to back (interleaved,
so load from other processes hits them alike); medians of wall time give lines/s and the ratios.
CPU seconds (user+sys of the tool and its children) are printed too: on a shared machine they say
what each tool costs independently of what else is running. Then cold single-file runs:
`trustcheck scan FILE` vs `bandit FILE`, each a fresh process, median of N.

semgrep cannot fetch its registry offline, so it runs benchmarks/semgrep-rules/ (bandit-like
rules written for this benchmark); `--guarddog` adds guarddog's Python semgrep rules from
../shared/corpora (their taint rules make semgrep many times slower: on this 2-core machine
under load one run did not finish in 16 minutes).

The machine's cores are shared (other jobs, a training run), so wall times swing with load; CPU
seconds (user+sys of each tool's whole process tree, from RUSAGE_CHILDREN) barely do. Both are
printed; the last line uses CPU seconds and says so:
`speed_vs_bandit=.. speed_vs_semgrep=.. one_file_vs_bandit=.. basis=cpu-seconds` (ratios of speed
from medians: above 1 means trustcheck is faster); the line before it gives the wall-clock ratios.
trustcheck's rule cache (detectors/rules/cache.py) is warm after the first run, like .pyc files;
the cold one-file line with TRUSTCHECK_NO_CACHE=1 shows a first run.
"""

from __future__ import annotations

import argparse
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

HERE = Path(__file__).resolve().parent
GUARDDOG_RULES = HERE.parent.parent / "shared" / "corpora" / "guarddog" / "v2.10.0-semgrep" / "guarddog" / "analyzer" / "sourcecode"
SKIP_TOP = {"test", "site-packages", "__pycache__"}
ONE_FILE = "json/decoder.py"  # a typical module (~350 lines)


def copy_stdlib(dest: Path) -> tuple[int, int]:
    """Copy the stdlib's .py files without test/ and site-packages/; returns (files, lines)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = lines = 0
    for root, dirs, names in os.walk(stdlib):
        rel = Path(root).relative_to(stdlib)
        if rel.parts and rel.parts[0] in SKIP_TOP or "__pycache__" in rel.parts:
            dirs[:] = []
            continue
        for name in names:
            if name.endswith(".py"):
                target = dest / rel / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(root) / name, target)
                files += 1
                lines += target.read_bytes().count(b"\n")
    return files, lines


def precompile() -> None:
    """Write .pyc files for trustcheck's packages, as a regular (non-editable) pip install does:
    bandit's modules in site-packages already have theirs, and with PYTHONDONTWRITEBYTECODE set
    an editable checkout would otherwise recompile every module in every cold start."""
    import compileall
    import importlib.util

    for package in ("trustcheck", "detectors", "decoding"):
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                compileall.compile_dir(location, quiet=1)


def tool(name: str) -> str | None:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def timed(cmd: list[str], ok: tuple[int, ...], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process tree) for one run; raises if it failed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env={**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "NO_COLOR": "1", **(env or {})},
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        tail = proc.stderr.decode("utf-8", "replace")[-800:]
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def commands(corpus: Path, jobs: int, semgrep: bool, guarddog: bool) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    cmds: dict[str, tuple[list[str], tuple[int, ...]]] = {}
    trustcheck = tool("trustcheck")
    if trustcheck is None:
        raise SystemExit("trustcheck is not installed in this environment (pip install -e .)")
    cmds["trustcheck"] = ([trustcheck, "scan", str(corpus), "--format", "json", "--no-progress", "--jobs", str(jobs),
                           "--output", os.devnull], (0, 1))
    bandit = tool("bandit")
    if bandit:
        cmds["bandit"] = ([bandit, "-r", str(corpus), "-q", "-f", "json", "-o", os.devnull], (0, 1))
    semgrep_bin = tool("semgrep") if semgrep else None
    if semgrep_bin:
        configs = ["--config", str(HERE / "semgrep-rules")]
        if guarddog and GUARDDOG_RULES.is_dir():
            for rule in sorted(GUARDDOG_RULES.glob("*.yml")):
                if not rule.name.startswith(("npm-", "go-", "rubygems-")):
                    configs += ["--config", str(rule)]
        cmds["semgrep"] = ([semgrep_bin, "scan", *configs, "--metrics=off", "--disable-version-check", "--quiet",
                            "--json", "-o", os.devnull, "-j", str(jobs or os.cpu_count() or 1), str(corpus)], (0, 1))
    return cmds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="full-tree runs per tool (median)")
    parser.add_argument("--one-file-runs", type=int, default=7, help="cold single-file runs per tool (median)")
    parser.add_argument("--jobs", type=int, default=0, help="trustcheck/semgrep workers; 0 = all cores")
    parser.add_argument("--no-semgrep", action="store_true", help="skip semgrep (slow to start)")
    parser.add_argument("--guarddog", action="store_true", help="add guarddog's Python semgrep rules (much slower)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trustcheck-bench-") as tmp:
        corpus = Path(tmp) / "stdlib"
        files, lines = copy_stdlib(corpus)
        print(f"corpus: {files} files, {lines} lines (Python {sys.version.split()[0]} stdlib without test/); "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
        cmds = commands(corpus, args.jobs, not args.no_semgrep, args.guarddog)
        precompile()
        walls: dict[str, list[float]] = {name: [] for name in cmds}
        cpus: dict[str, list[float]] = {name: [] for name in cmds}
        for run in range(args.runs):
            for name, (cmd, ok) in cmds.items():
                wall, cpu = timed(cmd, ok, Path(tmp))
                walls[name].append(wall)
                cpus[name].append(cpu)
                print(f"  run {run + 1}: {name:<10} {wall:7.2f} s wall {cpu:7.2f} s cpu", flush=True)
        speed, cpu_speed = {}, {}
        for name in cmds:
            wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
            speed[name], cpu_speed[name] = lines / wall, lines / cpu
            print(f"{name:<10} median {wall:7.2f} s wall {cpu:7.2f} s cpu  {lines / wall:9.0f} lines/s  {lines / cpu:9.0f} lines/cpu-s")

        one = corpus / ONE_FILE
        singles: dict[str, list[float]] = {}
        single_cpu: dict[str, list[float]] = {}
        one_cmds = {"trustcheck": ([cmds["trustcheck"][0][0], "scan", str(one), "--no-progress"], (0, 1))}
        if "bandit" in cmds:
            one_cmds["bandit"] = ([cmds["bandit"][0][0], "-q", str(one)], (0, 1))
        for _ in range(args.one_file_runs):
            for name, (cmd, ok) in one_cmds.items():
                wall, cpu = timed(cmd, ok, Path(tmp))
                singles.setdefault(name, []).append(wall)
                single_cpu.setdefault(name, []).append(cpu)
        no_cache = ([], [])
        for _ in range(args.one_file_runs):
            wall, cpu = timed(one_cmds["trustcheck"][0], (0, 1), Path(tmp), {"TRUSTCHECK_NO_CACHE": "1"})
            no_cache[0].append(wall)
            no_cache[1].append(cpu)
        for name, times in singles.items():
            print(f"one file ({ONE_FILE}, cold process): {name:<10} median {statistics.median(times):.3f} s wall "
                  f"{statistics.median(single_cpu[name]):.3f} s cpu")
        print(f"one file ({ONE_FILE}, cold process, no rule cache): trustcheck median {statistics.median(no_cache[0]):.3f} "
              f"s wall {statistics.median(no_cache[1]):.3f} s cpu")

    def ratio(peer: str, table: dict[str, float]) -> str:
        return f"{table['trustcheck'] / table[peer]:.2f}" if peer in table else "n/a"

    def one_file(table: dict[str, list[float]]) -> str:
        return f"{statistics.median(table['bandit']) / statistics.median(table['trustcheck']):.2f}" if "bandit" in table else "n/a"

    print(f"wall-clock (load-sensitive on a shared machine): speed_vs_bandit={ratio('bandit', speed)} "
          f"speed_vs_semgrep={ratio('semgrep', speed)} one_file_vs_bandit={one_file(singles)}")
    print(f"speed_vs_bandit={ratio('bandit', cpu_speed)} speed_vs_semgrep={ratio('semgrep', cpu_speed)} "
          f"one_file_vs_bandit={one_file(single_cpu)} basis=cpu-seconds")


if __name__ == "__main__":
    main()
