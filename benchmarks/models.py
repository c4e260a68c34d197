"""Bundled models: held-out perplexity, drafter->target greedy acceptance, parse rate, size.

    .venv/bin/python benchmarks/models.py [--prefixes 50] [--new-tokens 128] [--k 4]

Held-out data is the eval shard (disjoint by file from every training shard), rebuilt from
decoding/bundled/data-manifest.json (or read from runs/train/corpus when present).

Acceptance: greedy speculative decoding's output is the target's own greedy output, so we
generate that once per prefix (KV cache) and replay the rounds: at each position the drafter
proposes k tokens greedily; the accepted count is the longest prefix equal to the target's
tokens; the target's next token is the bonus; the next round starts after it. (Within a round
the drafter's proposals equal its teacher-forced argmaxes on the target's tokens up to the first
mismatch, so one drafter forward pass per prefix replays every round exactly.)
    acceptance = accepted drafted tokens / drafted tokens
Parse rate: prefix + completion, cut after the last complete line at which the code is not
inside an open bracket/string/block header, parses without tree-sitter ERROR/MISSING nodes,
and the cut keeps at least one generated line.

Ends with one line:
target_ppl=.. drafter_ppl=.. drafter_ppl_before_distill=.. acceptance_k4=.. parse_ok=.. bundled_mb=..
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import tokenize
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from decoding.loading import BUNDLED_DIR, bundled_names, load_model
from decoding.training.heldout import held_out_texts
from decoding.training.tokens import encode_shard
from decoding.training.trainer import evaluate
from detectors.languages import parser

CONTEXT_TOKENS = 192


def make_prefixes(texts: list[str], count: int, seed: int = 0) -> list[str]:
    """File heads: each held-out file cut at a random line in its middle (model sees the last 192 tokens)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    out = []
    for i in order:
        lines = texts[i].splitlines(keepends=True)
        if len(lines) < 30:
            continue
        cut = int(rng.integers(int(len(lines) * 0.2), int(len(lines) * 0.8)))
        while cut < len(lines) - 1 and not lines[cut].strip():  # next line must carry code
            cut += 1
        out.append("".join(lines[:cut]))
        if len(out) == count:
            break
    return out


def context_ids(tokenizer, head: str) -> torch.Tensor:
    ids = tokenizer(head, add_special_tokens=False)["input_ids"][-CONTEXT_TOKENS:]
    return torch.tensor([ids])


