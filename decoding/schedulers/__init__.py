"""Schedulers: different loops over the same Drafter/Verifier protocols. Registry by strategy name."""

from decoding.schedulers.autoregressive import autoregressive
from decoding.schedulers.multi_draft import multi_draft
from decoding.schedulers.speculative import next_draft_length, speculative

SCHEDULERS = {
    "autoregressive": autoregressive,
    "speculative": speculative,
    "multi-draft": multi_draft,
}

__all__ = ["SCHEDULERS", "autoregressive", "multi_draft", "next_draft_length", "speculative"]
