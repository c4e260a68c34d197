"""How rare a unit's dangerous indicators are in the baseline, feature by feature.

For each indicator feature (capability counts, suspicious string shapes, odd numbers, obfuscated
names, modules the repository does not use), the baseline's upper-tail probability
P(X >= x), Laplace-smoothed; the unit's rarity is the sum of -log of those probabilities over the
features where it sits above the baseline median. This is HBOS-style naive-Bayes rarity restricted
to upper tails: a tiny function that only calls exec(b64decode(...)) is unremarkable in shape (the
forest sees a short function) but rare in what it does.
"""

from __future__ import annotations

import dataclasses

import numpy as np

INDICATOR_PREFIXES = ("cap.", "string.encoded_blob", "string.non_ascii", "string.url", "string.ipv4",
                      "string.sensitive_path", "string.shell", "string.executable", "number.", "ident.obfuscated",
                      "context.rare_modules")
_NOT_INDICATORS = ("cap.distinct",)


@dataclasses.dataclass
class TailRarity:
    columns: np.ndarray  # indicator column indices
    sorted_values: np.ndarray  # [rows, len(columns)] each column sorted ascending
    median: np.ndarray

    @classmethod
    def fit(cls, matrix: np.ndarray, names: list[str]) -> TailRarity:
        columns = np.array([i for i, n in enumerate(names) if n.startswith(INDICATOR_PREFIXES)
                            and n not in _NOT_INDICATORS], dtype=int)
        values = np.sort(matrix[:, columns], axis=0)
        return cls(columns, values, np.median(values, axis=0))

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """Sum over indicator features above the baseline median of -log P_baseline(X >= x)."""
        x = matrix[:, self.columns]
        n = len(self.sorted_values)
        total = np.zeros(len(x))
        for k in range(len(self.columns)):
            at_least = n - np.searchsorted(self.sorted_values[:, k], x[:, k] - 1e-6, side="left")
            total += np.where(x[:, k] > self.median[k], -np.log((at_least + 1) / (n + 1)), 0.0)
        return total
