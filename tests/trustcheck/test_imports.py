"""The scan path must start fast: it never imports the heavy libraries (checked in a fresh
interpreter, since this test process may have imported them for other tests)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "sklearn", "litellm", "scipy")

PROBE = """
import sys
from trustcheck.cli import main
code = main(["scan", sys.argv[1], "--format", "json", "--no-progress"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("HEAVY=" + ",".join(heavy))
"""


def test_scan_imports_no_heavy_libraries(tmp_path) -> None:
    (tmp_path / "a.py").write_text("import subprocess\nsubprocess.run(c, shell=True)\n")
    (tmp_path / "b.ts").write_text("eval(x)\n")
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert "HEAVY=" in proc.stdout, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


def test_importing_the_cli_and_api_is_light() -> None:
    probe = ("import sys, trustcheck, trustcheck.cli, trustcheck.pipeline, trustcheck.reporters; "
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.strip() == "[]", proc.stderr
