"""What the baseline commonly uses: module roots and call names seen in several of its files.

A function that imports a module, or calls a function, that the rest of the repository never
uses is a classic sign of injected code (a new `pyperclip`, `paramiko` or `ctypes` in a web app).
These context features are the only ones that depend on the baseline; the vocabulary is saved in
the baseline's JSON so that scoring recomputes them exactly as fitting did.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import Any

from detectors.anomaly.features import Unit

RARE_BELOW = 2  # a name used in fewer baseline files than this is rare
CONTEXT_FEATURES = ("context.rare_modules", "context.rare_calls", "context.rare_call_share")


def _call_name(call: str) -> str:
    return call.rsplit(".", 1)[-1]


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    modules: frozenset[str]  # module roots referenced in >= RARE_BELOW baseline files
    calls: frozenset[str]  # call names (last dotted part) used in >= RARE_BELOW baseline files

    @classmethod
    def build(cls, units_per_file: Iterable[list[Unit]]) -> Vocabulary:
        modules: Counter[str] = Counter()
        calls: Counter[str] = Counter()
        for units in units_per_file:
            modules.update({m for u in units for m in u.modules})
            calls.update({_call_name(c) for u in units for c in u.calls})
        return cls(frozenset(m for m, n in modules.items() if n >= RARE_BELOW),
                   frozenset(c for c, n in calls.items() if n >= RARE_BELOW))

    def features(self, unit: Unit) -> list[float]:
        """Aligned with CONTEXT_FEATURES."""
        names = [_call_name(c) for c in unit.calls if not c.startswith("?")]
        rare_calls = sum(1 for n in names if n not in self.calls)
        rare_modules = sum(1 for m in unit.modules if m not in self.modules)
        return [float(rare_modules), float(rare_calls), rare_calls / len(names) if names else 0.0]

    def vector(self, unit: Unit) -> list[float]:
        """The unit's full feature vector: its own features plus the context features."""
        return unit.vector + self.features(unit)

    def rare_names(self, unit: Unit) -> tuple[list[str], list[str]]:
        """(rare modules, rare calls) of a unit, for explanations."""
        return (sorted(m for m in unit.modules if m not in self.modules),
                sorted({_call_name(c) for c in unit.calls if not c.startswith("?") and _call_name(c) not in self.calls}))

    def to_json(self) -> dict[str, Any]:
        return {"rare_below": RARE_BELOW, "modules": sorted(self.modules), "calls": sorted(self.calls)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(frozenset(data.get("modules", ())), frozenset(data.get("calls", ())))
