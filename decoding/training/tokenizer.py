"""One byte-level BPE tokenizer shared by every bundled model.

A small vocabulary (4096) keeps the embedding and output matrices cheap for 1-15M parameter
models. Byte-level means any input, in any encoding, round-trips; nothing is ever <unk>.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EOS = "<|endoftext|>"  # separates files; also the BOS the models never need
PAD = "<|pad|>"
SPECIAL_TOKENS = [EOS, PAD]


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 4096, out_dir: Path | None = None
):  # -> PreTrainedTokenizerFast
    """Train a byte-level BPE on `texts`; save tokenizer.json + HF tokenizer files to `out_dir`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    hf = wrap_tokenizer(tok)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        tok.save(str(out_dir / "tokenizer.json"))
        hf.save_pretrained(str(out_dir))
    return hf


def wrap_tokenizer(tok):  # tokenizers.Tokenizer -> PreTrainedTokenizerFast
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD, model_max_length=1024
    )


def load_tokenizer(path: Path):  # -> PreTrainedTokenizerFast
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(path))
