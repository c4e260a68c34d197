"""Speculative decoding benchmark: our schedulers vs autoregressive and transformers' own, same models.

    .venv/bin/python benchmarks/decode.py                       # bundled target + drafter
    .venv/bin/python benchmarks/decode.py --target PATH --drafter PATH --prompts 8 --repeats 3

Greedy, 128 new tokens, held-out code prompts (MODELS' eval shard when present, else stdlib code).
Every method's output is compared token for token with the target's own greedy decoding. Prints a
table (median tokens/s over repeats) and ends with one summary line:
    vs_hf_assisted=.. vs_ar=.. bound_efficiency=.. acceptance=.. identical=yes|no
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from decoding.drafters import ModelDrafter, NGramDrafter  # noqa: E402
from decoding.generate import resolve  # noqa: E402
from decoding.schedulers import autoregressive, multi_draft, speculative  # noqa: E402
from decoding.trace import DecodeTrace, Round, summarize  # noqa: E402
from decoding.verifiers import ModelVerifier  # noqa: E402


def eval_texts() -> tuple[list[str], str]:
    """Held-out code: MODELS' eval shard (runs/*/eval.jsonl, decoding/bundled/eval.jsonl) or stdlib files."""
    for pattern in ("decoding/bundled/**/eval.jsonl", "runs/*/eval.jsonl", "runs/**/eval.jsonl"):
        for path in sorted(glob.glob(str(ROOT / pattern), recursive=True), key=os.path.getmtime, reverse=True):
            texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
            if len(texts) >= 4:
                return texts, path
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    names = ["textwrap.py", "fractions.py", "shlex.py", "graphlib.py", "bisect.py", "heapq.py", "colorsys.py",
             "glob.py", "fnmatch.py", "string.py", "statistics.py", "calendar.py"]
    return [(stdlib / n).read_text(encoding="utf-8") for n in names if (stdlib / n).exists()], str(stdlib)


def make_prompts(texts: list[str], count: int, chars: int = 400) -> list[str]:
    """One prompt per file: the text up to a line ending after `chars` characters, from a def if any."""
    prompts = []
    for text in texts:
        start = max(0, text.find("\ndef ")) if "\ndef " in text else 0
        end = text.find("\n", start + chars)
        snippet = text[start: end if end > 0 else start + chars].lstrip("\n")
        if len(snippet) > 100:
            prompts.append(snippet + "\n")
        if len(prompts) == count:
            break
    return prompts


def hf_generate(model, ids: torch.Tensor, n: int, eos: int | None, **kw) -> list[int]:
    out = model.generate(ids[None], attention_mask=torch.ones_like(ids[None]), do_sample=False, max_new_tokens=n,
                         min_new_tokens=0, eos_token_id=eos, pad_token_id=eos if eos is not None else 0, **kw)
    return out[0, ids.shape[0]:].tolist()


def methods(target, drafter, eos: int | None, k: int, n: int):
    """name -> fn(prompt_ids) -> (tokens, trace | None)"""
    common = dict(max_new_tokens=n, eos_token_id=eos)

    def ours(fn):
        def run(ids):
            trace = fn(ids)
            return trace.tokens, trace
        return run

    return {
        "ar (ours)": ours(lambda ids: autoregressive(ModelVerifier(target), ids, **common)),
        "speculative (ours)": ours(lambda ids: speculative(ModelVerifier(target), ModelDrafter(drafter), ids,
                                                           k=k, **common)),
        "adaptive (ours)": ours(lambda ids: speculative(ModelVerifier(target), ModelDrafter(drafter), ids,
                                                        k=k, adaptive=True, **common)),
        "multi-draft (ours)": ours(lambda ids: multi_draft(ModelVerifier(target), [ModelDrafter(drafter), NGramDrafter()],
                                                           ids, k=k, **common)),
        "ngram (ours)": ours(lambda ids: speculative(ModelVerifier(target), NGramDrafter(), ids, k=k, **common)),
        "hf greedy": lambda ids: (hf_generate(target, ids, n, eos), None),
        "hf assisted": lambda ids: (hf_generate(target, ids, n, eos, assistant_model=drafter), None),
        "hf prompt lookup": lambda ids: (hf_generate(target, ids, n, eos, prompt_lookup_num_tokens=k), None),
    }


def load(spec: str, tokenizer_dir: str):
    """A model name/path for decoding.loading, or random:<arch> (untrained stand-in, for development)."""
    if not spec.startswith("random:"):
        return resolve(spec)
    from transformers import PreTrainedTokenizerFast

    from decoding.training.configs import build_model

    tok = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    arch = spec.split(":", 1)[1]
    return resolve((build_model(arch, seed=len(arch), vocab_size=len(tok), eos_id=tok.eos_token_id or 0), tok))


