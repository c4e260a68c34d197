"""Per-line surprisal under any causal LM, aligned on characters so models with different
tokenizers can be compared line by line.

A token's surprisal (-log p, nats) is spread evenly over the characters it covers; a line's score
is the surprisal of its characters divided by its non-blank length (nats per character). Nats per
character do not depend on how a tokenizer cut the text, which is what lets a llama-tokenised
generator and a GPT-NeoX-tokenised validator vote on the same line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class TokenScores:
    """One model's log-probabilities for the tokens of one text; `spans` are [start, end) character
    offsets into that text (the part of a token that lies in a prompt is cut off)."""

    model: str
    spans: tuple[tuple[int, int], ...]
    logprobs: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class LineSurprisal:
    line: int  # 1-based
    text: str
    nats_per_char: float
    peak_nats: float  # the most surprising token touching the line


def char_surprisal(text: str, scores: TokenScores) -> np.ndarray:
    """[len(text)] nats per character: each token's -log p spread over its characters."""
    out = np.zeros(len(text), dtype=np.float64)
    for (start, end), lp in zip(scores.spans, scores.logprobs):
        start, end = max(0, start), min(len(text), end)
        if end > start:
            out[start:end] += -lp / (end - start)
    return out


def line_surprisal(text: str, scores: TokenScores) -> list[LineSurprisal]:
    """Surprisal of every non-blank line of `text` under one model."""
    per_char = char_surprisal(text, scores)
    peaks = np.zeros(len(text))
    for (start, end), lp in zip(scores.spans, scores.logprobs):
        start, end = max(0, start), min(len(text), end)
        if end > start:
            peaks[start:end] = np.maximum(peaks[start:end], -lp)
    result, offset = [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        end = offset + len(line) + 1  # the newline belongs to the line it ends
        if line.strip():
            span = slice(offset, min(end, len(text)))
            result.append(LineSurprisal(number, line, float(per_char[span].sum()) / len(line.strip()),
                                        float(peaks[span].max(initial=0.0))))
        offset = end
    return result


class ScoringModel:
    """A local causal LM that scores text. `passes` counts forward passes (for the no-extra-pass
    property of `generate`)."""

    def __init__(self, name: str, model: Any, tokenizer: Any, window: int | None = None):
        self.name, self.model, self.tokenizer = name, model, tokenizer
        limit = getattr(getattr(model, "config", None), "max_position_embeddings", None) or 1024
        self.window = min(window or limit, limit)
        self.passes = 0

    def forward(self, ids: Sequence[int]):  # -> [T, V] log-probs
        import torch

        self.passes += 1
        with torch.no_grad():
            logits = self.model(input_ids=torch.tensor([list(ids)])).logits[0]
        return torch.log_softmax(logits.float(), dim=-1)

    def score(self, text: str, prompt: str = "") -> TokenScores:
        """Log-probs of the tokens of `text`, conditioned on `prompt` (one pass per window)."""
        enc = self.tokenizer(prompt + text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
        bos = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
        ids = [bos if bos is not None else ids[0]] + ids  # a first token needs a context too
        logprobs = np.zeros(len(ids) - 1)
        half = max(1, self.window // 2)
        start = 0  # score tokens [start, start + half) of the targets with up to `half` tokens of context
        while start < len(ids) - 1:
            ctx = max(0, start - half) if start else 0
            stop = min(len(ids) - 1, start + (self.window - 1 if start == 0 else half))
            lp = self.forward(ids[ctx:stop + 1])  # predicts ids[ctx+1 : stop+1]
            targets = ids[start + 1:stop + 1]
            rows = lp[start - ctx:stop - ctx]
            logprobs[start:stop] = rows.gather(1, _column(targets)).squeeze(1).numpy()
            start = stop
        cut = len(prompt)
        spans, kept = [], []
        for (s, e), lp_ in zip(offsets, logprobs):
            if e > cut:
                spans.append((max(s, cut) - cut, e - cut))
                kept.append(float(lp_))
        return TokenScores(self.name, tuple(spans), tuple(kept))


def _column(targets: Sequence[int]):
    import torch

    return torch.tensor(list(targets)).unsqueeze(1)


def scores_from_token_ids(name: str, tokenizer: Any, token_ids: Sequence[int], logprobs: Sequence[float]) -> tuple[str, TokenScores]:
    """(text, TokenScores) for generated tokens whose log-probs a decoder already recorded: no
    forward pass. Character spans come from decoding growing prefixes of the ids."""
    spans, previous = [], 0
    for i in range(len(token_ids)):
        length = len(tokenizer.decode(list(token_ids[: i + 1]), skip_special_tokens=True))
        spans.append((previous, max(previous, length)))
        previous = max(previous, length)
    text = tokenizer.decode(list(token_ids), skip_special_tokens=True)
    return text, TokenScores(name, tuple(spans), tuple(float(x) for x in logprobs))


def mean_logprob_per_char(text: str, scores: TokenScores) -> float:
    """Whole-text log-likelihood per character (for best-of-N across tokenizers)."""
    return -float(char_surprisal(text, scores).sum()) / max(1, len(text.strip()))
