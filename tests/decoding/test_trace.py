"""Efficiency summary maths and the JSONL / rich renderings of a DecodeTrace."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from decoding.trace import (
    DecodeTrace,
    Round,
    acceptance_rate,
    efficiency_table,
    expected_tokens_per_round,
    speedup_bound,
    summarize,
    write_jsonl,
)


def test_expected_tokens_per_round():
    assert expected_tokens_per_round(0.0, 4) == 1.0
    assert expected_tokens_per_round(1.0, 4) == 5.0
    assert expected_tokens_per_round(0.5, 2) == pytest.approx(1.75)


def test_speedup_bound():
    # alpha 0.8, gamma 4: E = (1 - 0.8^5) / 0.2 = 3.3616; cost 4 * 0.1 + 1.2 = 1.6
    assert speedup_bound(0.8, 4, 0.1, 1.2) == pytest.approx(3.3616 / 1.6)


def test_acceptance_rate_counts_rejections():
    rounds = [Round(4, 4, 0, 0), Round(4, 1, 0, 0), Round(4, 0, 0, 0)]
    assert acceptance_rate(rounds) == pytest.approx(5 / 7)


def trace() -> DecodeTrace:
    t = DecodeTrace("speculative", "tgt", ["d"], prompt_tokens=3, tokens=[1, 2, 3, 4, 5, 6],
                    rounds=[Round(4, 4, 0.004, 0.012), Round(4, 0, 0.004, 0.012)], total_s=0.04, t_single=0.01)
    t.token_logprobs = {"tgt": [-0.1] * 6, "val": [-1.0] * 6}
    return t


def test_summary_fields():
    s = summarize(trace(), ar_tokens_per_s=100.0)
    assert s["alpha"] == pytest.approx(0.8) and s["gamma"] == 4
    assert s["c"] == pytest.approx(0.1) and s["v"] == pytest.approx(1.2)
    assert s["speedup"] == pytest.approx(1.5)
    assert s["bound_efficiency"] == pytest.approx(1.5 / s["bound"])


def test_bound_mixes_drafters():
    """Rounds from two drafters: each group's E and cost, weighted by its rounds; one group alone
    gives the single-drafter formula."""
    free = [Round(4, 4, 0.0, 0.012, drafter="ngram"), Round(4, 0, 0.0, 0.012, drafter="ngram")]
    model = [Round(2, 2, 0.002, 0.011, drafter="lm")]
    t = DecodeTrace("speculative", "tgt", ["ngram+lm"], tokens=list(range(9)), rounds=free + model, total_s=0.05,
                    t_single=0.01)
    s = summarize(t)
    # ngram: alpha 0.8, gamma 4, c 0, v 1.2; lm: alpha 1 (nothing rejected), gamma 2, c 0.1, v 1.1
    e_ngram, e_lm = expected_tokens_per_round(0.8, 4), expected_tokens_per_round(1.0, 2)
    assert s["bound"] == pytest.approx((2 * e_ngram + e_lm) / (2 * 1.2 + (2 * 0.1 + 1.1)))
    t.rounds = free
    assert summarize(t)["bound"] == pytest.approx(speedup_bound(0.8, 4, 0.0, 1.2))


def test_jsonl_and_table():
    buf = io.StringIO()
    write_jsonl(trace(), buf)
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["type"] for r in rows] == ["round"] * 2 + ["token"] * 6 + ["summary"]
    assert rows[2]["logprobs"] == {"tgt": -0.1, "val": -1.0}
    out = io.StringIO()
    Console(file=out, width=80).print(efficiency_table(summarize(trace())))
    assert "acceptance alpha" in out.getvalue() and "0.800" in out.getvalue()
