"""The small protocols decoding is built from: Drafter, Verifier, Backend, and their value types.

Plain classes satisfy them by shape alone (no base classes). Token sequences are 1-D LongTensors
(batch size 1); a *context* is the prompt plus everything accepted so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from decoding.trace import DecodeTrace


@dataclass
class Draft:
    """k proposed tokens; `probs` [k, V] is the drafter's distribution at each position (None: one-hot)."""

    tokens: torch.Tensor  # [k] long
    probs: torch.Tensor | None = None  # [k, V] float, rows sum to 1
    source: str = ""  # which drafter proposed it (a combined drafter delegates per round)


@runtime_checkable
class Drafter(Protocol):
    """Proposes up to k tokens that continue `context`."""

    name: str

    def propose(self, context: torch.Tensor, k: int, sampling: Sampling) -> Draft: ...


@runtime_checkable
class Verifier(Protocol):
    """Scores a block of tokens after `context` in one forward pass.

    Returns log-probs [len(block) + 1, V]: row i is log p(. | context + block[:i]); the last row is the
    distribution of the token after the whole block (the bonus token).
    """

    name: str

    def score(self, context: torch.Tensor, block: torch.Tensor) -> torch.Tensor: ...

    def logits(self, context: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
        """Like `score` but raw logits (enough for greedy acceptance, saves a log-softmax)."""
        ...


@dataclass(frozen=True)
class Sampling:
    """How tokens are chosen. temperature 0 means greedy (argmax)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


GREEDY = Sampling()


@dataclass
class Generation:
    """What a backend returns: the text (code), the generated token ids, and the decode trace."""

    text: str
    token_ids: list[int]
    trace: DecodeTrace | None = None
    prompt: str = ""
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.text


OnToken = Callable[[str], None]


@runtime_checkable
class Backend(Protocol):
    """Anything that turns a prompt into a Generation (local speculative decoding, litellm, ...)."""

    name: str

    def generate(
        self, prompt: str, *, max_new_tokens: int = 128, sampling: Sampling = GREEDY, on_token: OnToken | None = None
    ) -> Generation: ...
