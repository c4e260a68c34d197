"""trustcheck: validate AI-generated code and generate code it can vouch for."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from trustcheck.findings import Finding


def check(code: str | bytes, language: str = "python", *, path: str = "<string>") -> list[Finding]:
    """Run the rule pack on a string of code (for inference-time filtering); returns findings.

    Raises TrustcheckError for an unknown language.
    """
    from trustcheck.pipeline import check_source

    content = code.encode("utf-8") if isinstance(code, str) else code
    return check_source(path, language, content)
