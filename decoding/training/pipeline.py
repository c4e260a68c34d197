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
    budget_share: float  # fraction of the total training budget
    export: str | None = None
    init_from: str | None = None  # phase whose final weights start this one
    teacher: str | None = None  # phase whose model is distilled into this one


PHASES = (
    Phase("target", "target", "target", seed=1, lr=1.5e-3, budget_share=0.50, export="target"),
    Phase("drafter", "drafter", "target", seed=2, lr=3e-3, budget_share=0.10),
    Phase(
        "drafter-distill",
        "drafter",
        "target",
        seed=5,
        lr=1e-3,
        budget_share=0.12,
        export="drafter",
        init_from="drafter",
        teacher="target",
    ),
    Phase("validator-a", "validator-a", "validator-a", seed=3, lr=2e-3, budget_share=0.14, export="validator-a"),
    Phase("validator-b", "validator-b", "validator-b", seed=4, lr=2e-3, budget_share=0.14, export="validator-b"),
)


def run_pipeline(
    run_dir: Path,
    out_dir: Path,
    *,
    budget_minutes: float = 72.0,
    seed: int = 0,
    phases: tuple[Phase, ...] = PHASES,
    base: TrainConfig | None = None,
    vocab_size: int = 4096,
    log: Callable[[str], None] = print,
) -> dict:
    """Run (or resume) every stage; return {phase: eval dict}."""
    # Passive OpenMP waits: on a shared machine, spinning worker threads cut throughput 5x.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(int(os.environ.get("TRUSTCHECK_TRAIN_THREADS", "2")))
    base = base or TrainConfig()
    run_dir.mkdir(parents=True, exist_ok=True)
    shards = prepare_data(run_dir, seed=seed, vocab_size=vocab_size, log=log)
    tokenizer = load_tokenizer(run_dir / "tokenizer")
    streams = {name: load_stream(run_dir / "tokens" / f"{name}.npy") for name in shards}
    results_path = run_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    models: dict[str, Any] = {}
    for phase in phases:
        cfg = replace(
            base, lr=phase.lr, data_seed=seed * 1000 + phase.seed, budget_s=budget_minutes * 60 * phase.budget_share
        )
        model = build_model(phase.arch, phase.seed, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
        if phase.init_from:
            from safetensors.torch import load_model

            load_model(model, str(run_dir / "ckpt" / phase.init_from / "model.safetensors"))
        loss_fn = {}
        if phase.teacher:
            from decoding.training.distill import distill_loss

            loss_fn = {"loss_fn": distill_loss(models[phase.teacher])}
        log(
            f"== phase {phase.name}: {phase.arch} {count_parameters(model):,} params, shard {phase.shard}, "
            f"budget {cfg.budget_s:.0f}s, started {_now()}"
        )
        state = train(model, streams[phase.shard], cfg, run_dir / "ckpt" / phase.name, log=log, **loss_fn)
        if phase.name not in results:
            results[phase.name] = {
                **evaluate(model, streams["eval"], seq_len=cfg.seq_len),
                "steps": state.step,
                "tokens_seen": state.tokens_seen,
                "elapsed_s": round(state.elapsed_s, 1),
            }
            results_path.write_text(json.dumps(results, indent=1))
        log(f"== phase {phase.name} done: {results[phase.name]}")
        models[phase.name] = model
        if phase.export:
            export_model(model, tokenizer, out_dir / phase.export, phase, cfg, results, shards, run_dir)
    return results


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
    trained = phase.init_from or phase.name  # the phase that saw the data from scratch
    card = {
        "name": phase.export,
        "arch": phase.arch,
        "model_type": ARCHITECTURES[phase.arch][0],
        "parameters": count_parameters(model),
        "config": ARCHITECTURES[phase.arch][1],
        "seed": phase.seed,
        "date": _now(),
        "tokenizer": f"byte-level BPE, {len(tokenizer)} tokens, shared by all bundled models",
        "data": {
            "shard": phase.shard,
            **shards[phase.shard],
            "licenses": LICENSES,
            "manifest": "decoding/bundled/data-manifest.json",
        },
        "training": {
            "steps": results[trained]["steps"],
            "tokens_seen": results[trained]["tokens_seen"],
            "elapsed_s": results[trained]["elapsed_s"],
            "batch_size": cfg.batch_size,
            "seq_len": cfg.seq_len,
            "lr": (phase.lr if not phase.init_from else _lr_of(phase.init_from)),
            "optimizer": "AdamW(0.9, 0.95), wd 0.1, cosine, warmup 50, clip 1.0",
            "bf16": cfg.bf16,
            "threads": int(os.environ.get("TRUSTCHECK_TRAIN_THREADS", "2")),
            "device": "cpu",
        },
        "eval": {"shard": "eval", **{k: res[k] for k in ("loss", "ppl", "tokens")}},
    }
    if phase.init_from:
        before = results[phase.init_from]
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


def _lr_of(phase_name: str) -> float:
    return next(p.lr for p in PHASES if p.name == phase_name)


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


def main() -> None:  # `python -m decoding.training.pipeline RUN_DIR OUT_DIR BUDGET_MINUTES`
    import sys

    run_dir, out_dir, minutes = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    t = time.perf_counter()
    results = run_pipeline(run_dir, out_dir, budget_minutes=minutes, log=lambda m: print(f"[{_now()}] {m}", flush=True))
    print(json.dumps({"results": results, "wall_s": round(time.perf_counter() - t)}, indent=1), flush=True)


if __name__ == "__main__":
    main()

__all__ = ["PHASES", "Phase", "TrainConfig", "asdict", "run_pipeline"]
