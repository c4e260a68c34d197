"""A file to scan: its path, language and bytes."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Source:
    path: str  # as the user named it or as found under a scanned folder
    language: str  # a key of detectors.languages.LANGUAGES
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def line(self, number: int) -> str:
        """The 1-based line `number` without its newline ('' if out of range)."""
        lines = self.content.split(b"\n")
        if 1 <= number <= len(lines):
            return lines[number - 1].decode("utf-8", errors="replace").rstrip("\r")
        return ""
