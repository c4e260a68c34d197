"""`trustcheck scan --diff REF` (local use): the working tree's added lines, judged by the config on disk."""

from __future__ import annotations

from trustcheck.config import load_config
from trustcheck.gate import scan_diff

CODE = "import base64\n\n\ndef run(blob):\n    exec(base64.b64decode(blob))\n"


def test_reports_only_uncommitted_additions(repo):
    repo.commit_files({"old.py": CODE})
    repo.git("checkout", "-qb", "work")
    repo.commit_files({"committed.py": CODE})  # on the branch, after forking from main
    repo.write("old.py", CODE + "\n\ndef again(blob):\n    exec(base64.b64decode(blob))\n")
    repo.write("untracked.py", CODE)
    result = scan_diff("main", load_config("."))
    where = {(f.path, f.line) for f in result.findings}
    assert ("old.py", 9) in where and ("untracked.py", 5) in where and ("committed.py", 5) in where
    assert ("old.py", 5) not in where  # present before the fork


def test_suppressions_are_obeyed_locally(repo):
    repo.commit_files({"a.py": "x = 1\n"})
    repo.write("a.py", "x = 1\n" + CODE.replace("blob))\n", "blob))  # trustcheck: ignore[py-*]\n"))
    assert scan_diff("HEAD", load_config(".")).findings == []


def test_cli_scan_diff_and_baseline(repo, capsys):
    import json

    from trustcheck.cli import main

    repo.commit_files({"old.py": CODE, "pyproject.toml": '[tool.trustcheck]\nfail-on = "medium"\n'})
    assert main(["baseline", "create"]) == 0
    assert main(["scan", "--baseline", ".trustcheck-baseline.json", "--format", "json"]) == 0
    capsys.readouterr()
    repo.write("new.py", CODE)
    assert main(["scan", "--diff", "HEAD", "--format", "json"]) == 1
    paths = {f["path"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert paths == {"new.py"}


def test_full_scan_with_baseline_survives_shifted_lines_but_not_a_copy(repo, capsys):
    import json

    from trustcheck.cli import main

    repo.commit_files({"old.py": CODE, "pyproject.toml": '[tool.trustcheck]\nfail-on = "medium"\n'})
    assert main(["baseline", "create"]) == 0
    repo.write("old.py", '"""Module docstring."""\nimport os\n\n' + CODE)  # everything moves down 3 lines
    assert main(["scan", "--baseline", ".trustcheck-baseline.json", "--format", "json"]) == 0
    capsys.readouterr()
    repo.write("old.py", CODE + "    exec(base64.b64decode(blob))\n")  # a second identical finding
    assert main(["scan", "--baseline", ".trustcheck-baseline.json", "--format", "json"]) == 1
    lines = {f["line"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert lines == {6}
