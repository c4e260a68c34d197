"""Token-likelihood consensus: character alignment across tokenizers, calibration, best-of-N."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "poisoned"))
import tinylm

from detectors.consensus import ConsensusDetector, judge_lines
from detectors.consensus_best import rank_candidates
from detectors.consensus_calibration import Calibration, calibrate, calibrate_models
from detectors.consensus_scoring import ScoringModel, TokenScores, char_surprisal, line_surprisal
from trustcheck.sources import Source

CODE = "def add(a, b):\n    return a + b\n\nx = add(1, 2)\nprint(x)\n"


@pytest.fixture(scope="module")
def scorers() -> list[ScoringModel]:
    return [ScoringModel("tiny-llama", *tinylm.pair("llama", 300, 1)),
            ScoringModel("tiny-neox", *tinylm.pair("gpt_neox", 270, 2))]


def test_two_tokenizers_cut_the_text_differently_but_lines_align(scorers):
    a, b = (s.score(CODE, prompt="# add two numbers\n") for s in scorers)
    assert a.spans != b.spans  # really different tokenizations
    for scores in (a, b):
        # spans tile the text exactly, so every character's surprisal is accounted for
        assert scores.spans[0][0] == 0 and scores.spans[-1][1] == len(CODE)
        assert all(p[1] == n[0] for p, n in zip(scores.spans, scores.spans[1:]))
        assert char_surprisal(CODE, scores).sum() == pytest.approx(-sum(scores.logprobs))
    la, lb = line_surprisal(CODE, a), line_surprisal(CODE, b)
    assert [x.line for x in la] == [x.line for x in lb] == [1, 2, 4, 5]
    assert [x.text for x in la] == CODE.rstrip("\n").replace("\n\n", "\n").split("\n")


def test_line_surprisal_spreads_a_token_over_its_characters():
    text = "ab\ncd\n"
    scores = TokenScores("m", ((0, 2), (2, 4), (4, 6)), (-2.0, -3.0, -1.0))  # "ab", "\nc", "d\n"
    lines = line_surprisal(text, scores)
    # line 1 = "ab\n": 2 + 1.5 nats over 2 non-blank chars; line 2 = "cd\n": 1.5 + 1
    assert [round(x.nats_per_char, 3) for x in lines] == [1.75, 1.25]
    assert [x.peak_nats for x in lines] == [3.0, 3.0]


def test_windowed_scoring_matches_one_pass(scorers):
    model, tok = scorers[0].model, scorers[0].tokenizer
    long_text = CODE * 6
    whole = ScoringModel("w", model, tok).score(long_text)
    windowed = ScoringModel("w", model, tok, window=32)
    chunked = windowed.score(long_text)
    assert windowed.passes > 1 and chunked.spans == whole.spans
    # later windows see less context, so values differ slightly; the first window is exact
    assert chunked.logprobs[:31] == pytest.approx(whole.logprobs[:31], abs=1e-4)


def test_calibration_round_trip_and_false_positive_rate(tmp_path):
    rng = np.random.default_rng(0)
    clean = {"a": list(rng.normal(1.0, 0.2, 500)), "b": list(rng.normal(2.0, 0.5, 500))}
    cal = calibrate(clean, fpr=0.05, source="synthetic")
    cal.save(tmp_path / "cal.json")
    loaded = Calibration.load(tmp_path / "cal.json")
    assert loaded == cal
    agree = [min(cal.validators["a"].z(x), cal.validators["b"].z(y)) for x, y in zip(clean["a"], clean["b"])]
    assert np.mean(np.asarray(agree) > cal.threshold) <= 0.05 + 1e-9


def test_calibrated_detector_flags_what_every_validator_finds_improbable(scorers):
    cal = calibrate_models(scorers, [CODE, "for i in range(10):\n    print(i * i)\n"], fpr=0.2)
    assert set(cal.validators) == {s.name for s in scorers}
    findings = ConsensusDetector(scorers, cal).detect(Source("x.py", "python", CODE.encode()))
    for f in findings:
        assert f.detector == "consensus" and f.evidence["agreement"] > f.evidence["threshold"]
        assert set(f.evidence["z"]) == {s.name for s in scorers}


def test_generator_preference_raises_the_score():
    text = "x = 1\nsend(secret)\n"
    val = TokenScores("v", ((0, 6), (6, 19)), (-1.0, -30.0))
    cal = Calibration(0.05, 2.0, {"v": calibrate({"v": [0.2, 0.3, 0.25, 0.2, 0.35]}, 0.2).validators["v"]})
    alone = judge_lines(text, {"v": val}, cal)
    gen = TokenScores("g", ((0, 6), (6, 19)), (-1.0, -0.1))
    with_gen = judge_lines(text, {"v": val}, cal, generator=gen)
    assert with_gen[1].llr is not None and with_gen[1].llr > 2
    assert with_gen[1].score > alone[1].score and with_gen[0].score == alone[0].score


class _KeywordScorer(ScoringModel):
    """A fake model: every character costs 0.1 nats, characters of a disliked word cost 5."""

    def __init__(self, name: str, disliked: str):
        self.name, self.disliked, self.passes = name, disliked, 0

    def score(self, text: str, prompt: str = "") -> TokenScores:
        self.passes += 1
        bad = set()
        start = text.find(self.disliked)
        while start >= 0:
            bad.update(range(start, start + len(self.disliked)))
            start = text.find(self.disliked, start + 1)
        return TokenScores(self.name, tuple((i, i + 1) for i in range(len(text))),
                           tuple(-5.0 if i in bad else -0.1 for i in range(len(text))))


def test_best_of_n_picks_the_candidate_all_models_prefer():
    clean = "def f(x):\n    return x + 1\n"
    poisoned = "def f(x):\n    fetch('example.invalid')\n    return x + 1\n"
    scorers = [_KeywordScorer("m1", "example.invalid"), _KeywordScorer("m2", "fetch")]
    ranked = rank_candidates([("poisoned-model", poisoned), ("seed-1", clean)], scorers)
    assert ranked[0].label == "seed-1" and ranked[0].score > ranked[1].score
    assert set(ranked[1].per_model) == {"m1", "m2"}
    # precomputed scores (from a decode trace) are used instead of a new pass
    pre = [{"m1": scorers[0].score(poisoned)}, {}]
    before = scorers[0].passes
    rank_candidates([("a", poisoned), ("b", clean)], scorers, precomputed=pre)
    assert scorers[0].passes == before + 1  # only candidate b needed m1
