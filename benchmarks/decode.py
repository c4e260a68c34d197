"""Speculative decoding benchmark: our schedulers vs autoregressive and transformers' own, same models.

    .venv/bin/python benchmarks/decode.py                       # bundled target + drafter
    .venv/bin/python benchmarks/decode.py --target PATH --drafter PATH --prompts 8 --repeats 3

Greedy, 128 new tokens, held-out code prompts (MODELS' eval shard when present, else stdlib code).
Every method's output is compared token for token with the target's own greedy decoding. Methods
run interleaved (each prompt through every method, the order rotating per repeat) so that a shared
machine's drifting load hits them alike. Prints a table (median tokens/s over repeats) and ends with
one summary line for the headline method (default: the hybrid drafter, prompt lookup + model, with
adaptive draft length):
    vs_hf_assisted=.. vs_ar=.. bound_efficiency=.. acceptance=.. identical=yes|no vs_hf_best=..
    model_drafter_vs_ar=.. [async_vs_sync=.. pipeline_vs_sync=.. pipeline_async_vs_sync=..]
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from decoding.drafters import HybridDrafter, ModelDrafter, NGramDrafter
from decoding.generate import resolve
from decoding.quantize import quantize
from decoding.schedulers import autoregressive, multi_draft, speculative
from decoding.schedulers.asynchronous import DraftWorker, PipelineWorker, asynchronous
from decoding.schedulers.pipeline import ChainDrafter
from decoding.trace import DecodeTrace, summarize
from decoding.verifiers import ModelVerifier


def eval_texts() -> tuple[list[str], str]:
    """Held-out code: MODELS' eval shard (runs/*/eval.jsonl, decoding/bundled/eval.jsonl) or stdlib files."""
    for pattern in ("decoding/bundled/**/eval.jsonl", "runs/train/corpus/eval.jsonl", "runs/**/eval.jsonl"):
        for path in sorted(glob.glob(str(ROOT / pattern), recursive=True), key=os.path.getmtime, reverse=True):
            with open(path, encoding="utf-8") as fh:
                texts = [json.loads(line)["text"] for line in fh]
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


CLOSE: list = []  # worker processes to shut down at exit


def methods(target, drafter, eos: int | None, k: int, n: int, quant: list[str], worker=None, intermediate=None,
            confidence: float = 0.0) -> dict:
    """name -> (fn(prompt_ids) -> (tokens, trace | None), name of the AR row it is compared with)."""
    common = {"max_new_tokens": n, "eos_token_id": eos}
    chains: list = []

    def chain_worker():  # one 3-process pipeline, started on first use, closed by main()
        if not chains:
            chains.append(PipelineWorker([drafter, intermediate], max_ahead=k, max_block=k))
            CLOSE.append(chains[0])
        return chains[0]

    def ours(fn):
        def run(ids):
            trace = fn(ids)
            return trace.tokens, trace
        return run

    def spec(drafter_model=drafter, fast_target=False, confidence=0.0, hybrid=False, **kw):
        def make_drafter():
            model_drafter = ModelDrafter(drafter_model, confidence=confidence)
            return HybridDrafter(model_drafter) if hybrid else model_drafter
        return ours(lambda ids: speculative(ModelVerifier(target, fast=fast_target), make_drafter(),
                                            ids, **{"k": k, **kw}, **common))

    table = {
        "ar (ours)": (ours(lambda ids: autoregressive(ModelVerifier(target), ids, **common)), "ar (ours)"),
        "speculative (ours)": (spec(), "ar (ours)"),
        "adaptive (ours)": (spec(adaptive=True, confidence=confidence), "ar (ours)"),
        # prompt lookup when the context has a match, the model drafter otherwise; adaptive k
        "hybrid (ours)": (spec(hybrid=True, adaptive=True, confidence=confidence), "ar (ours)"),
        "multi-draft (ours)": (ours(lambda ids: multi_draft(ModelVerifier(target), [ModelDrafter(drafter), NGramDrafter()],
                                                            ids, k=k, **common)), "ar (ours)"),
        "ngram (ours)": (ours(lambda ids: speculative(ModelVerifier(target), NGramDrafter(), ids, k=k, **common)),
                         "ar (ours)"),
        "hf greedy": (lambda ids: (hf_generate(target, ids, n, eos), None), "ar (ours)"),
        "hf assisted": (lambda ids: (hf_generate(target, ids, n, eos, assistant_model=drafter), None), "ar (ours)"),
        "hf assisted k": (lambda ids: (hf_generate(target, ids, n, eos, assistant_model=drafter, num_assistant_tokens=k,
                                                   num_assistant_tokens_schedule="constant",
                                                   assistant_confidence_threshold=0.0), None), "ar (ours)"),
        "hf prompt lookup": (lambda ids: (hf_generate(target, ids, n, eos, prompt_lookup_num_tokens=k), None),
                             "ar (ours)"),
        # transformers' prompt lookup with a longer draft (10, its documented example), as strong a peer
        # for the hybrid row as we can make it
        "hf prompt lookup 10": (lambda ids: (hf_generate(target, ids, n, eos, prompt_lookup_num_tokens=10), None),
                                "ar (ours)"),
        # the same loops with the verifier also on FastLM, against AR on FastLM
        "ar (ours, fast)": (ours(lambda ids: autoregressive(ModelVerifier(target, fast=True), ids, **common)),
                            "ar (ours, fast)"),
        "speculative (ours, fast)": (spec(fast_target=True), "ar (ours, fast)"),
        "adaptive (ours, fast)": (spec(fast_target=True, adaptive=True, confidence=confidence), "ar (ours, fast)"),
        "hybrid (ours, fast)": (spec(fast_target=True, hybrid=True, adaptive=True, confidence=confidence),
                                "ar (ours, fast)"),
    }
    if worker is not None:
        table["async (ours)"] = (ours(lambda ids: asynchronous(ModelVerifier(target), worker, ids, max_block=k, **common)),
                                 "ar (ours)")
    if intermediate is not None:
        table["pipeline sync (ours)"] = (ours(lambda ids: speculative(
            ModelVerifier(target), ChainDrafter(ModelVerifier(intermediate, "mid", fast=True), ModelDrafter(drafter)),
            ids, k=2 * k, **common)), "ar (ours)")
    if intermediate is not None and worker is not None:
        table["pipeline async (ours)"] = (ours(lambda ids: asynchronous(ModelVerifier(target), chain_worker(), ids,
                                                                       max_block=k, **common)), "ar (ours)")
    for method in quant:
        table[f"spec drafter={method}"] = (spec(drafter_model=quantize(drafter, method)), "ar (ours)")
    return table


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


