"""A cache of parsed, validated rule files, so that a one-file scan does not re-read YAML.

Parsing and validating the ~70 rules of a language (YAML, schema checks, compiling every helper)
was about a fifth of a cold `trustcheck scan one_file.py`. The cache keeps each rule file's
validated fields keyed by its path and a digest of its bytes; the key also covers the engine's
own sources (a changed validator re-validates everything). Stored with `marshal` (plain data
only, no code is ever run from it; never pickle) in the user cache folder; any problem reading
or writing it just means the rules are loaded from YAML as before.

Set TRUSTCHECK_CACHE_DIR to move it, or TRUSTCHECK_NO_CACHE=1 to disable it.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from trustcheck.findings import Confidence, Severity

_FORMAT = 1
_MAX_ENTRIES = 4000  # beyond this (many packs over time) the cache starts afresh
Entry = tuple[bytes, tuple[Any, ...]]  # (digest of the file's bytes, the rule's fields)


def cache_dir() -> Path | None:
    """Where the cache lives, or None when disabled."""
    if os.environ.get("TRUSTCHECK_NO_CACHE"):
        return None
    explicit = os.environ.get("TRUSTCHECK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "trustcheck"


def _engine_stamp() -> bytes:
    """Changes whenever the code that validates rules changes (or Python does: marshal format)."""
    here = Path(__file__).resolve().parent
    parts = [f"{_FORMAT} {sys.version}"]
    for source in [*sorted(here.glob("*.py")), here.parent / "languages.py"]:  # the validators, the language registry
        info = source.stat()
        parts.append(f"{source.name} {info.st_size} {info.st_mtime_ns}")
    return "\n".join(parts).encode()


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class RuleCache:
    """Validated rule fields by file path; `save()` writes back only if something was added."""

    def __init__(self, path: Path, stamp: bytes, entries: dict[str, Entry]):
        self.path = path
        self.stamp = stamp
        self.entries = entries
        self.dirty = False

    @classmethod
    def open(cls) -> RuleCache | None:
        folder = cache_dir()
        if folder is None:
            return None
        stamp = digest(_engine_stamp())
        path = folder / "rules.marshal"
        entries: dict[str, Entry] = {}
        try:
            with open(path, "rb") as handle:
                data = marshal.load(handle)
            if isinstance(data, tuple) and len(data) == 2 and data[0] == stamp and isinstance(data[1], dict):
                entries = data[1]
        except (OSError, EOFError, ValueError, TypeError):
            pass
        return cls(path, stamp, entries)

    def get(self, path: str, file_digest: bytes) -> Any | None:
        """The cached fields of the rule file at `path` if its bytes are unchanged, else None."""
        entry = self.entries.get(path)
        if not isinstance(entry, tuple) or len(entry) != 2 or entry[0] != file_digest:
            return None
        return entry[1]

    def put(self, path: str, file_digest: bytes, fields: tuple[Any, ...]) -> None:
        try:
            marshal.dumps(fields)  # only plain data (a YAML date, say, is not): such a rule is not cached
        except ValueError:
            return
        if len(self.entries) >= _MAX_ENTRIES:
            self.entries = {}
        self.entries[path] = (file_digest, fields)
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".rules-", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                marshal.dump((self.stamp, self.entries), handle)
            os.replace(tmp, self.path)  # atomic: concurrent scans never read half a file
        except (OSError, ValueError):
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass
        self.dirty = False


def fields_of(rule: Any) -> tuple[Any, ...]:
    """A Rule as plain data (see `rule_of`)."""
    return (
        rule.id, rule.languages, rule.severity.value, rule.confidence.value, rule.cwe, rule.message, rule.query,
        rule.where, rule.requires, rule.anchor, rule.docs, rule.examples, rule.tags,
    )


def rule_kwargs(fields: tuple[Any, ...], path: str) -> dict[str, Any]:
    """Keyword arguments for `Rule` from `fields_of` output."""
    (rule_id, languages, severity, confidence, cwe, message, query, where, requires, anchor, docs, examples,
     tags) = fields
    return {
        "id": rule_id, "languages": tuple(languages), "severity": Severity(severity),
        "confidence": Confidence(confidence), "cwe": cwe, "message": message, "query": query,
        "where": tuple(where), "requires": requires, "anchor": anchor, "docs": docs,
        "examples": {k: tuple(v) for k, v in examples.items()}, "tags": tuple(tags), "path": path,
    }
