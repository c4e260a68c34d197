"""Reporters: plain functions `(result, ctx) -> str` in one registry dict.

`result` is a `trustcheck.pipeline.ScanResult`; `ctx` says where paths are relative to, whether to
use colour and how wide to draw, and carries the rules' metadata (for SARIF's rule descriptions).
Each reporter imports what it needs inside its module, so registering them costs nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from trustcheck.reporters.codequality import report_codequality
from trustcheck.reporters.github import report_github
from trustcheck.reporters.json import report_json
from trustcheck.reporters.markdown import report_markdown
from trustcheck.reporters.sarif import report_sarif
from trustcheck.reporters.text import report_text


@dataclasses.dataclass(frozen=True)
class ReportContext:
    cwd: str = dataclasses.field(default_factory=os.getcwd)  # paths are shown relative to this
    color: bool = False
    width: int | None = None  # None: 100 columns
    rules: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # rule id -> Rule (docs, cwe, ...)
    fail_on: str | None = None  # shown by the text reporter's summary


Reporter = Callable[[Any, ReportContext], str]

REPORTERS: dict[str, Reporter] = {
    "text": report_text,
    "json": report_json,
    "sarif": report_sarif,
    "markdown": report_markdown,  # CIGATE: PR comment
    "github": report_github,  # CIGATE: workflow annotations
    "codequality": report_codequality,  # CIGATE: GitLab Code Quality
}


def relative_path(path: str, cwd: str | None = None) -> str:
    """`path` relative to `cwd` with forward slashes; unchanged (but slashed) when outside it."""
    cwd = cwd or os.getcwd()
    absolute = os.path.abspath(path)  # relative paths are relative to the process's folder
    try:
        rel = os.path.relpath(absolute, cwd)
    except ValueError:
        return path.replace(os.sep, "/")
    if rel.startswith(".."):
        return absolute.replace(os.sep, "/")
    return rel.replace(os.sep, "/")
