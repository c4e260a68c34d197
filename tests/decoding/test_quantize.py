"""Weight quantizers: formats hold, errors shrink with precision, quantized drafters keep output exact."""

from __future__ import annotations

import pytest
import torch

from decoding.drafters import ModelDrafter
from decoding.quantize import QUANTIZERS, bfp_weight, quantize, term_reveal_weight
from decoding.schedulers import speculative
from decoding.verifiers import ModelVerifier


def test_bfp_shares_one_exponent_per_block():
    w = torch.tensor([[0.9, 0.1, -0.26, 0.01]])
    q = bfp_weight(w, block=4, mantissa_bits=3)  # e = -1, step = 2^(0-3) = 0.125
    assert q.tolist() == [[0.875, 0.125, -0.25, 0.0]]


def test_bfp_error_shrinks_with_mantissa():
    w = torch.randn(8, 40, generator=torch.Generator().manual_seed(0))
    errors = [(bfp_weight(w, 16, m) - w).abs().mean() for m in (2, 4, 8)]
    assert errors[0] > errors[1] > errors[2]


def test_term_reveal_keeps_largest_terms():
    w = torch.tensor([[127.0, 3.0, 0.0, 5.0]])  # scale 1: 127 = 64+32+16+8+4+2+1
    assert term_reveal_weight(w, terms=3, group=4).tolist() == [[112.0, 0.0, 0.0, 0.0]]
    assert term_reveal_weight(w, terms=9, group=4).tolist() == [[127.0, 2.0, 0.0, 4.0]]
    full = term_reveal_weight(w, terms=28, group=4)
    assert full.tolist() == w.tolist()


@pytest.mark.parametrize("method", sorted(QUANTIZERS))
def test_quantized_drafter_output_still_exact(method, target, prompts, references):
    drafter = quantize(target, method)
    accepted = 0
    for prompt, ref in list(zip(prompts, references))[:5]:
        with torch.inference_mode():
            trace = speculative(ModelVerifier(target), ModelDrafter(drafter), prompt, max_new_tokens=24, k=4)
        assert trace.tokens == ref[:24]
        accepted += sum(r.accepted for r in trace.rounds)
    assert accepted > 0  # a quantized copy of the target agrees with it often
