"""Model cards: card.json (machine-readable) and README.md (the same facts, for people)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_FIELDS = ("name", "arch", "model_type", "parameters", "seed", "data", "training", "eval", "date", "tokenizer")


def write_card(out_dir: Path, card: dict[str, Any]) -> None:
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise ValueError(f"model card for {card.get('name')} lacks {missing}")
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / "README.md").write_text(render_card(card))


def read_card(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "card.json"
    return json.loads(path.read_text()) if path.exists() else {}


def render_card(card: dict[str, Any]) -> str:
    train, ev, data = card["training"], card["eval"], card["data"]
    lines = [
        f"# {card['name']}",
        "",
        f"A tiny {card['model_type']} causal language model for Python code, bundled with trustcheck.",
        "Trained from scratch on one CPU machine; good enough to draft, verify and score code, not to write it unaided.",
        "",
        f"- architecture: `{card['arch']}` ({card['model_type']}), {card['parameters']:,} parameters",
        f"- seed: {card['seed']}; trained {card['date']}",
        (
            f"- data: shard `{data['shard']}` ({data['files']} files, {data['bytes']:,} bytes, {data['tokens']:,} tokens) "
            f"of permissively licensed Python ({data['licenses']}); disjoint by file from the other shards"
        ),
        f"- tokenizer: {card['tokenizer']}",
        (
            f"- training: {train['steps']} steps, {train['tokens_seen']:,} tokens seen, batch {train['batch_size']} x "
            f"{train['seq_len']}, lr {train['lr']} cosine, bf16 autocast {train['bf16']}, {train['elapsed_s']:.0f}s"
        ),
        f"- held-out ({ev['shard']} shard, {ev['tokens']:,} tokens): loss {ev['loss']}, perplexity {ev['ppl']}",
    ]
    for ph in train.get("phases", [])[1:] if len(train.get("phases", [])) > 1 else []:
        lines.append(
            f"  - phase `{ph['name']}`: {ph['steps']} steps of batch {ph['batch_size']}, lr {ph['lr']}, "
            f"{ph['tokens_seen']:,} tokens, held-out loss after it {ph['loss']}"
        )
    if "distillation" in card:
        d = card["distillation"]
        lines.append(
            f"- distilled on the target's next-token distributions: {d['steps']} steps, {d['tokens_seen']:,} tokens; "
            f"held-out perplexity before distillation {d['ppl_before']}, after {ev['ppl']}"
        )
    lines += ["", 'Load it with `decoding.loading.load_model("bundled:' + card["name"] + '")`.', ""]
    return "\n".join(lines)
