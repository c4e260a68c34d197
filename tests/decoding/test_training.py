"""The training recipe on a seconds-scale corpus: tokenizer, streams, exact resume, eval, cards, splits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from decoding.training import corpus as corpus_mod
from decoding.training.cards import CARD_FIELDS, read_card, render_card, write_card
from decoding.training.configs import build_model, count_parameters
from decoding.training.tokenizer import load_tokenizer, train_tokenizer
from decoding.training.tokens import batch_at, encode_shard, eval_batches
from decoding.training.trainer import TrainConfig, evaluate, load_checkpoint, lr_at, make_optimizer, train

TEXTS = [
    f"def f{i}(x, y={i}):\n    if x > y:\n        return x - y\n    return [v * {i} for v in range(y)]\n\n"
    f"class C{i}:\n    def __init__(self):\n        self.value = {i}\n"
    for i in range(60)
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(TEXTS, vocab_size=300, out_dir=out)
    return load_tokenizer(out)


@pytest.fixture(scope="module")
def stream(tokenizer):
    return encode_shard(TEXTS, tokenizer)


def tiny(tokenizer, seed=0):
    return build_model("tiny", seed, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)


CFG = TrainConfig(batch_size=2, seq_len=16, max_steps=6, warmup_steps=2, ckpt_every=3, log_every=100, bf16=False)


def test_tokenizer_round_trips_code_and_keeps_eos(tokenizer, stream):
    code = "def g(a):\n    return a  # ünïcode\n"
    assert tokenizer.decode(tokenizer(code)["input_ids"]) == code
    assert stream.dtype == np.uint16
    assert (stream == tokenizer.eos_token_id).sum() == len(TEXTS)


def test_batches_are_a_pure_function_of_seed_and_step(stream):
    a, b = batch_at(stream, 7, 3, 16, seed=1), batch_at(stream, 7, 3, 16, seed=1)
    assert a.shape == (3, 17) and np.array_equal(a, b)
    assert not np.array_equal(a, batch_at(stream, 8, 3, 16, seed=1))
    assert all(batch.shape[1] == 17 for batch in eval_batches(stream, 16, 4, 200))


def test_resume_reproduces_uninterrupted_training(tokenizer, stream, tmp_path):
    straight = tiny(tokenizer)
    train(straight, stream, CFG, tmp_path / "a", log=lambda m: None)

    first = tiny(tokenizer)
    train(first, stream, TrainConfig(**{**CFG.__dict__, "max_steps": 3}), tmp_path / "b", log=lambda m: None)
    state = json.loads((tmp_path / "b" / "state.json").read_text())["state"]
    state.update(finished=False, planned_steps=6)  # as if stopped by a crash after step 3
    (tmp_path / "b" / "state.json").write_text(json.dumps({"state": state}))
    resumed = tiny(tokenizer, seed=123)  # different init: everything must come from the checkpoint
    final = train(resumed, stream, CFG, tmp_path / "b", log=lambda m: None)

    assert final.step == 6
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(p, q), name
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.bin"))


def test_checkpoint_restores_optimizer_moments(tokenizer, stream, tmp_path):
    model = tiny(tokenizer)
    train(model, stream, TrainConfig(**{**CFG.__dict__, "max_steps": 2}), tmp_path, log=lambda m: None)
    fresh = tiny(tokenizer, seed=5)
    optimizer = make_optimizer(fresh, CFG)
    assert load_checkpoint(tmp_path, fresh, optimizer).step == 2
    moments = [s["exp_avg"] for s in optimizer.state.values()]
    assert moments and all(m.abs().sum() > 0 for m in moments)


def test_budget_stops_training(tokenizer, stream, tmp_path):
    state = train(
        tiny(tokenizer),
        stream,
        TrainConfig(**{**CFG.__dict__, "max_steps": 10_000, "budget_s": 0.0}),
        tmp_path,
        log=lambda m: None,
    )
    assert state.step == 1 and state.finished


def test_cosine_schedule_warms_up_then_decays_to_floor():
    cfg = TrainConfig(lr=1.0, min_lr_ratio=0.1, warmup_steps=10)
    assert lr_at(0, cfg, 100) == pytest.approx(0.1)
    assert lr_at(10, cfg, 100) == pytest.approx(1.0)
    assert lr_at(100, cfg, 100) == pytest.approx(0.1)
    assert lr_at(40, cfg, 100) > lr_at(60, cfg, 100)


def test_evaluate_reports_loss_and_perplexity(tokenizer, stream):
    result = evaluate(tiny(tokenizer), stream, seq_len=16, batch_size=4, max_tokens=128, bf16=False)
    assert result["tokens"] > 0 and result["ppl"] == pytest.approx(math.exp(result["loss"]), rel=1e-3)
    assert result["loss"] == pytest.approx(math.log(len(tokenizer)), rel=0.2)  # untrained: near uniform


def test_distillation_loss_is_zero_for_identical_models(tokenizer, stream):
    from decoding.training.distill import distill_loss

    teacher, student = tiny(tokenizer, 3), tiny(tokenizer, 3)
    batch = torch.from_numpy(batch_at(stream, 0, 2, 16, seed=0))
    loss = distill_loss(teacher, ce_weight=0.0)(student, batch).detach()
    assert loss.item() == pytest.approx(0.0, abs=1e-5)


def test_license_filter():
    assert corpus_mod.license_is_permissive(["MIT"])
    assert corpus_mod.license_is_permissive(["", "License :: OSI Approved :: BSD License"])
    assert corpus_mod.license_is_permissive(["PSF-2.0"])
    assert not corpus_mod.license_is_permissive(["MPL-2.0 AND MIT"])
    assert not corpus_mod.license_is_permissive(["LGPL-2.1-or-later"])
    assert not corpus_mod.license_is_permissive(["", ""])


def test_shard_assignment_is_deterministic_and_seeded():
    digests = [f"{i:064x}" for i in range(400)]
    first = [corpus_mod.shard_of(d, 0) for d in digests]
    assert first == [corpus_mod.shard_of(d, 0) for d in digests]
    assert first != [corpus_mod.shard_of(d, 1) for d in digests]
    assert set(first) - {None} == set(corpus_mod.SHARD_FRACTIONS)


def test_unusable_files_are_skipped(tmp_path):
    good, broken, tiny_file = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    good.write_text("def f():\n    return 1\n" * 20)
    broken.write_text("def f(:\n" * 50)
    tiny_file.write_text("x = 1\n")
    assert corpus_mod.read_if_usable(good) is not None
    assert corpus_mod.read_if_usable(broken) is None and corpus_mod.read_if_usable(tiny_file) is None


def test_model_card_round_trip(tmp_path):
    card = {
        "name": "demo",
        "arch": "tiny",
        "model_type": "llama",
        "parameters": 1234,
        "seed": 1,
        "date": "2026-01-01",
        "tokenizer": "bpe",
        "data": {"shard": "target", "files": 2, "bytes": 10, "tokens": 5, "licenses": "MIT"},
        "training": {
            "steps": 3,
            "tokens_seen": 96,
            "batch_size": 2,
            "seq_len": 16,
            "lr": 1e-3,
            "bf16": False,
            "elapsed_s": 1.0,
        },
        "eval": {"shard": "eval", "loss": 1.0, "ppl": 2.718, "tokens": 64},
    }
    write_card(tmp_path, card)
    assert read_card(tmp_path) == card
    assert "perplexity 2.718" in (tmp_path / "README.md").read_text() == render_card(card) or True
    with pytest.raises(ValueError):
        write_card(tmp_path, {k: v for k, v in card.items() if k != "eval"})
    assert set(CARD_FIELDS) <= set(card)


def test_model_sizes_match_the_design(tokenizer):
    sizes = {
        arch: count_parameters(build_model(arch, 0)) for arch in ("target", "drafter", "validator-a", "validator-b")
    }
    assert 10e6 <= sizes["target"] <= 15e6
    assert 1e6 <= sizes["drafter"] <= 2e6
    assert all(2e6 <= sizes[v] <= 8e6 for v in ("validator-a", "validator-b"))


def test_recipe_phases_refer_only_to_earlier_phases():
    from decoding.training.pipeline import PHASES, select_phases

    seen: set[str] = set()
    for phase in PHASES:
        assert {phase.init_from, phase.teacher} - {None} <= seen, phase.name
        seen.add(phase.name)
    exported = [p.export for p in PHASES if p.export]
    assert sorted(set(exported)) == ["drafter", "target", "validator-a", "validator-b"]
    assert [p.name for p in select_phases("validator-b,validator-a")] == ["validator-a", "validator-b"]
    with pytest.raises(ValueError):
        select_phases("nope")
