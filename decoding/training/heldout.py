"""The held-out eval shard, rebuilt from the bundled data manifest (file paths + sha256).

The bundle does not ship the eval text itself (it is other projects' source); it ships the list.
On a machine with the same stdlib and packages the files are found again and checked by hash.
"""

from __future__ import annotations

import hashlib
import json
import sysconfig
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[1] / "bundled" / "data-manifest.json"


def held_out_texts(shard: str = "eval", manifest: Path = MANIFEST, run_corpus: Path | None = None) -> list[str]:
    """Texts of `shard` whose files are present with the recorded hash (in manifest order).

    `run_corpus` (a training run's corpus/ directory) is used instead when it holds the shard.
    """
    if run_corpus is not None and (run_corpus / f"{shard}.jsonl").is_file():
        from decoding.training.corpus import read_shard

        return list(read_shard(run_corpus / f"{shard}.jsonl"))
    rows = json.loads(manifest.read_text())["shards"][shard]["entries"]
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    texts = []
    for origin, rel, sha, _size in rows:
        for root in roots[:1] if origin == "stdlib" else roots[1:]:
            path = root / rel
            if path.is_file():
                data = path.read_bytes()
                if hashlib.sha256(data).hexdigest() == sha:
                    texts.append(data.decode("utf-8"))
    return texts
