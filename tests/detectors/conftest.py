"""Fixtures shared by the detector tests (anomaly model and CLI)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

TOTAL_FUNCTION = '''
def total_{i}(items):
    """{doc}"""
    result = 0
    for item in items:
        if item.size > {i}:
            result += item.size
    return result
'''


@pytest.fixture(scope="session")
def total_function() -> Callable[..., str]:
    """`total_function(i, doc)`: the source of an ordinary function `total_{i}` (a loop summing
    item sizes above i), the clean code anomaly baselines are fitted on."""

    def render(i: int, doc: str = "Sum the sizes.") -> str:
        return TOTAL_FUNCTION.format(i=i, doc=doc)

    return render
