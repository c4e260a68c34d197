"""`trustcheck scan` registers only its own command module (FAST_COMMANDS); everything else
still sees the whole app."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trustcheck.cli import COMMAND_MODULES, FAST_COMMANDS, main

PROBE = """
import sys
from trustcheck.cli import main
code = main(sys.argv[1:])
print("CLI=" + ",".join(sorted(m for m in sys.modules if m.startswith("trustcheck.cli."))))
"""


def _cli_modules(args: list[str], cwd) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("CLI="), proc.stderr
    return set(line.removeprefix("CLI=").split(","))


def test_scan_imports_only_its_command_module(tmp_path) -> None:
    (tmp_path / "a.py").write_text("import os\n")
    assert _cli_modules(["scan", "a.py", "--no-progress"], tmp_path) == {FAST_COMMANDS["scan"]}


def test_other_commands_see_the_whole_app(tmp_path) -> None:
    assert _cli_modules(["--help"], tmp_path) == set(COMMAND_MODULES)


def test_scan_help_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--help"]) == 0
    assert "--format" in capsys.readouterr().out
