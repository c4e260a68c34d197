"""`trustcheck models list|info|train`: the bundled models, their cards, and the recipe that made them.

No torch/transformers import at module level: `list` and `info` read JSON cards only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from trustcheck.errors import TrustcheckError

models_app = typer.Typer(help="Bundled models: list, show cards, retrain.", no_args_is_help=True)


@models_app.command("list")
def list_models() -> None:
    """List the bundled models with size and held-out perplexity."""
    from decoding.loading import BUNDLED_PREFIX, bundled_card, bundled_names

    names = bundled_names()
    if not names:
        raise TrustcheckError("no bundled models in this installation", hint="run `trustcheck models train`")
    print(f"{'name':<22} {'family':<10} {'params':>11} {'held-out ppl':>13}")
    for name in names:
        card = bundled_card(name)
        ppl = card.get("eval", {}).get("ppl", "?")
        print(
            f"{BUNDLED_PREFIX + name:<22} {card.get('model_type', '?'):<10} {card.get('parameters', 0):>11,} {ppl!s:>13}"
        )


@models_app.command("info")
def info(
    name: Annotated[str, typer.Argument(help="bundled model name, e.g. target or bundled:target")],
    as_json: Annotated[bool, typer.Option("--json", help="print card.json")] = False,
) -> None:
    """Show a bundled model's card (data, shard, parameters, steps, tokens seen, held-out loss)."""
    from decoding.loading import BUNDLED_PREFIX, _bundled_dir

    model_dir = _bundled_dir(name.removeprefix(BUNDLED_PREFIX))
    card_path = model_dir / "card.json"
    if not card_path.is_file():
        raise TrustcheckError(f"bundled model {name!r} has no card.json", hint="retrain with `trustcheck models train`")
    if as_json:
        print(card_path.read_text().rstrip())
        return
    from decoding.training.cards import render_card

    print(render_card(json.loads(card_path.read_text())).rstrip())
    size = sum(f.stat().st_size for f in model_dir.iterdir() if f.is_file())
    print(f"- on disk: {size / 1e6:.1f} MB in {model_dir}")


@models_app.command("train")
def train_models(
    budget_minutes: Annotated[
        float | None, typer.Option(help="wall-clock minutes for the phases run (default: the recipe's, 70)")
    ] = None,
    out: Annotated[Path, typer.Option(help="where the trained models are written")] = Path("decoding/bundled"),
    run_dir: Annotated[Path, typer.Option(help="work directory: corpus, tokens, checkpoints; rerun to resume")] = Path(
        "runs/train"
    ),
    seed: Annotated[int, typer.Option(help="corpus split seed")] = 0,
    phases: Annotated[
        str | None, typer.Option(help="comma-separated subset of the recipe's phases (e.g. validator-a,validator-b)")
    ] = None,
) -> None:
    """Rebuild the bundled models from the Python source on this machine (resumable)."""
    from decoding.training.pipeline import _now, run_pipeline, select_phases

    try:
        chosen = select_phases(phases)
    except ValueError as exc:
        raise TrustcheckError(str(exc), hint="phases are listed in decoding/training/pipeline.py PHASES") from exc
    minutes = budget_minutes if budget_minutes is not None else sum(p.minutes for p in chosen)
    results = run_pipeline(
        run_dir,
        out,
        budget_minutes=minutes,
        seed=seed,
        phases=chosen,
        log=lambda m: typer.echo(f"[{_now()}] {m}", err=True),
    )
    print(json.dumps(results, indent=1))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(models_app, name="models")
