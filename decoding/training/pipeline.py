"""The whole reproducible recipe: corpus -> tokenizer -> token streams -> five training phases -> bundle.

Every stage writes under one run directory and is skipped when its output is already there, so
re-running the same command after an interruption resumes where it stopped (training phases
resume from their last checkpoint). Each finished model is exported at once to `out_dir/<name>/`
(bf16 safetensors, the shared tokenizer, a model card), so a partial run still leaves usable models.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sysconfig
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from decoding.training.cards import write_card
from decoding.training.configs import ARCHITECTURES, build_model, count_parameters
from decoding.training.corpus import build_corpus, read_shard, write_corpus
from decoding.training.tokenizer import load_tokenizer, train_tokenizer
from decoding.training.tokens import encode_shard, load_stream
from decoding.training.trainer import TrainConfig, evaluate, train

LICENSES = "MIT, BSD, Apache-2.0, PSF, ISC per package metadata"
TOKENIZER_FILES_LIMIT = 2500  # files of the target shard the tokenizer is trained on


@dataclass(frozen=True)
class Phase:
    name: str  # checkpoint name; also the exported model's name unless `export` says otherwise
    arch: str
    shard: str
    seed: int
    lr: float
    minutes: float  # wall-clock budget (scaled by run_pipeline's budget_minutes / sum of all minutes)
    export: str | None = None
    init_from: str | None = None  # phase whose final weights start this one
    teacher: str | None = None  # phase whose model is distilled into this one
    batch_size: int = 16
    warmup_steps: int = 50


# The recipe as run for the bundled set (2 shared CPU cores, ~10x oversubscribed by other work).
# The target's first phase (batch 16) was step-limited: 173 steps; its continuation uses batch 4
# for 4x the optimizer steps per token. The validators ran in a second process, in parallel with
# target-continue and drafter-distill (`--phases validator-a,validator-b`).
PHASES = (
    Phase("target", "target", "target", seed=1, lr=1.5e-3, minutes=27.5),
    Phase("drafter", "drafter", "target", seed=2, lr=3e-3, minutes=5.5),
    Phase(
        "target-continue",
        "target",
        "target",
        seed=6,
        lr=1.5e-3,
        minutes=13.0,
        export="target",
        init_from="target",
        batch_size=4,
        warmup_steps=20,
    ),
    Phase(
        "drafter-distill",
        "drafter",
        "target",
        seed=5,
        lr=1e-3,
        minutes=6.0,
        export="drafter",
        init_from="drafter",
        teacher="target-continue",
        batch_size=8,
        warmup_steps=20,
    ),
    Phase(
        "validator-a", "validator-a", "validator-a", seed=3, lr=2e-3, minutes=9.0, export="validator-a", batch_size=8
    ),
    Phase(
        "validator-b", "validator-b", "validator-b", seed=4, lr=2e-3, minutes=9.0, export="validator-b", batch_size=8
    ),
    # Second round, on idle cores (`--phases target-2,drafter-2,validator-a-2,validator-b-2`): every
    # model continues from its round-one weights with a short re-warmup, then the drafter is
    # distilled again towards the stronger target.
    Phase("target-2", "target", "target", seed=7, lr=1e-3, minutes=50.0, export="target",
          init_from="target-continue", batch_size=8, warmup_steps=30),
    Phase("drafter-2", "drafter", "target", seed=8, lr=1e-3, minutes=12.0, export="drafter",
          init_from="drafter-distill", teacher="target-2", batch_size=8, warmup_steps=20),
    # The drafter's round-two distillation ran on a loaded machine (acceptance 0.40 on the stronger
    # target); a further distillation on idle cores.
    Phase("drafter-3", "drafter", "target", seed=11, lr=1e-3, minutes=18.0, export="drafter",
          init_from="drafter-2", teacher="target-2", batch_size=8, warmup_steps=20),
    Phase("validator-a-2", "validator-a", "validator-a", seed=9, lr=1.5e-3, minutes=14.0, export="validator-a",
          init_from="validator-a", batch_size=8, warmup_steps=30),
    Phase("validator-b-2", "validator-b", "validator-b", seed=10, lr=1.5e-3, minutes=14.0, export="validator-b",
          init_from="validator-b", batch_size=8, warmup_steps=30),
)
RECIPE_MINUTES = sum(p.minutes for p in PHASES)


def run_pipeline(
    run_dir: Path,
    out_dir: Path,
    *,
    budget_minutes: float = RECIPE_MINUTES,
    seed: int = 0,
    phases: tuple[Phase, ...] = PHASES,
    base: TrainConfig | None = None,
    vocab_size: int = 4096,
    log: Callable[[str], None] = print,
) -> dict:
    """Run (or resume) every stage; return {phase: eval dict}. Phases' minutes scale to `budget_minutes`."""
    # Passive OpenMP waits: on a shared machine, spinning worker threads cut throughput 5x.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(int(os.environ.get("TRUSTCHECK_TRAIN_THREADS", "2")))
    base = base or TrainConfig()
    scale = budget_minutes / sum(p.minutes for p in phases)
    run_dir.mkdir(parents=True, exist_ok=True)
    shards = prepare_data(run_dir, seed=seed, vocab_size=vocab_size, log=log)
    tokenizer = load_tokenizer(run_dir / "tokenizer")
    streams = {name: load_stream(run_dir / "tokens" / f"{name}.npy") for name in shards}
    models: dict[str, Any] = {}
    for phase in phases:
        cfg = replace(
            base,
            lr=phase.lr,
            data_seed=seed * 1000 + phase.seed,
            budget_s=phase.minutes * 60 * scale,
            batch_size=phase.batch_size if base.batch_size == TrainConfig.batch_size else base.batch_size,
            warmup_steps=min(phase.warmup_steps, base.warmup_steps),
        )
        model = _phase_model(phase, run_dir, tokenizer, models)
        loss_fn = {}
        if phase.teacher:
            from decoding.training.distill import distill_loss

            loss_fn = {"loss_fn": distill_loss(models[phase.teacher])}
        log(
            f"== phase {phase.name}: {phase.arch} {count_parameters(model):,} params, shard {phase.shard}, "
            f"budget {cfg.budget_s:.0f}s, started {_now()}"
        )
        state = train(model, streams[phase.shard], cfg, run_dir / "ckpt" / phase.name, log=log, **loss_fn)
        result_path = run_dir / "results" / f"{phase.name}.json"
        if not result_path.exists():
            result = {
                **evaluate(model, streams["eval"], seq_len=cfg.seq_len),
                "steps": state.step,
                "tokens_seen": state.tokens_seen,
                "elapsed_s": round(state.elapsed_s, 1),
            }
            result_path.parent.mkdir(exist_ok=True)
            result_path.write_text(json.dumps(result, indent=1))
        log(f"== phase {phase.name} done: {result_path.read_text()}")
        models[phase.name] = model
        if phase.export:
            export_model(model, tokenizer, out_dir / phase.export, phase, cfg, _results(run_dir), shards, run_dir)
    return _results(run_dir)


