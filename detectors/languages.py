"""The language registry: adding a language is one entry here plus rules under rules/<name>/.

Grammars come from the per-language wheels (tree-sitter-python, ...), imported lazily so that a
scan of Python files never loads the Go grammar.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable

from tree_sitter import Language, Parser

from trustcheck.errors import TrustcheckError


@dataclasses.dataclass(frozen=True)
class LanguageSpec:
    name: str
    module: str  # the grammar wheel's module
    function: str  # its function returning the language pointer
    extensions: tuple[str, ...]
    interpreters: tuple[str, ...] = ()  # shebang interpreters, e.g. "python3"
    comment: str = "#"  # line-comment prefix (used for suppressions and rule docs)


LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec("python", "tree_sitter_python", "language", (".py", ".pyw", ".pyi"), ("python", "python2", "python3", "pypy", "pypy3")),
        LanguageSpec("javascript", "tree_sitter_javascript", "language", (".js", ".mjs", ".cjs", ".jsx"), ("node", "nodejs", "deno", "bun"), "//"),
        LanguageSpec("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts"), ("ts-node", "tsx"), "//"),
        LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",), (), "//"),
        LanguageSpec("go", "tree_sitter_go", "language", (".go",), (), "//"),
        LanguageSpec("bash", "tree_sitter_bash", "language", (".sh", ".bash", ".zsh", ".ksh"), ("sh", "bash", "zsh", "ksh", "dash")),
        LanguageSpec("java", "tree_sitter_java", "language", (".java",), (), "//"),
        LanguageSpec("c", "tree_sitter_c", "language", (".c", ".h"), (), "//"),
        LanguageSpec("cpp", "tree_sitter_cpp", "language", (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++"), (), "//"),
        LanguageSpec("php", "tree_sitter_php", "language_php", (".php", ".phtml"), ("php",), "//"),
        LanguageSpec("ruby", "tree_sitter_ruby", "language", (".rb", ".rake", ".gemspec"), ("ruby",)),
        LanguageSpec("rust", "tree_sitter_rust", "language", (".rs",), (), "//"),
    )
}

# Rules written for one language that also apply to another (TypeScript is a superset of JS).
RULE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "typescript": ("typescript", "javascript"),
    "tsx": ("tsx", "typescript", "javascript"),
    "cpp": ("cpp", "c"),  # C++ files also run the C rules (strcpy, sprintf, system, ...)
}

_BY_EXTENSION = {ext: spec.name for spec in LANGUAGES.values() for ext in spec.extensions}
_BY_INTERPRETER = {i: spec.name for spec in LANGUAGES.values() for i in spec.interpreters}


def language_for(path: str, head: bytes = b"") -> str | None:
    """Language name from the file extension, else from a `#!` line in `head`; None if unknown."""
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        name = _BY_EXTENSION.get(path[dot:].lower())
        if name:
            return name
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].decode("latin-1").split()
        if words and words[0].endswith("/env"):
            words = [w for w in words[1:] if not w.startswith("-")]
        if words:
            interpreter = words[0].rsplit("/", 1)[-1]
            interpreter = interpreter.rstrip("0123456789.") if interpreter not in _BY_INTERPRETER else interpreter
            return _BY_INTERPRETER.get(interpreter) or _BY_INTERPRETER.get(words[0].rsplit("/", 1)[-1])
    return None


@functools.cache
def grammar(name: str) -> Language:
    """The tree-sitter Language for a registered name (cached per process)."""
    spec = LANGUAGES.get(name)
    if spec is None:
        raise TrustcheckError(f"unknown language {name!r}", hint=f"known languages: {', '.join(LANGUAGES)}")
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise TrustcheckError(
            f"the grammar for {name} is not installed ({spec.module})",
            hint=f"pip install {spec.module.replace('_', '-')}",
        ) from exc
    language_fn: Callable[[], object] = getattr(module, spec.function)
    return Language(language_fn())


def parser(name: str) -> Parser:
    """A new parser for the language (parsers are cheap; not shared across threads)."""
    return Parser(grammar(name))
