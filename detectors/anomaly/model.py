"""Outlier models over unit feature vectors, and the pickle-free baseline that stores them.

The saved state is the (possibly subsampled) feature matrix as .npz plus settings as JSON; the
estimator is re-fitted on load with a fixed random_state, so a load scores exactly like the fit
that wrote it. scikit-learn is imported inside functions only.

Scores are oriented so that higher means more anomalous, and turned into a percentile of the
baseline's own scores so that thresholds mean the same across model types.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from detectors.anomaly.rarity import TailRarity
from trustcheck.errors import TrustcheckError

MODEL_KINDS = ("isolation-forest", "lof", "ocsvm")
DEFAULT_MODEL = "isolation-forest"
RANDOM_STATE = 0
MAX_ROWS = 20000  # baseline rows kept (deterministic subsample beyond this)
OCSVM_MAX_ROWS = 5000  # the SVM is quadratic in rows: fit on a deterministic subsample
STATE_FILE = "baseline.json"
_REQUIRED = ("schema_version", "language", "model", "threshold_percentile", "feature_names", "fitted_on",
             "matrix_sha256")
MATRIX_FILE = "features.npz"


# The model's view of a feature vector. Wide groups of small shares (57 node types, 40 hash buckets)
# would drown the few features that matter in a forest that picks features uniformly, so node-type
# shares enter as their top principal components and hashed buckets stay out (they still explain).
PROJECTED_PREFIX = "node."
PROJECTED_COMPONENTS = 3
DROPPED_PREFIXES = ("call.bucket_", "module.bucket_")
# A forest never splits on a feature that is constant in its baseline (no network code anywhere:
# cap.network is always 0), so it cannot see a unit that is new in exactly that way. Each view
# feature outside the range the baseline spans adds this many baseline score std-devs.
NOVELTY_WEIGHT = 2.0
# The final score: the estimator's score and the indicators' tail rarity (rarity.py), each in
# baseline standard deviations, the rarity weighted by this.
RARITY_WEIGHT = 1.0


def robust_center_scale(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature median and a spread that is never zero (IQR/1.349, else std, else 1)."""
    median = np.median(matrix, axis=0)
    q1, q3 = np.percentile(matrix, [25, 75], axis=0)
    scale = (q3 - q1) / 1.349
    std = matrix.std(axis=0)
    scale = np.where(scale > 1e-9, scale, np.where(std > 1e-9, std, 1.0))
    return median, scale


def _estimator(kind: str, n_rows: int) -> Any:
    if kind == "isolation-forest":
        from sklearn.ensemble import IsolationForest

        return IsolationForest(n_estimators=200, max_samples=min(1024, n_rows), random_state=RANDOM_STATE)
    if kind == "lof":
        from sklearn.neighbors import LocalOutlierFactor

        return LocalOutlierFactor(n_neighbors=min(35, max(n_rows - 1, 1)), novelty=True)
    if kind == "ocsvm":
        from sklearn.svm import OneClassSVM

        return OneClassSVM(nu=0.05, gamma="scale")
    raise TrustcheckError(f"unknown anomaly model {kind!r}", hint=f"choose one of: {', '.join(MODEL_KINDS)}")


@dataclasses.dataclass
class FittedModel:
    """An estimator fitted on a baseline matrix, with what it needs to score and explain."""

    kind: str
    estimator: Any
    median: np.ndarray  # of the full feature vector (explanations use these)
    scale: np.ndarray
    view: FeatureView
    rarity: TailRarity
    train_scores: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))  # sorted, higher = odder
    base_center: tuple[float, float] = (0.0, 1.0)  # estimator score mean/std on the baseline
    rarity_center: tuple[float, float] = (0.0, 1.0)

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        """What the estimator sees: the view, raw for trees, robust z-scores for distance models."""
        x = self.view.apply(np.asarray(matrix, dtype=np.float32))
        if self.kind == "isolation-forest":
            return x
        return np.clip((x - self.view.median) / self.view.scale, -50, 50)

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        """Anomaly scores, higher = more anomalous (baseline std-devs): estimator + rarity + novelty."""
        matrix = np.asarray(matrix, dtype=np.float32)
        base = -self.estimator.score_samples(self.transform(matrix))
        novel = self.view.novel_counts(self.view.apply(matrix))
        return self._combine(base, self.rarity.scores(matrix)) + NOVELTY_WEIGHT * novel

    def _combine(self, base: np.ndarray, rarity: np.ndarray) -> np.ndarray:
        (bm, bs), (rm, rs) = self.base_center, self.rarity_center
        return (base - bm) / bs + RARITY_WEIGHT * (rarity - rm) / rs

    def percentiles(self, scores: np.ndarray) -> np.ndarray:
        """Share of baseline units (0..100) scoring strictly below each score."""
        return 100.0 * np.searchsorted(self.train_scores, scores, side="left") / max(len(self.train_scores), 1)