@torch.no_grad()
def greedy_batch(model, tokenizer, heads: list[str], n: int, batch: int = 10) -> list[list[int]]:
    """The target's greedy continuations (up to n tokens, cut at EOS), left-padded batches with a KV cache."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    out: list[list[int]] = []
    for i in range(0, len(heads), batch):
        rows = [context_ids(tokenizer, h)[0].tolist() for h in heads[i : i + batch]]
        width = max(map(len, rows))
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        gen = model.generate(
            ids, attention_mask=mask, max_new_tokens=n, do_sample=False, eos_token_id=eos, pad_token_id=pad
        )[:, width:].tolist()
        for row in gen:
            out.append(row[: row.index(eos) + 1] if eos in row else row)
    return out


@torch.no_grad()
def replay_acceptance(drafter, ids: torch.Tensor, target_tokens: list[int], k: int) -> tuple[int, int, int]:
    """(drafted, accepted, rounds) of greedy speculative decoding that produces `target_tokens`.

    A drafted token only counts while every earlier one in its round matched, so the drafter's
    proposals in a round equal its teacher-forced argmaxes on the target's tokens: one forward
    pass over context + target tokens gives every round.
    """
    full = torch.cat([ids, torch.tensor([target_tokens], dtype=ids.dtype)], dim=1)
    argmax = drafter(input_ids=full).logits[0, ids.shape[1] - 1 : -1].argmax(-1).tolist()  # [len(target_tokens)]
    drafted = accepted = rounds = pos = 0
    while pos < len(target_tokens):
        k_now = min(k, len(target_tokens) - pos)
        n = 0
        while n < k_now and argmax[pos + n] == target_tokens[pos + n]:
            n += 1
        drafted, accepted, rounds = drafted + k_now, accepted + n, rounds + 1
        pos += n + 1  # accepted tokens + the target's bonus/correction token
    return drafted, accepted, rounds


def complete_cut(text: str, start: int) -> int | None:
    """End offset of the last line (after `start`) where the code is syntactically closed, else None."""
    ends = [i + 1 for i, ch in enumerate(text) if ch == "\n" and i + 1 > start]
    for end in reversed(ends):
        chunk = text[:end]
        last = chunk.rstrip().splitlines()[-1] if chunk.strip() else ""
        if last.rstrip().endswith((":", "\\", ",")):
            continue
        try:
            list(tokenize.generate_tokens(io.StringIO(chunk).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        return end
    return None


def parses_ok(head: str, completion: str) -> bool:
    text = head + completion
    end = complete_cut(text, len(head))
    if end is None:
        return False
    tree = parser("python").parse(text[:end].encode("utf-8"))
    return not tree.root_node.has_error


def bundled_mb() -> float:
    return sum(p.stat().st_size for p in BUNDLED_DIR.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefixes", type=int, default=50)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--eval-tokens", type=int, default=65_536)
    ap.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "train", help="training run (optional)")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("TRUSTCHECK_THREADS", "2")))
    texts = held_out_texts(run_corpus=args.run_dir / "corpus")
    print(f"held-out eval shard: {len(texts)} files")

    names = [n for n in ("target", "drafter", "validator-a", "validator-b") if n in bundled_names()]
    models = {n: load_model(f"bundled:{n}") for n in names}
    tokenizer = models["target"].tokenizer
    stream = encode_shard(texts, tokenizer)
    ppl = {}
    for name, loaded in models.items():
        t = time.perf_counter()
        ppl[name] = evaluate(loaded.model, stream, max_tokens=args.eval_tokens, bf16=False)["ppl"]
        print(
            f"{name:<12} params {loaded.card.get('parameters', 0):>11,}  held-out ppl {ppl[name]:8.3f}  "
            f"(card {loaded.card['eval']['ppl']}, {time.perf_counter() - t:.0f}s)"
        )
    before = models["drafter"].card.get("distillation", {}).get("ppl_before")
    pre = None
    ckpt = args.run_dir / "ckpt" / "drafter" / "model.safetensors"
    if ckpt.is_file():  # recompute from the pre-distillation checkpoint when this machine trained it
        import copy

        from safetensors.torch import load_model as load_weights

        pre = copy.deepcopy(models["drafter"].model)
        load_weights(pre, str(ckpt))
        before = evaluate(pre, stream, max_tokens=args.eval_tokens, bf16=False)["ppl"]
    print(f"drafter before distillation: held-out ppl {before}")

    target, drafter, eos = models["target"].model, models["drafter"].model, tokenizer.eos_token_id
    drafted = accepted = rounds = ok = 0
    t = time.perf_counter()
    prefixes = make_prefixes(texts, args.prefixes)
    completions = greedy_batch(target, tokenizer, prefixes, args.new_tokens)
    for head, tokens in zip(prefixes, completions):
        d, a, r = replay_acceptance(drafter, context_ids(tokenizer, head), tokens, args.k)
        drafted, accepted, rounds = drafted + d, accepted + a, rounds + r
        ok += parses_ok(head, tokenizer.decode([x for x in tokens if x != eos]))
    acceptance = accepted / max(1, drafted)
    if ckpt.is_file():  # same rounds with the drafter before distillation, for comparison
        pre_d = pre_a = 0
        for head, tokens in zip(prefixes, completions):
            d, a, _ = replay_acceptance(pre, context_ids(tokenizer, head), tokens, args.k)
            pre_d, pre_a = pre_d + d, pre_a + a
        print(f"acceptance with the drafter before distillation: {pre_a / max(1, pre_d):.3f}")
    distinct = [len(set(t)) / max(1, len(t)) for t in completions]
    print(
        f"target completions: mean {np.mean([len(t) for t in completions]):.0f} tokens, "
        f"distinct-token ratio {np.mean(distinct):.2f} (low = repetitive)"
    )
    print("sample completion:", repr(tokenizer.decode(completions[0])[:300]))
    print(
        f"{len(prefixes)} prefixes, k={args.k}: acceptance {acceptance:.3f}, "
        f"{(accepted + rounds) / max(1, rounds):.2f} tokens/round, parse ok {ok}/{len(prefixes)} "
        f"({time.perf_counter() - t:.0f}s)"
    )
    print(json.dumps({"ppl": ppl, "drafter_ppl_before_distill": before}))
    print(
        f"validator_a_ppl={ppl.get('validator-a', float('nan')):.3f} "
        f"validator_b_ppl={ppl.get('validator-b', float('nan')):.3f}"
    )
    print(
        f"target_ppl={ppl['target']:.3f} drafter_ppl={ppl['drafter']:.3f} drafter_ppl_before_distill={before} "
        f"acceptance_k{args.k}={acceptance:.3f} parse_ok={ok / max(1, len(prefixes)):.2f} bundled_mb={bundled_mb():.1f}"
    )


if __name__ == "__main__":
    main()