def _phase_model(phase: Phase, run_dir: Path, tokenizer, models: dict[str, Any]):
    """A fresh model for `phase`, started from `init_from`'s final weights when it has one."""
    model = build_model(phase.arch, phase.seed, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    if phase.init_from:
        from safetensors.torch import load_model

        load_model(model, str(run_dir / "ckpt" / phase.init_from / "model.safetensors"))
    return model


def _results(run_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((run_dir / "results").glob("*.json"))}


def prepare_data(run_dir: Path, *, seed: int, vocab_size: int, log: Callable[[str], None]) -> dict[str, dict]:
    """Corpus shards, tokenizer and token streams (each skipped when already built). Returns shard stats."""
    corpus_dir, tok_dir, tokens_dir = run_dir / "corpus", run_dir / "tokenizer", run_dir / "tokens"
    if not (corpus_dir / "manifest.json").exists():
        t = time.perf_counter()
        corpus, contents = build_corpus(seed)
        write_corpus(corpus, contents, corpus_dir)
        log(f"corpus built in {time.perf_counter() - t:.0f}s")
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    if not (tok_dir / "tokenizer.json").exists():
        texts = list(read_shard(corpus_dir / "target.jsonl"))[:TOKENIZER_FILES_LIMIT]
        train_tokenizer(texts, vocab_size, tok_dir)
        log(f"tokenizer trained on {len(texts)} target-shard files")
    tokenizer = load_tokenizer(tok_dir)
    stats = {}
    for name, shard in manifest["shards"].items():
        path = tokens_dir / f"{name}.npy"
        if not path.exists():
            encode_shard(read_shard(corpus_dir / f"{name}.jsonl"), tokenizer, path)
        stats[name] = {"files": shard["files"], "bytes": shard["bytes"], "tokens": len(load_stream(path))}
    (run_dir / "shards.json").write_text(json.dumps(stats, indent=1))
    log(f"shards: {stats}")
    return stats


def export_model(
    model, tokenizer, out: Path, phase: Phase, cfg: TrainConfig, results: dict, shards: dict, run_dir: Path
) -> None:
    """save_pretrained in bf16 safetensors + the shared tokenizer + card.json/README.md."""
    import copy

    import torch

    out.mkdir(parents=True, exist_ok=True)
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    res = results[phase.name]
    chain = _chain(phase)  # from-scratch phase first, then continuations (distillation reported apart)
    trained = [results[p.name] for p in chain if not p.teacher]
    card = {
        "name": phase.export,
        "arch": phase.arch,
        "model_type": ARCHITECTURES[phase.arch][0],
        "parameters": count_parameters(model),
        "config": ARCHITECTURES[phase.arch][1],
        "seed": chain[0].seed,  # the initialisation seed; later phases' data seeds are in training.phases
        "date": _now(),
        "tokenizer": f"byte-level BPE, {len(tokenizer)} tokens, shared by all bundled models",
        "data": {
            "shard": phase.shard,
            **shards[phase.shard],
            "licenses": LICENSES,
            "manifest": "decoding/bundled/data-manifest.json",
        },
        "training": {
            "steps": sum(r["steps"] for r in trained),
            "tokens_seen": sum(r["tokens_seen"] for r in trained),
            "elapsed_s": round(sum(r["elapsed_s"] for r in trained), 1),
            "phases": [
                {"name": p.name, "seed": p.seed, "batch_size": p.batch_size, "lr": p.lr, **results[p.name]}
                for p in chain
            ],
            "batch_size": chain[0].batch_size,
            "seq_len": cfg.seq_len,
            "lr": chain[0].lr,
            "optimizer": "AdamW(0.9, 0.95), wd 0.1, warmup + cosine, clip 1.0",
            "bf16": cfg.bf16,
            "threads": int(os.environ.get("TRUSTCHECK_TRAIN_THREADS", "2")),
            "device": "cpu",
        },
        "eval": {"shard": "eval", **{k: res[k] for k in ("loss", "ppl", "tokens")}},
    }
    if phase.teacher and phase.init_from:
        before = results[[p for p in chain if not p.teacher][-1].name]  # the drafter before any distillation
        card["distillation"] = {
            "teacher": phase.teacher,
            "method": "KL(target || drafter) + 0.1 CE",
            "steps": res["steps"],
            "tokens_seen": res["tokens_seen"],
            "elapsed_s": res["elapsed_s"],
            "lr": phase.lr,
            "loss_before": before["loss"],
            "ppl_before": before["ppl"],
        }
    write_card(out, card)
    _write_data_manifest(run_dir, out.parent)


def _chain(phase: Phase) -> list[Phase]:
    by_name = {p.name: p for p in PHASES}
    chain = [phase]
    while chain[0].init_from:
        chain.insert(0, by_name[chain[0].init_from])
    return chain


def _write_data_manifest(run_dir: Path, bundle_dir: Path) -> None:
    """Compact file list per shard (origin, path relative to its install root, sha256, size)."""
    manifest = json.loads((run_dir / "corpus" / "manifest.json").read_text())
    roots = [sysconfig.get_paths()["purelib"] + "/", sysconfig.get_paths()["stdlib"] + "/"]
    compact = {
        "seed": manifest["seed"],
        "fractions": manifest["fractions"],
        "caps_bytes": manifest["caps_bytes"],
        "shards": {},
    }
    for name, shard in manifest["shards"].items():
        rows = []
        for e in shard["entries"]:
            path = e["path"]
            for root in roots:
                path = path.removeprefix(root)
            rows.append([e["origin"], path.split("site-packages/")[-1], e["sha256"], e["size"]])
        compact["shards"][name] = {
            "files": shard["files"],
            "bytes": shard["bytes"],
            "columns": ["origin", "path", "sha256", "size"],
            "entries": rows,
        }
    (bundle_dir / "data-manifest.json").write_text(json.dumps(compact, separators=(",", ":")))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def select_phases(names: str | None) -> tuple[Phase, ...]:
    """PHASES, or the comma-separated subset named (in recipe order; their init_from must have run)."""
    if not names:
        return PHASES
    wanted = set(names.split(","))
    unknown = wanted - {p.name for p in PHASES}
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}; recipe: {[p.name for p in PHASES]}")
    return tuple(p for p in PHASES if p.name in wanted)


def main() -> None:  # `python -m decoding.training.pipeline RUN_DIR OUT_DIR [MINUTES] [PHASE,PHASE...]`
    import sys

    run_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    phases = select_phases(sys.argv[4] if len(sys.argv) > 4 else None)
    minutes = float(sys.argv[3]) if len(sys.argv) > 3 else sum(p.minutes for p in phases)
    t = time.perf_counter()
    results = run_pipeline(
        run_dir, out_dir, budget_minutes=minutes, phases=phases, log=lambda m: print(f"[{_now()}] {m}", flush=True)
    )
    print(json.dumps({"results": results, "wall_s": round(time.perf_counter() - t)}, indent=1), flush=True)


if __name__ == "__main__":
    main()

__all__ = ["PHASES", "Phase", "TrainConfig", "asdict", "run_pipeline"]
