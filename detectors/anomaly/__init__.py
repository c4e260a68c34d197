"""Anomaly detector: an outlier model fitted on the repository's own functions.

Import-light on purpose: the scan path imports this package, so numpy and scikit-learn load only
when a baseline exists and `load_detector` builds the detector.

    fit:   files -> units (features.py) -> matrix -> Baseline (.npz + JSON, model.py)
    scan:  Baseline -> re-fitted estimator -> units of a source -> percentile -> Finding + reasons
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detectors.anomaly.detector import AnomalyDetector

BASELINE_DIR = Path(".trustcheck") / "anomaly"
__all__ = ["BASELINE_DIR", "baseline_exists", "load_detector"]


def baseline_exists(repo_root: str | Path) -> bool:
    """True when `repo_root/.trustcheck/anomaly` holds a saved baseline (cheap: no imports)."""
    directory = Path(repo_root) / BASELINE_DIR
    return (directory / "baseline.json").is_file() and (directory / "features.npz").is_file()


def load_detector(repo_root: str | Path, *, threshold: float | None = None) -> AnomalyDetector | None:
    """The anomaly detector for a repository, or None when it has no baseline.

    Raises TrustcheckError when the baseline is corrupt or from another feature schema.
    """
    if not baseline_exists(repo_root):
        return None
    from detectors.anomaly.detector import AnomalyDetector

    return AnomalyDetector.from_dir(Path(repo_root) / BASELINE_DIR, threshold=threshold)