def row(name: str, tps: float, base_tps: float | None, s: dict, same: bool) -> str:
    def fmt(key: str, f: str = "{:.2f}") -> str:
        return f.format(s[key]) if key in s else "-"
    ratio = f"{tps / base_tps:7.2f}" if base_tps else "      -"
    return (f"{name:26} {tps:8.1f} {ratio} {fmt('alpha'):>6} {fmt('tokens_per_round'):>7} {fmt('c', '{:.3f}'):>6} "
            f"{fmt('v'):>6} {fmt('bound'):>6} {fmt('bound_efficiency'):>5} {'yes' if same else 'NO'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--target", default="bundled:target")
    ap.add_argument("--drafter", default="bundled:drafter")
    ap.add_argument("--tokenizer", default="", help="tokenizer dir for random:<arch> stand-in models (dev)")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("-k", type=int, default=4)
    ap.add_argument("--confidence", type=float, default=0.3, help="adaptive rows: stop drafting below this drafter confidence")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quant", default="", help="comma-separated drafter quantizations to add (bf16,int8,bfp,tr)")
    ap.add_argument("--only", default="", help="comma-separated substrings of method names to run (default all)")
    ap.add_argument("--intermediate", default="bundled:validator-a", help="middle model of the pipeline row ('' = none)")
    ap.add_argument("--no-async", action="store_true", help="skip the asynchronous (2-process) row")
    ap.add_argument("--headline", default="hybrid (ours)", help="method the summary line reports")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tgt, drf = load(args.target, args.tokenizer), load(args.drafter, args.tokenizer)
    tok = tgt.tokenizer
    texts, source = eval_texts()
    prompts = make_prompts(texts, args.prompts)
    ids = [tok(p, return_tensors="pt").input_ids[0] for p in prompts]
    print(f"target={tgt.name} drafter={drf.name} prompts={len(prompts)} from {source} "
          f"new_tokens={args.new_tokens} k={args.k} repeats={args.repeats} threads={args.threads}")
    mid = load(args.intermediate, args.tokenizer).model if args.intermediate else None
    worker = None if args.no_async else DraftWorker(drf.model, drf.name, max_ahead=args.k, threads=args.threads)
    try:
        run_all(args, tgt, drf, ids, worker, mid)
    finally:
        for w in [worker, *CLOSE]:
            if w is not None:
                w.close()