def merge(traces: list[DecodeTrace]) -> DecodeTrace:
    """One trace over several prompts (rounds and tokens concatenated, times summed)."""
    out = DecodeTrace(traces[0].strategy, traces[0].target, traces[0].drafters)
    for t in traces:
        out.rounds.extend(t.rounds)
        out.tokens.extend(t.tokens)
        out.total_s += t.total_s
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="bundled:target")
    ap.add_argument("--drafter", default="bundled:drafter")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokenizer", default="", help="tokenizer dir for random:<arch> stand-in models (dev)")
    ap.add_argument("--only", default="", help="comma-separated method names to run (default all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tgt, drf = load(args.target, args.tokenizer), load(args.drafter, args.tokenizer)
    tok = tgt.tokenizer
    texts, source = eval_texts()
    prompts = make_prompts(texts, args.prompts)
    ids = [tok(p, return_tensors="pt").input_ids[0] for p in prompts]
    print(f"target={tgt.name} drafter={drf.name} prompts={len(prompts)} from {source} "
          f"new_tokens={args.new_tokens} k={args.k} repeats={args.repeats} threads={args.threads}")
    eos = tok.eos_token_id
    table = methods(tgt.model, drf.model, eos, args.k, args.new_tokens)
    if args.only:
        table = {name: fn for name, fn in table.items() if any(o in name for o in args.only.split(","))}
    speeds: dict[str, list[float]] = {name: [] for name in table}
    outputs: dict[str, list[list[int]]] = {}
    traces: dict[str, list[DecodeTrace]] = {}
    with torch.inference_mode():
        for name, fn in table.items():  # warm-up (allocator, lazy inits)
            fn(ids[0][:32])
        for rep in range(args.repeats):
            for name, fn in table.items():
                tokens_total, seconds, outs, trs = 0, 0.0, [], []
                for p in ids:
                    t0 = time.perf_counter()
                    toks, trace = fn(p)
                    seconds += time.perf_counter() - t0
                    tokens_total += len(toks)
                    outs.append(toks)
                    if trace is not None:
                        trs.append(trace)
                speeds[name].append(tokens_total / seconds)
                outputs[name] = outs
                if trs and rep == args.repeats - 1:
                    traces[name] = trs
    reference = outputs.get("ar (ours)") or outputs.get("hf greedy")
    tps = {name: statistics.median(v) for name, v in speeds.items()}
    ar_tps = tps.get("ar (ours)")
    t_single = None
    if "ar (ours)" in traces:
        t_single = statistics.median(r.verify_s for t in traces["ar (ours)"] for r in t.rounds)
    print(f"{'method':22} {'tok/s':>8} {'vs ar':>7} {'alpha':>6} {'tok/rnd':>7} {'c':>6} {'v':>6} "
          f"{'bound':>6} {'eff':>5} identical")
    summaries = {}
    for name in table:
        s: dict = {}
        if name in traces:
            merged = merge(traces[name])
            merged.t_single = t_single
            s = summarize(merged, ar_tokens_per_s=ar_tps)
            summaries[name] = s
        same = reference is not None and outputs[name] == reference
        fmt = lambda key, f="{:.2f}": f.format(s[key]) if key in s else "-"  # noqa: E731
        print(f"{name:22} {tps[name]:8.1f} {tps[name] / ar_tps if ar_tps else 0:7.2f} {fmt('alpha')} "
              f"{fmt('tokens_per_round'):>7} {fmt('c', '{:.3f}'):>6} {fmt('v'):>6} {fmt('bound'):>6} "
              f"{fmt('bound_efficiency'):>5} {'yes' if same else 'NO'}")
    best = "speculative (ours)"
    spec = summaries.get(best, {})
    identical = all(outputs[name] == reference for name in table)
    vs_hf = tps[best] / tps["hf assisted"] if "hf assisted" in tps and best in tps else float("nan")
    vs_ar = tps[best] / ar_tps if ar_tps and best in tps else float("nan")
    print(f"vs_hf_assisted={vs_hf:.2f} vs_ar={vs_ar:.2f} bound_efficiency={spec.get('bound_efficiency', float('nan')):.2f} "
          f"acceptance={spec.get('alpha', float('nan')):.3f} identical={'yes' if identical else 'no'}")


if __name__ == "__main__":
    main()
