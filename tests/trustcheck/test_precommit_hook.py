"""The real `pre-commit try-repo` against this repository, offline.

pre-commit builds a virtualenv and pip-installs this repository into it. Offline that needs a
wheelhouse holding trustcheck's runtime dependencies and its build backend: `.ci/run` prepares it
(`.ci/wheelhouse`) and this test points pip at it (PIP_NO_INDEX=1, PIP_FIND_LINKS). Outside CI the
test skips when the wheelhouse is absent; in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("TRUSTCHECK_WHEELHOUSE", REPO / ".whl" / "wheelhouse"))
BAD = "import subprocess\n\ndef run(cmd):\n    subprocess.run(cmd, shell=True)\n"
CLEAN = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def precommit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not any(WHEELHOUSE.glob("*.whl")):
        reason = f"no offline wheelhouse at {WHEELHOUSE}: run `bash .ci/wheelhouse` (or .ci/run) first"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(project: Path, home: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "NO_COLOR": "1", "PRE_COMMIT_COLOR": "never"}
    env.pop("PIP_INDEX_URL", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "trustcheck", "--files", *files],
                          cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_hook_fails_on_bad_code_and_passes_on_clean_code(tmp_path: Path, precommit_home: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "bad.py").write_text(BAD)
    (project / "clean.py").write_text(CLEAN)
    (project / "notes.txt").write_text("subprocess.run(cmd, shell=True)\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "."], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=project, check=True)

    bad = try_repo(project, precommit_home, "bad.py", "notes.txt")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "bad.py" in bad.stdout and "shell" in bad.stdout

    clean = try_repo(project, precommit_home, "clean.py", "notes.txt")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout
