"""Load a causal LM and its tokenizer: a bundled model, a local directory or a Hugging Face hub id.

    load_model("bundled:target")            # shipped inside the package, no network
    load_model("/path/to/a/saved/model")    # anything save_pretrained wrote
    load_model("org/name", allow_download=True)

Safetensors only, never `trust_remote_code`, and `local_files_only` unless downloads are allowed.
Loaded models are cached per process (keyed by name and dtype) because loading dominates short runs.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trustcheck.errors import TrustcheckError

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
BUNDLED_PREFIX = "bundled:"

_CACHE: dict[tuple[str, str], LoadedModel] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # transformers PreTrainedModel, in eval mode
    tokenizer: Any  # transformers PreTrainedTokenizerFast
    name: str  # "bundled:target", a path or a hub id, as asked for
    card: dict[str, Any] = field(default_factory=dict)  # card.json when the model has one


def bundled_names() -> list[str]:
    """Names of the models shipped in decoding/bundled/ (without the `bundled:` prefix)."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "config.json").is_file())


def bundled_card(name: str) -> dict[str, Any]:
    """The card.json of a bundled model (no torch import)."""
    path = _bundled_dir(name) / "card.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def resolve(name_or_path: str) -> tuple[str, bool]:
    """(where to load from, is_local) for a bundled name, a local directory or a hub id."""
    if name_or_path.startswith(BUNDLED_PREFIX):
        return str(_bundled_dir(name_or_path[len(BUNDLED_PREFIX) :])), True
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrustcheckError(
                f"{path} is a directory but holds no config.json",
                hint="point at a directory written by save_pretrained()",
            )
        return str(path), True
    if path.exists() or name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise TrustcheckError(
            f"no model directory at {name_or_path}",
            hint=f"use a directory written by save_pretrained(), a hub id, or one of "
            f"{', '.join(BUNDLED_PREFIX + n for n in bundled_names())}",
        )
    return name_or_path, False


def load_model(name_or_path: str, *, allow_download: bool = False, dtype: Any = None) -> LoadedModel:
    """Load model + tokenizer. `dtype` is a torch dtype or its name; default float32 (CPU-safe)."""
    import torch

    dtype = getattr(torch, dtype) if isinstance(dtype, str) else (dtype or torch.float32)
    key = (name_or_path, str(dtype))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load_uncached(name_or_path, allow_download, dtype)
        return _CACHE[key]


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _load_uncached(name_or_path: str, allow_download: bool, dtype: Any) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per model load would garble the CLI's token stream
    source, is_local = resolve(name_or_path)
    options = {"local_files_only": is_local or not allow_download, "trust_remote_code": False}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, use_safetensors=True, **options)
    except (OSError, ValueError) as exc:
        hint = (
            "pass allow_download=True (CLI: --allow-download) to fetch it from the Hugging Face hub"
            if not is_local and not allow_download
            else "the model must be a transformers causal LM saved as safetensors (model.safetensors)"
        )
        raise TrustcheckError(f"cannot load model {name_or_path!r}: {str(exc).splitlines()[0]}", hint=hint) from exc
    model.eval()
    card = (
        json.loads((Path(source) / "card.json").read_text())
        if is_local and (Path(source) / "card.json").is_file()
        else {}
    )
    return LoadedModel(model=model, tokenizer=tokenizer, name=name_or_path, card=card)


def _bundled_dir(name: str) -> Path:
    path = BUNDLED_DIR / name
    if not (path / "config.json").is_file():
        names = bundled_names()
        raise TrustcheckError(
            f"no bundled model named {name!r}",
            hint=f"bundled models: {', '.join(BUNDLED_PREFIX + n for n in names)}"
            if names
            else "this installation ships no bundled models; run `trustcheck models train` or pass a local path",
        )
    return path
