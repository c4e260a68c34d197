"""Corpus builder: permissively licensed Python source found on this machine, split by file.

The standard library (PSF) and installed distributions whose license metadata is permissive
(MIT, BSD, Apache, PSF, ISC) are read, filtered to files that parse, deduplicated by content hash
and assigned to disjoint shards by a seeded hash of the content, so the split is the same on any
machine that holds the same files and never puts one file in two shards.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as md
import json
import sysconfig
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PERMISSIVE = ("mit", "bsd", "apache", "psf", "python software foundation", "isc")
# Any of these anywhere in a distribution's license metadata excludes it, even beside a permissive one.
RESTRICTIVE = ("gpl", "mpl", "mozilla", "epl", "eclipse", "cddl", "proprietary", "commercial", "sspl")
# Our own package is excluded: it changes while we train, which would break reproducibility.
EXCLUDED_DISTS = frozenset({"trustcheck"})

# Fraction of files per shard (the rest is unused); caps in bytes keep CPU tokenising time bounded.
SHARD_FRACTIONS = {"target": 0.55, "validator-a": 0.18, "validator-b": 0.18, "eval": 0.04}
SHARD_CAPS = {"target": 40_000_000, "validator-a": 14_000_000, "validator-b": 14_000_000, "eval": 2_500_000}

MIN_BYTES, MAX_BYTES, MAX_LINE = 200, 200_000, 400


@dataclass(frozen=True)
class SourceFile:
    origin: str  # "stdlib" or the distribution name
    path: str  # absolute path where it was read
    sha256: str
    size: int


@dataclass
class Corpus:
    seed: int
    shards: dict[str, list[SourceFile]] = field(default_factory=dict)

    def manifest(self) -> dict:
        return {
            "seed": self.seed,
            "fractions": SHARD_FRACTIONS,
            "caps_bytes": SHARD_CAPS,
            "shards": {
                name: {
                    "files": len(files),
                    "bytes": sum(f.size for f in files),
                    "entries": [
                        {"origin": f.origin, "path": f.path, "sha256": f.sha256, "size": f.size} for f in files
                    ],
                }
                for name, files in self.shards.items()
            },
        }


def license_is_permissive(texts: list[str]) -> bool:
    """True when license metadata names a permissive license and nothing restrictive."""
    joined = " ".join(t.lower() for t in texts if t)
    if not joined.strip() or any(word in joined for word in RESTRICTIVE):
        return False
    return any(word in joined for word in PERMISSIVE)


def _license_texts(dist: md.Distribution) -> list[str]:
    meta = dist.metadata
    texts = list(meta.get_all("License-Expression") or [])
    texts += [lic.split("\n", 1)[0][:200] for lic in meta.get_all("License") or []]
    texts += [c for c in (meta.get_all("Classifier") or []) if c.startswith("License ::")]
    return texts


def candidate_files() -> Iterator[tuple[str, Path]]:
    """(origin, path) for every .py file in the stdlib and in permissively licensed distributions."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" not in path.parts and "dist-packages" not in path.parts:
            yield "stdlib", path
    seen: set[str] = set()
    for dist in sorted(md.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = (dist.metadata["Name"] or "").lower()
        if not name or name in seen or name in EXCLUDED_DISTS or not license_is_permissive(_license_texts(dist)):
            continue
        seen.add(name)
        for rel in sorted(str(f) for f in dist.files or []):
            if rel.endswith(".py"):
                yield name, Path(str(dist.locate_file(rel)))


def read_if_usable(path: Path) -> bytes | None:
    """The file's bytes when it is real, parseable, human-written-looking Python; else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not MIN_BYTES <= len(data) <= MAX_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if max((len(line) for line in text.splitlines()), default=0) > MAX_LINE:
        return None  # minified or data tables
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return data


def shard_of(sha256: str, seed: int) -> str | None:
    """Seeded, content-addressed shard assignment (None = unused)."""
    u = int.from_bytes(hashlib.sha256(f"{seed}:{sha256}".encode()).digest()[:8], "big") / 2**64
    edge = 0.0
    for name, frac in SHARD_FRACTIONS.items():
        edge += frac
        if u < edge:
            return name
    return None


def build_corpus(seed: int = 0) -> tuple[Corpus, dict[str, bytes]]:
    """Scan, filter, dedupe and shard. Returns the corpus and sha256 -> content."""
    contents: dict[str, bytes] = {}
    files: dict[str, SourceFile] = {}
    for origin, path in candidate_files():
        data = read_if_usable(path)
        if data is None:
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in files:
            continue  # exact duplicate (vendored copies, re-exports)
        files[digest] = SourceFile(origin, str(path), digest, len(data))
        contents[digest] = data
    corpus = Corpus(seed=seed, shards={name: [] for name in SHARD_FRACTIONS})
    used = dict.fromkeys(SHARD_FRACTIONS, 0)
    for digest in sorted(files):  # hash order: independent of filesystem order
        shard = shard_of(digest, seed)
        if shard is None or used[shard] + files[digest].size > SHARD_CAPS[shard]:
            continue
        corpus.shards[shard].append(files[digest])
        used[shard] += files[digest].size
    kept = {f.sha256 for shard in corpus.shards.values() for f in shard}
    return corpus, {d: c for d, c in contents.items() if d in kept}


def write_corpus(corpus: Corpus, contents: dict[str, bytes], out_dir: Path) -> dict[str, Path]:
    """Write one text file per shard (files joined by a separator) and manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, files in corpus.shards.items():
        path = out_dir / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for f in files:
                fh.write(json.dumps({"sha256": f.sha256, "text": contents[f.sha256].decode("utf-8")}) + "\n")
        paths[name] = path
    (out_dir / "manifest.json").write_text(json.dumps(corpus.manifest(), indent=1))
    return paths


def read_shard(path: Path) -> Iterator[str]:
    """Texts of one shard file, in manifest order."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)["text"]
