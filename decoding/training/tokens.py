"""Token streams: a shard encoded once into a flat uint16 array, and seeded batches from it.

Batches are a pure function of (seed, step), so a resumed run sees exactly the batches an
uninterrupted run would have seen, with no RNG state to save.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def encode_shard(texts: Iterable[str], tokenizer, out_path: Path | None = None, chunk: int = 256) -> np.ndarray:
    """Encode texts, each followed by EOS, into one uint16 array (saved as .npy, no pickle)."""
    eos = tokenizer.eos_token_id
    parts: list[np.ndarray] = []
    batch: list[str] = []

    def flush() -> None:
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            parts.append(np.asarray([*ids, eos], dtype=np.uint16))
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    stream = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint16)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        np.save(out_path, stream, allow_pickle=False)
    return stream


def load_stream(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False, mmap_mode="r")


def batch_at(stream: np.ndarray, step: int, batch_size: int, seq_len: int, seed: int) -> np.ndarray:
    """[batch_size, seq_len + 1] windows at offsets drawn from (seed, step) alone."""
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, len(stream) - seq_len - 1, size=batch_size)
    return np.stack([np.asarray(stream[s : s + seq_len + 1], dtype=np.int64) for s in starts])


def eval_batches(stream: np.ndarray, seq_len: int, batch_size: int, max_tokens: int) -> list[np.ndarray]:
    """Deterministic, non-overlapping [B, seq_len + 1] windows covering the first max_tokens tokens."""
    n = min(len(stream) - 1, max_tokens) // seq_len
    windows = [np.asarray(stream[i * seq_len : i * seq_len + seq_len + 1], dtype=np.int64) for i in range(n)]
    return [np.stack(windows[i : i + batch_size]) for i in range(0, len(windows), batch_size)]
