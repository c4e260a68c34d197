"""Why a unit scored high: the features furthest from the baseline's typical values.

A feature's pull is its robust z-score, (value - baseline median) / spread, the spread being
IQR/1.349 (or the std where the IQR is zero, as for rare capability counts). It is a model-agnostic
proxy: it does not decompose the forest's path lengths, but it names what is unusual in terms a
reviewer can check, with the baseline's median and IQR beside the unit's value.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from detectors.anomaly.features import CALL_BUCKETS, MODULE_BUCKETS, Unit, bucket
from detectors.anomaly.vocabulary import Vocabulary

# Features stored as log1p(count): shown to people as counts.
_LOG_PREFIXES = ("size.", "string.log_", "string.encoded_blob", "string.non_ascii", "string.url", "string.ipv4",
                 "string.sensitive_path", "string.shell", "string.executable", "number.", "ident.obfuscated", "ident.dunder", "flow.",
                 "cap.")
_NOT_LOG = ("cap.distinct",)


def shown(name: str, value: float) -> float:
    """A feature value in the units people read (counts for log1p-stored features)."""
    if name.startswith(_LOG_PREFIXES) and name not in _NOT_LOG:
        return round(math.expm1(value), 2)
    return round(float(value), 3)


@dataclasses.dataclass(frozen=True)
class Pull:
    feature: str
    value: float
    median: float
    q1: float
    q3: float
    z: float
    detail: str = ""  # e.g. the call names in a hashed bucket

    def describe(self) -> str:
        extra = f" [{self.detail}]" if self.detail else ""
        return (f"{self.feature}{extra} = {shown(self.feature, self.value)} "
                f"(baseline median {shown(self.feature, self.median)}, "
                f"IQR {shown(self.feature, self.q1)}-{shown(self.feature, self.q3)})")

    def to_dict(self) -> dict[str, object]:
        return {"feature": self.feature, "value": shown(self.feature, self.value),
                "baseline_median": shown(self.feature, self.median),
                "baseline_iqr": [shown(self.feature, self.q1), shown(self.feature, self.q3)],
                "z": round(self.z, 2), **({"detail": self.detail} if self.detail else {})}


@dataclasses.dataclass(frozen=True)
class BaselineStats:
    names: list[str]
    median: np.ndarray
    q1: np.ndarray
    q3: np.ndarray
    scale: np.ndarray
    hidden: np.ndarray  # features never offered as reasons: hashed buckets the model does not see

    @classmethod
    def of(cls, matrix: np.ndarray, names: list[str], scale: np.ndarray) -> BaselineStats:
        from detectors.anomaly.model import DROPPED_PREFIXES

        q1, median, q3 = np.percentile(matrix, [25, 50, 75], axis=0)
        hidden = np.array([n.startswith(DROPPED_PREFIXES) for n in names])
        return cls(names, median, q1, q3, scale, hidden)


def top_pulls(unit: Unit, stats: BaselineStats, k: int = 4, vocabulary: Vocabulary | None = None) -> list[Pull]:
    """The k features of `unit` (its full vector) with the largest |robust z| against the baseline."""
    x = np.asarray(unit.vector, dtype=np.float64)
    z = (x - stats.median) / stats.scale
    z[stats.hidden] = 0.0
    order = np.argsort(-np.abs(z), kind="stable")[:k]
    return [Pull(stats.names[i], float(x[i]), float(stats.median[i]), float(stats.q1[i]), float(stats.q3[i]),
                 float(z[i]), _detail(stats.names[i], unit, vocabulary)) for i in order if abs(z[i]) > 0]


def _detail(name: str, unit: Unit, vocabulary: Vocabulary | None) -> str:
    if name.startswith("context.") and vocabulary is not None:
        modules, calls = vocabulary.rare_names(unit)
        return ", ".join((modules if name == "context.rare_modules" else calls)[:4])
    if name.startswith("call.bucket_"):
        index = int(name.rsplit("_", 1)[1])
        names = sorted({c for c in unit.calls if bucket(c.rsplit(".", 1)[-1], CALL_BUCKETS) == index})
        return ", ".join(names[:4])
    if name.startswith("module.bucket_"):
        index = int(name.rsplit("_", 1)[1])
        return ", ".join(sorted(m for m in unit.modules if bucket(m, MODULE_BUCKETS) == index)[:4])
    if name.startswith("cap."):
        category = name[4:]
        from detectors.anomaly.capabilities import call_category

        return ", ".join(sorted({c for c in unit.calls if call_category(c) == category})[:4])
    return ""
