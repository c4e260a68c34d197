"""DecodeTrace: what happened in each round and to each token, and the efficiency summary.

Summary maths (Leviathan et al. 2023, Sec. 3):
    alpha  per-token acceptance probability, estimated as accepted / (accepted + rejections)
           (each considered drafted token is a Bernoulli trial; a rejection ends the round)
    gamma  mean draft length per round
    E      = (1 - alpha^(gamma+1)) / (1 - alpha)      expected tokens per round
    c      = draft time per drafted token / one target step
    v      = verify time per round / one target step   (a single step has v = 1)
    bound  = E / (gamma * c + v)                        speedup over autoregressive decoding
When rounds come from several drafters (the hybrid: free lookup drafts and model drafts), each has
its own alpha, gamma, c and v, and the bound is the mixture over drafters d with n_d rounds:
    bound  = sum_d n_d E_d / sum_d n_d (gamma_d c_d + v_d)
(one drafter: the formula above).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class Round:
    drafted: int  # tokens proposed by the (kept) drafter
    accepted: int  # of those, accepted by the verifier (the round appends accepted + 1 tokens)
    draft_s: float
    verify_s: float
    extra_s: float = 0.0  # extra verifiers scoring the accepted tokens
    drafter: str = ""


@dataclass
class DecodeTrace:
    strategy: str
    target: str
    drafters: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    tokens: list[int] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    # verifier name -> log-prob of each generated token under that verifier (target included)
    token_logprobs: dict[str, list[float]] = field(default_factory=dict)
    total_s: float = 0.0
    t_single: float | None = None  # seconds for one single-token target step (calibration)
    meta: dict[str, Any] = field(default_factory=dict)


def expected_tokens_per_round(alpha: float, gamma: float) -> float:
    """E = (1 - alpha^(gamma+1)) / (1 - alpha); gamma + 1 when alpha = 1."""
    if alpha >= 1.0:
        return gamma + 1.0
    return (1.0 - alpha ** (gamma + 1.0)) / (1.0 - alpha)


def speedup_bound(alpha: float, gamma: float, c: float, v: float) -> float:
    """Analytical speedup over autoregressive decoding: E / (gamma * c + v)."""
    return expected_tokens_per_round(alpha, gamma) / (gamma * c + v)


def acceptance_rate(rounds: list[Round]) -> float:
    """alpha = accepted / (accepted + rejections); 1.0 when nothing was ever rejected."""
    accepted = sum(r.accepted for r in rounds)
    rejections = sum(1 for r in rounds if r.accepted < r.drafted)
    return accepted / (accepted + rejections) if accepted + rejections else 0.0


def mixture_bound(rounds: list[Round], t_single: float) -> float:
    """The speedup bound over rounds grouped by drafter (see the module docstring); rounds drafted > 0."""
    by_drafter: dict[str, list[Round]] = {}
    for r in rounds:
        by_drafter.setdefault(r.drafter, []).append(r)
    tokens = cost = 0.0
    for group in by_drafter.values():
        n = len(group)
        drafted = sum(r.drafted for r in group)
        gamma = drafted / n
        c = sum(r.draft_s for r in group) / drafted / t_single
        v = statistics.fmean(r.verify_s for r in group) / t_single
        tokens += n * expected_tokens_per_round(acceptance_rate(group), gamma)
        cost += n * (gamma * c + v)
    return tokens / cost


def summarize(trace: DecodeTrace, ar_tokens_per_s: float | None = None) -> dict[str, Any]:
    """Efficiency summary of one run. ar_tokens_per_s: measured autoregressive baseline, if any."""
    rounds = [r for r in trace.rounds if r.drafted > 0]
    n = len(trace.tokens)
    s: dict[str, Any] = {
        "strategy": trace.strategy,
        "target": trace.target,
        "drafters": ",".join(trace.drafters),
        "new_tokens": n,
        "rounds": len(trace.rounds),
        "seconds": trace.total_s,
        "tokens_per_s": n / trace.total_s if trace.total_s > 0 else 0.0,
    }
    if rounds:
        drafted = sum(r.drafted for r in rounds)
        s["alpha"] = acceptance_rate(rounds)
        s["gamma"] = drafted / len(rounds)
        s["mean_accepted"] = sum(r.accepted for r in rounds) / len(rounds)
        s["tokens_per_round"] = n / len(trace.rounds)
        s["draft_s"] = sum(r.draft_s for r in trace.rounds)
        s["verify_s"] = sum(r.verify_s for r in trace.rounds)
        s["extra_s"] = sum(r.extra_s for r in trace.rounds)
        if trace.t_single:
            s["c"] = s["draft_s"] / drafted / trace.t_single
            s["v"] = statistics.fmean(r.verify_s for r in rounds) / trace.t_single
            s["bound"] = mixture_bound(rounds, trace.t_single)
    s["ar_basis"] = "measured AR run" if ar_tokens_per_s else "calibrated target step"
    if ar_tokens_per_s is None and trace.t_single:
        ar_tokens_per_s = 1.0 / trace.t_single
    if ar_tokens_per_s:
        s["ar_tokens_per_s"] = ar_tokens_per_s
        s["speedup"] = s["tokens_per_s"] / ar_tokens_per_s
        if "bound" in s:
            s["bound_efficiency"] = s["speedup"] / s["bound"]
    return s


def write_jsonl(trace: DecodeTrace, path: str | Path | IO[str], summary: dict[str, Any] | None = None,
                token_texts: list[str] | None = None) -> None:
    """One JSON object per line: every round, every token (with each verifier's log-prob), the summary."""
    lines = [{"type": "round", "index": i, **asdict(r)} for i, r in enumerate(trace.rounds)]
    for i, tok in enumerate(trace.tokens):
        row: dict[str, Any] = {"type": "token", "index": i, "id": tok}
        if token_texts is not None:
            row["text"] = token_texts[i]
        row["logprobs"] = {name: lps[i] for name, lps in trace.token_logprobs.items() if i < len(lps)}
        lines.append(row)
    lines.append({"type": "summary", **(summary if summary is not None else summarize(trace))})
    text = "".join(json.dumps(line) + "\n" for line in lines)
    if isinstance(path, (str, Path)):
        Path(path).write_text(text)
    else:
        path.write(text)


SUMMARY_ROWS = [
    ("strategy", "strategy", "{}"), ("drafters", "drafters", "{}"), ("new_tokens", "new tokens", "{}"),
    ("tokens_per_s", "tokens/s", "{:.1f}"), ("alpha", "acceptance alpha", "{:.3f}"),
    ("gamma", "draft length gamma", "{:.2f}"), ("mean_accepted", "mean accepted / round", "{:.2f}"),
    ("tokens_per_round", "tokens / round", "{:.2f}"), ("c", "c (draft step / target step)", "{:.3f}"),
    ("v", "v (verify block / target step)", "{:.3f}"), ("bound", "analytical bound E/(gamma c + v)", "{:.2f}x"),
    ("speedup", "speedup over AR", "{:.2f}x"), ("ar_basis", "AR baseline", "{}"), ("bound_efficiency", "achieved / bound", "{:.0%}"),
]


def efficiency_table(summary: dict[str, Any], title: str = "decoding efficiency") -> Any:
    """A rich Table of a summary (rich imported here; print it with a Console)."""
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for key, label, fmt in SUMMARY_ROWS:
        if key in summary and summary[key] not in ("", None):
            table.add_row(label, fmt.format(summary[key]))
    return table


def render_efficiency(summary: dict[str, Any], console: Any = None) -> None:
    """Print the efficiency table (to stderr by default: results go to stdout)."""
    from rich.console import Console

    (console or Console(stderr=True)).print(efficiency_table(summary))