@dataclasses.dataclass
class FeatureView:
    """Kept columns plus a PCA projection of the projected group (numpy SVD: deterministic)."""

    keep: np.ndarray  # column indices passed through
    project: np.ndarray  # column indices projected
    mean: np.ndarray
    components: np.ndarray  # [k, len(project)]
    median: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))  # of the view's output
    scale: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))
    low: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))  # range the baseline spans
    high: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))

    @classmethod
    def fit(cls, matrix: np.ndarray, names: list[str]) -> FeatureView:
        keep = np.array([i for i, n in enumerate(names) if not n.startswith((PROJECTED_PREFIX, *DROPPED_PREFIXES))])
        project = np.array([i for i, n in enumerate(names) if n.startswith(PROJECTED_PREFIX)], dtype=int)
        block = matrix[:, project].astype(np.float64)
        mean = block.mean(axis=0)
        _, _, vt = np.linalg.svd(block - mean, full_matrices=False)
        view = cls(keep, project, mean, vt[:PROJECTED_COMPONENTS])
        seen = view.apply(matrix)
        view.median, view.scale = robust_center_scale(seen)
        low, high = seen.min(axis=0), seen.max(axis=0)
        # a margin so that near-misses of a narrow range (a slightly longer name) are not "new"
        margin = 0.25 * (high - low) + 0.05 * np.maximum(np.abs(low), np.abs(high)) + 1e-6
        view.low, view.high = low - margin, high + margin
        return view

    def novel_counts(self, x: np.ndarray) -> np.ndarray:
        """Per row of view output: how many features fall outside the baseline's range."""
        return ((x < self.low) | (x > self.high)).sum(axis=1)

    def apply(self, matrix: np.ndarray) -> np.ndarray:
        projected = (matrix[:, self.project].astype(np.float64) - self.mean) @ self.components.T
        return np.hstack([matrix[:, self.keep], projected.astype(np.float32)])


def fit_model(matrix: np.ndarray, kind: str, names: list[str]) -> FittedModel:
    """Fit `kind` on `matrix` (columns named by `names`) deterministically: same matrix, same scores."""
    matrix = np.asarray(matrix, dtype=np.float32)
    median, scale = robust_center_scale(matrix)
    model = FittedModel(kind, _estimator(kind, len(matrix)), median.astype(np.float32), scale.astype(np.float32),
                        FeatureView.fit(matrix, names), TailRarity.fit(matrix, names))
    x = model.transform(matrix)  # trees are scale-free and see raw values; distance models see z-scores
    if kind == "ocsvm" and len(x) > OCSVM_MAX_ROWS:
        x = x[subsample_indices(len(x), OCSVM_MAX_ROWS)]
    model.estimator.fit(x)
    if kind == "lof":  # novelty LOF must not score its own training rows: use the fit-time factors
        base = -model.estimator.negative_outlier_factor_
    else:
        base = -model.estimator.score_samples(model.transform(matrix))
    rarity = model.rarity.scores(matrix)
    # A tiny or uniform baseline has (almost) no spread: fall back to a share of the typical score.
    model.base_center = (float(base.mean()), max(float(base.std()), 0.05 * abs(float(np.median(base))), 1e-3))
    model.rarity_center = (float(rarity.mean()), max(float(rarity.std()), 0.1))
    model.train_scores = np.sort(model._combine(base, rarity))  # baseline rows are in range: novelty adds 0
    return model


def subsample_indices(n: int, k: int) -> np.ndarray:
    """A sorted, seeded choice of k of n row indices (all of them when n <= k)."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(RANDOM_STATE).choice(n, size=k, replace=False))


def matrix_digest(matrix: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float32).tobytes()).hexdigest()


@dataclasses.dataclass
class Baseline:
    """What `trustcheck anomaly fit` saves: features of the fitted units plus settings."""

    matrix: np.ndarray  # [units, features] float32
    settings: dict[str, Any]  # model, schema_version, feature_names, language, thresholds, fitted_on, ...

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, features=self.matrix.astype(np.float32))
        (directory / MATRIX_FILE).write_bytes(buffer.getvalue())
        settings = {**self.settings, "matrix_sha256": matrix_digest(self.matrix), "shape": list(self.matrix.shape)}
        (directory / STATE_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path, *, schema_version: int) -> Baseline:
        """Read a saved baseline; TrustcheckError if it is missing, corrupt or from another schema."""
        state, npz = directory / STATE_FILE, directory / MATRIX_FILE
        if not state.is_file() or not npz.is_file():
            raise TrustcheckError(f"no anomaly baseline in {directory}", hint="run `trustcheck anomaly fit` first")
        try:
            settings = json.loads(state.read_text())
            with np.load(npz, allow_pickle=False) as data:
                matrix = np.asarray(data["features"], dtype=np.float32)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise TrustcheckError(f"corrupt anomaly baseline in {directory}: {exc}",
                                  hint="re-create it with `trustcheck anomaly fit`") from exc
        missing = [k for k in _REQUIRED if k not in settings] if isinstance(settings, dict) else list(_REQUIRED)
        if missing or settings["model"] not in MODEL_KINDS:
            raise TrustcheckError(f"corrupt anomaly baseline in {directory}: {STATE_FILE} lacks "
                                  f"{', '.join(missing) or 'a known model'}",
                                  hint="re-create it with `trustcheck anomaly fit`")
        if settings.get("schema_version") != schema_version:
            raise TrustcheckError(
                f"anomaly baseline in {directory} uses feature schema {settings.get('schema_version')}, "
                f"this trustcheck uses {schema_version}",
                hint="re-fit it with `trustcheck anomaly fit`",
            )
        if matrix.ndim != 2 or settings.get("matrix_sha256") != matrix_digest(matrix) or \
                matrix.shape[1] != len(settings.get("feature_names", [])):
            raise TrustcheckError(f"corrupt anomaly baseline in {directory}: features do not match {STATE_FILE}",
                                  hint="re-create it with `trustcheck anomaly fit`")
        return cls(matrix, settings)
