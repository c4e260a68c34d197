"""The pipeline on good and bad input: every problem is an `errors` entry, never an exception."""

from __future__ import annotations

import dataclasses
import os

import pytest

from trustcheck.config import Config, load_config
from trustcheck.pipeline import check_source, detectors_for, scan, scan_sources
from trustcheck.sources import Source


def run(paths: list[str], marker, **config) -> object:
    return scan(paths, dataclasses.replace(load_config("."), **config), detectors=[marker])


def test_findings_sorted_filtered_and_fingerprinted(tree, marker) -> None:
    tree({"b.py": "DANGER\nmeh\n", "a.py": "DANGER # trustcheck: ignore[test-danger]\nx = 1\nDANGER\n"})
    result = run([], marker)
    assert [(f.path, f.line, f.rule_id) for f in result.findings] == [
        ("a.py", 3, "test-danger"), ("b.py", 1, "test-danger"), ("b.py", 2, "test-meh")]
    assert [(f.path, f.line) for f in result.suppressed] == [("a.py", 1)]
    assert all(len(f.fingerprint) == 32 for f in result.findings)
    assert result.stats["files"] == 2 and result.stats["lines"] == 5 and result.stats["by_detector"] == {"marker": 3}
    assert [f.rule_id for f in run([], marker, min_severity=load_config(".").fail_on).findings] == ["test-danger"] * 2
    assert [f.rule_id for f in run([], marker, ignore=("test-d*",)).findings] == ["test-meh"]
    assert [f.rule_id for f in run([], marker, select=("test-meh",)).findings] == ["test-meh"]


def test_fingerprints_survive_line_shifts_and_count_duplicates(tree, marker) -> None:
    tree({"a.py": "DANGER\nDANGER\n"})
    first = [f.fingerprint for f in run(["a.py"], marker).findings]
    tree({"a.py": "\n\nx = 1\nDANGER\nDANGER\n"})
    assert [f.fingerprint for f in run(["a.py"], marker).findings] == first
    assert len(set(first)) == 2


def test_obey_hook_sees_path_and_suppression(tree, marker) -> None:
    tree({"a.py": "DANGER  # trustcheck: ignore[test-danger]\n"})
    seen = []
    config = load_config(".")
    result = scan([], config, detectors=[marker], obey=lambda path, s: seen.append((path, s.line)) or False)
    assert seen == [("a.py", 1)] and len(result.findings) == 1 and "a.py" in result.suppressions


BAD_INPUTS = {
    "binary.py": b"\x7fELF\x00\x01\x02",
    "latin1.py": "caf\xe9 = 1\n".encode("latin-1"),
    "huge.js": b"var a = 1;" * 300_000,
}


def test_bad_files_become_errors(tree, marker) -> None:
    root = tree({**BAD_INPUTS, "empty.py": b"", "ok.py": "DANGER\n"})
    os.symlink("loop2.py", root / "loop1.py")
    os.symlink("loop1.py", root / "loop2.py")
    os.mkfifo(root / "pipe.py")
    result = run([], marker, max_file_size=1_000_000)
    reasons = {e.path: e.message for e in result.errors}
    assert set(reasons) == {"binary.py", "latin1.py", "huge.js", "loop1.py", "loop2.py", "pipe.py"}
    assert "binary" in reasons["binary.py"] and "UTF-8" in reasons["latin1.py"]
    assert "too large" in reasons["huge.js"] and "loop" in reasons["loop1.py"]
    assert "regular file" in reasons["pipe.py"]
    assert [f.path for f in result.findings] == ["ok.py"] and result.stats["files"] == 2


def test_real_rules_survive_pathological_input(tree) -> None:
    tree({"deep.py": "x = " + "[" * 5000 + "]" * 5000 + "\n", "deep.js": "a(" * 5000 + ")" * 5000,
          "huge.py": "x = 1; " * 1_500_000,  # ~10 MB on one line: above the default max-file-size
          "long.js": "var a = 1;" * 50_000,  # 500 kB on one line: scanned
          "unclosed.py": "def f(:\n  eval(\n", "empty.py": ""})
    result = scan([], dataclasses.replace(load_config("."), jobs=1))
    reasons = {e.path: e.message for e in result.errors}
    assert set(reasons) == {"deep.py", "deep.js", "huge.py"}
    assert "nested" in reasons["deep.py"] and "nested" in reasons["deep.js"] and "too large" in reasons["huge.py"]
    assert result.stats["files"] == 3


def test_parallel_scan_matches_serial(tree) -> None:
    files = {f"pkg{i % 7}/m{i}.py": f"import subprocess\nsubprocess.run(c{i}, shell=True)\n" for i in range(120)}
    tree(files)
    serial = scan([], dataclasses.replace(load_config("."), jobs=1))
    parallel = scan([], dataclasses.replace(load_config("."), jobs=2))
    assert serial.findings == parallel.findings and len(serial.findings) >= 120
    assert [f.fingerprint for f in serial.findings] == [f.fingerprint for f in parallel.findings]


def test_scan_sources_and_check_source(marker) -> None:
    result = scan_sources([Source("x.py", "python", b"DANGER\n")], Config(), detectors=[marker])
    assert [f.line for f in result.findings] == [1]
    assert check_source("x.py", "python", b"meh\n", detectors=[marker])[0].rule_id == "test-meh"


def test_detectors_for_runs_rules_and_skips_anomaly_without_baseline(tmp_path) -> None:
    names = [d.name for d in detectors_for(Config(root=str(tmp_path)))]
    assert names == ["rules"]


def test_broken_rule_file_is_a_clear_error(tmp_path) -> None:
    from trustcheck.errors import TrustcheckError

    bad = tmp_path / "rules" / "py-broken.yaml"
    bad.parent.mkdir()
    bad.write_text("id: py-broken\nquery: [unclosed\n")
    with pytest.raises(TrustcheckError, match="py-broken.yaml"):
        detectors_for(Config(rules=(str(bad.parent),), root=str(tmp_path)))


def test_progress_bar_path_runs(tree, marker, monkeypatch) -> None:
    from trustcheck import pipeline

    monkeypatch.setattr(pipeline, "PROGRESS_AFTER_S", -1.0)
    tree({f"m{i}.py": "DANGER\n" for i in range(40)})
    result = scan([], load_config("."), detectors=[marker], progress=True)
    assert len(result.findings) == 40


def test_check_api() -> None:
    import trustcheck

    findings = trustcheck.check("import subprocess\nsubprocess.run(c, shell=True)\n")
    assert any(f.severity.value == "high" and f.line == 2 for f in findings)
