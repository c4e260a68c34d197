"""Fitting a baseline on a repository's own code: find files, extract units, record what was seen."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import time
from pathlib import Path

import numpy as np

from detectors.anomaly.features import SCHEMA_VERSION, extract_units, feature_names
from detectors.anomaly.model import DEFAULT_MODEL, MAX_ROWS, MODEL_KINDS, RANDOM_STATE, Baseline, subsample_indices
from detectors.anomaly.syntax import SYNTAX
from detectors.anomaly.vocabulary import CONTEXT_FEATURES, Vocabulary
from trustcheck.errors import TrustcheckError

DEFAULT_DIR = Path(".trustcheck") / "anomaly"  # relative to the repository root
DEFAULT_THRESHOLD = 99.0  # report units scoring above this percentile of the baseline (~1% of its own units)
_SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "env", "node_modules", "__pycache__", ".trustcheck",
              ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", "site-packages"}


def find_files(root: Path, language: str = "python", exclude: tuple[str, ...] = ()) -> list[Path]:
    """Files of `language` under root (sorted), skipping VCS/venv/build folders and `exclude` globs."""
    from detectors.languages import LANGUAGES

    if root.is_file():
        return [root]
    extensions = LANGUAGES[language].extensions
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if name.endswith(extensions) and not any(fnmatch.fnmatch(rel, pattern) for pattern in exclude):
                found.append(path)
    return sorted(found)


def all_feature_names(language: str) -> list[str]:
    """Names of a full vector: the unit's own features, then the baseline-context features."""
    return [*feature_names(SYNTAX[language]), *CONTEXT_FEATURES]


def content_hash(files: dict[str, str]) -> str:
    """One digest of (relative path, file sha256) pairs, order-independent."""
    lines = "".join(f"{path}\0{digest}\n" for path, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def fit_baseline(root: Path, *, model: str = DEFAULT_MODEL, language: str = "python",
                 exclude: tuple[str, ...] = (), files: list[Path] | None = None,
                 relative_to: Path | None = None) -> Baseline:
    """Extract every unit of the repository's `language` files and return the baseline to save.
    File hashes are recorded relative to `relative_to` (the repository root; default `root`).

    Raises TrustcheckError when there is nothing to fit on or the model name is unknown.
    """
    if model not in MODEL_KINDS:
        raise TrustcheckError(f"unknown anomaly model {model!r}", hint=f"choose one of: {', '.join(MODEL_KINDS)}")
    if language not in SYNTAX:
        raise TrustcheckError(f"the anomaly model does not support {language}", hint=f"supported: {', '.join(SYNTAX)}")
    started = time.perf_counter()
    paths = files if files is not None else find_files(root, language, exclude)
    per_file = []
    hashes: dict[str, str] = {}
    base = (relative_to or (root if root.is_dir() else root.parent)).resolve()
    for path in paths:
        content = path.read_bytes()
        resolved = path.resolve()
        hashes[resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else str(resolved)] = \
            hashlib.sha256(content).hexdigest()
        per_file.append(extract_units(content, language))
    vocabulary = Vocabulary.build(per_file)
    rows = [vocabulary.vector(unit) for units in per_file for unit in units]
    if len(rows) < 10:
        raise TrustcheckError(
            f"found {len(rows)} {language} functions/blocks under {root}; the anomaly model needs at least 10",
            hint="point `trustcheck anomaly fit` at a folder with more code",
        )
    matrix = np.asarray(rows, dtype=np.float32)
    n_units = len(matrix)
    matrix = matrix[subsample_indices(n_units, MAX_ROWS)]
    settings = {
        "schema_version": SCHEMA_VERSION,
        "language": language,
        "model": model,
        "random_state": RANDOM_STATE,
        "threshold_percentile": DEFAULT_THRESHOLD,
        "feature_names": all_feature_names(language),
        "vocabulary": vocabulary.to_json(),
        "n_units": n_units,
        "n_files": len(hashes),
        "fitted_on": {"content_hash": content_hash(hashes), "files": hashes, "root": str(base)},
        "extract_seconds": round(time.perf_counter() - started, 3),
    }
    return Baseline(matrix, settings)


def stale_files(baseline: Baseline, root: Path) -> list[str]:
    """Files recorded at fit time that changed or vanished since (relative paths, sorted)."""
    changed = []
    for rel, digest in baseline.settings.get("fitted_on", {}).get("files", {}).items():
        path = root / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            changed.append(rel)
    return sorted(changed)