def run_all(args, tgt, drf, ids, worker, mid) -> None:
    tok = tgt.tokenizer
    table = methods(tgt.model, drf.model, tok.eos_token_id, args.k, args.new_tokens,
                    [q for q in args.quant.split(",") if q], worker, mid, args.confidence)
    if args.only:
        base = table[args.headline][1] if args.headline in table else "ar (ours)"
        keep = args.only.split(",") + ["ar (ours)", "hf assisted", args.headline, base]  # "hf assisted": both
        kept = {name for name in table if any(o in name for o in keep)}
        kept |= {table[name][1] for name in kept}  # and the AR row each is compared with
        table = {name: v for name, v in table.items() if name in kept}
    speeds: dict[str, list[float]] = {name: [] for name in table}
    outputs: dict[str, list[list[int]]] = {name: [] for name in table}
    traces: dict[str, list[DecodeTrace]] = {name: [] for name in table}
    names = list(table)
    with torch.inference_mode():
        for fn, _ in table.values():  # warm-up (allocator, lazy inits)
            fn(ids[0][:32])
        for rep in range(args.repeats):
            # every method on one prompt, then the next prompt (the order rotating each repeat): on a
            # shared machine the load drifts, and interleaving lets every method see the same drift
            tokens_total = dict.fromkeys(names, 0)
            seconds = dict.fromkeys(names, 0.0)
            order = names[rep % len(names):] + names[: rep % len(names)]
            last = rep == args.repeats - 1
            for p in ids:
                for name in order:
                    t0 = time.perf_counter()
                    toks, trace = table[name][0](p)
                    seconds[name] += time.perf_counter() - t0
                    tokens_total[name] += len(toks)
                    if last:
                        outputs[name].append(toks)
                        if trace is not None:
                            traces[name].append(trace)
            for name in names:
                speeds[name].append(tokens_total[name] / seconds[name])
    traces = {name: trs for name, trs in traces.items() if trs}
    reference = outputs["ar (ours)"]
    tps = {name: statistics.median(v) for name, v in speeds.items()}
    # one "target step" = the AR baseline's wall time per token (loop overheads included), so that the
    # bound E/(gamma c + v) and the measured speedup are in the same units
    print(f"{'method':26} {'tok/s':>8} {'vs ar':>7} {'alpha':>6} {'tok/rnd':>7} {'c':>6} {'v':>6} "
          f"{'bound':>6} {'eff':>5} identical")
    summaries = {}
    for name, (_, base) in table.items():
        s: dict = {}
        if name in traces and base in tps:
            merged = merge(traces[name])
            merged.t_single = 1.0 / tps[base]
            s = summaries[name] = summarize(merged, ar_tokens_per_s=tps[base])
        print(row(name, tps[name], tps.get(base), s, outputs[name] == reference))
    head = summaries.get(args.headline, {})
    identical = all(out == reference for out in outputs.values())
    nan = float("nan")

    def ratio(a: str, b: str) -> float:
        return tps[a] / tps[b] if a in tps and b in tps else nan

    base = table[args.headline][1] if args.headline in table else "ar (ours)"
    # compare with the faster of transformers' two assisted settings (its defaults, or our k) ...
    hf_best = max((tps[m] for m in ("hf assisted", "hf assisted k") if m in tps), default=nan)
    # ... and with the fastest of all its generate modes, prompt lookup included
    hf_any = max((tps[m] for m in tps if m.startswith("hf ")), default=nan)
    head_tps = tps.get(args.headline, nan)
    print(f"headline: {args.headline} ({head_tps:.1f} tok/s); best hf assisted {hf_best:.1f} tok/s; "
          f"best hf {hf_any:.1f} tok/s; {base} {tps[base]:.1f} tok/s")
    # medians over repeats, as in the table (the trace-based summary uses the last repeat only)
    vs_ar = ratio(args.headline, base)
    efficiency = vs_ar / head["bound"] if "bound" in head else nan
    extras = {"vs_hf_best": head_tps / hf_any,
              "model_drafter_vs_ar": ratio("speculative (ours)", "ar (ours)"),
              # the asynchronous rows run the model drafter alone: compared with its synchronous loop
              "async_vs_sync": ratio("async (ours)", "speculative (ours)"),
              "pipeline_vs_sync": ratio("pipeline sync (ours)", "speculative (ours)"),
              "pipeline_async_vs_sync": ratio("pipeline async (ours)", "speculative (ours)")}
    print(f"vs_hf_assisted={head_tps / hf_best:.2f} vs_ar={vs_ar:.2f} "
          f"bound_efficiency={efficiency:.2f} acceptance={head.get('alpha', nan):.3f} "
          f"identical={'yes' if identical else 'no'}"
          + "".join(f" {key}={value:.2f}" for key, value in extras.items() if not math.isnan(value)))
    for name in ("async (ours)", "pipeline sync (ours)", "pipeline async (ours)"):
        if name in traces:
            meta = {k: round(v, 3) if isinstance(v, float) else v for t in traces[name][-1:] for k, v in t.meta.items()}
            print(f"{name}: {meta}")


if __name__ == "__main__":
    main()
