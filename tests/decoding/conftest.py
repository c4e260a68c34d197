"""Shared harness for decoding tests: tiny Llama models, prompts, a fake verifier."""

from __future__ import annotations

import copy

import pytest
import torch

torch.set_num_threads(1)

VOCAB = 96


def tiny_llama(seed: int = 0, vocab: int = VOCAB, hidden: int = 32, layers: int = 2, heads: int = 2):
    """A randomly initialised Llama with tiny dims (eval mode, fp32)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads, intermediate_size=hidden * 2,
                         max_position_embeddings=512, eos_token_id=None, bos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(config).eval()
    # larger output weights make the argmax decisive (random init gives near-ties otherwise)
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


def perturbed(model, scale: float, seed: int = 1):
    """A copy of model with Gaussian noise on every weight: a drafter that agrees only partly."""
    torch.manual_seed(seed)
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for p in clone.parameters():
            p.add_(torch.randn_like(p) * scale * p.std())
    return clone


def greedy_reference(model, prompt: torch.Tensor, n: int) -> list[int]:
    """The target's own greedy decoding, by full re-computation (no cache): the ground truth."""
    ids = prompt.clone()
    with torch.inference_mode():
        for _ in range(n):
            nxt = model(input_ids=ids[None]).logits[0, -1].argmax()
            ids = torch.cat([ids, nxt.reshape(1)])
    return ids[prompt.shape[0]:].tolist()


def make_prompts(count: int = 20, vocab: int = VOCAB, seed: int = 123) -> list[torch.Tensor]:
    """Random prompts of varied length; some repeat a pattern so n-gram lookup has something to find."""
    g = torch.Generator().manual_seed(seed)
    prompts = []
    for i in range(count):
        length = 3 + i % 9
        p = torch.randint(0, vocab, (length,), generator=g)
        if i % 3 == 0:
            p = torch.cat([p, p, p[:2]])
        prompts.append(p)
    return prompts


class FakeVerifier:
    """A Verifier whose next-token logits are a fixed function of the last token: logits[last]."""

    name = "fake"

    def __init__(self, table: torch.Tensor) -> None:
        self.table = table  # [V, V]

    def logits(self, context: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat([context, block])
        return self.table[tokens[context.shape[0] - 1:]]

    def score(self, context: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.logits(context, block), -1)


def fake_verifier(table: torch.Tensor) -> FakeVerifier:
    return FakeVerifier(table)


@pytest.fixture(scope="session")
def target():
    return tiny_llama(0)


@pytest.fixture(scope="session")
def drafter_model(target):
    return perturbed(target, 0.3)


@pytest.fixture(scope="session")
def prompts():
    return make_prompts()


@pytest.fixture(scope="session")
def references(target, prompts):
    return [greedy_reference(target, p, 24) for p in prompts]


@pytest.fixture(scope="session")
def harness():
    """The helper functions above, for tests (conftest is not importable under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(tiny_llama=tiny_llama, perturbed=perturbed, greedy_reference=greedy_reference,
                           make_prompts=make_prompts, fake_verifier=fake_verifier, VOCAB=VOCAB)


CORPUS = ["def add(a, b):\n    return a + b\n", "import os\nprint(os.getcwd())\n",
          "for i in range(10):\n    print(i * i)\n", "class Point:\n    def __init__(self, x):\n        self.x = x\n"]


@pytest.fixture(scope="session")
def tokenizer():
    """A small byte-level BPE (about 300 tokens) trained on a few code lines."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 3, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")


@pytest.fixture(scope="session")
def lm_pair(tokenizer):
    """(target, drafter) tiny Llamas over the tokenizer's vocabulary; the drafter agrees partly."""
    target = tiny_llama(11, vocab=len(tokenizer))
    return target, perturbed(target, 0.3, seed=12)
