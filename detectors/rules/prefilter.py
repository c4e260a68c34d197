"""Cheap file-level rejects for a rule's `requires`/`anchor` regex.

Python's `re` scans a file byte by byte for an alternation such as `ssh|aws|netrc|...`; over the
stdlib each anchor regex cost 0.1-0.2 CPU-s, most of it on files where it never matches. Every
match of such a regex contains one of a few literals, and `literal in content` runs at memchr
speed, so a file holding none of them is skipped without running the regex. The check is only
ever a necessary condition: when in doubt the regex runs as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

try:  # the regex parser behind `re` (public as sre_parse before 3.11)
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_parse as _sre  # type: ignore[no-redef]

_NON_ASCII = "non-ascii"  # marker: every match holds a byte (or character) >= 0x80
Literal = tuple[int, ...]  # bytes or code points, so one analysis serves bytes and str patterns
Required = list[Literal] | str  # any of these literals, or _NON_ASCII


def prefilter(pattern: re.Pattern[bytes]) -> Callable[[bytes], bool] | None:
    """A test that is False only for contents `pattern` cannot match anywhere; None when no
    such test is known (then the caller runs the regex)."""
    if pattern.flags & (re.LOCALE | re.VERBOSE):
        return None
    try:
        parsed = _sre.parse(pattern.pattern, pattern.flags & ~re.IGNORECASE)
    except Exception:  # noqa: BLE001 - an unusual pattern simply gets no prefilter
        return None
    required = _sequence(list(parsed))
    if required is None:
        return None
    if isinstance(required, str):  # _NON_ASCII
        return lambda content: not content.isascii()
    literals = tuple(bytes(lit) for lit in required)
    if pattern.flags & re.IGNORECASE:  # bytes patterns fold ASCII only, as bytes.lower() does
        lowered = tuple(lit.lower() for lit in literals)
        return lambda content: any(lit in content.lower() for lit in lowered)
    if len(literals) == 1:
        literal = literals[0]
        return lambda content: literal in content
    return lambda content: any(lit in content for lit in literals)


def required_literals(pattern: re.Pattern[bytes]) -> tuple[bytes, ...] | None:
    """Literals one of which every match of `pattern` contains, exactly as they appear in the
    text (so never for case-insensitive patterns); None when there is no such list."""
    if pattern.flags & (re.LOCALE | re.VERBOSE | re.IGNORECASE):
        return None
    try:
        required = _sequence(list(_sre.parse(pattern.pattern, pattern.flags)))
    except Exception:  # noqa: BLE001
        return None
    return None if required is None or isinstance(required, str) else tuple(bytes(lit) for lit in required)


# The only non-ASCII characters a case-insensitive str regex matches to ASCII letters (the `re`
# docs: [a-z] with IGNORECASE also matches these four); folded before looking for literals.
_ASCII_FOLDS = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}


def text_prefilter(pattern: re.Pattern[str]) -> Callable[[str], bool] | None:
    """`prefilter` for a str regex (a helper's `regex`): False only for texts it cannot match.
    Stricter than `prefilter`: each top-level branch needs ALL its required literals (one of
    each set), e.g. `exec` and `urlopen` for `exec\\(.{0,200}urlopen`. Case-insensitive str
    regexes also match four non-ASCII letters to ASCII ones (`ſ` to `s`): see _ASCII_FOLDS."""
    if pattern.flags & re.VERBOSE:
        return None
    try:
        items = list(_sre.parse(pattern.pattern, pattern.flags & ~re.IGNORECASE))
    except Exception:  # noqa: BLE001
        return None
    while len(items) == 1 and items[0][0] is _sre.SUBPATTERN and not items[0][1][1] and not items[0][1][2]:  # type: ignore[index]
        items = list(items[0][1][3])  # type: ignore[index]  # a group around everything
    branches = [list(b) for b in items[0][1][1]] if len(items) == 1 and items[0][0] is _sre.BRANCH else [items]  # type: ignore[index]
    ignorecase = bool(pattern.flags & re.IGNORECASE)
    needs: list[list[tuple[str, ...]]] = []  # per branch: sets of literals, one of each must occur
    for branch in branches:
        sets = [tuple("".join(map(chr, lit)) for lit in o) for o in _options(branch) or [] if not isinstance(o, str)]
        if not sets or (ignorecase and not all(lit.isascii() for group in sets for lit in group)):
            return None
        needs.append([tuple(lit.lower() for lit in group) for group in sets] if ignorecase else sets)

    def may_match(text: str) -> bool:
        if ignorecase:
            text = text.lower() if text.isascii() else text.translate(_ASCII_FOLDS).lower()
        return any(all(any(lit in text for lit in group) for group in sets) for sets in needs)

    return may_match


MAX_ALTERNATIVES = 64


def literal_alternation(pattern: re.Pattern[bytes]) -> tuple[bytes, ...] | None:
    """The literals a regex such as `ssh|aws|cron\\.` is exactly an alternation of (so its
    matches are exactly their occurrences); None for any other regex. For a case-insensitive
    regex they are lower-cased: its matches are their occurrences in `content.lower()` (bytes
    patterns fold ASCII letters only, as bytes.lower() does)."""
    if pattern.flags & (re.LOCALE | re.VERBOSE):
        return None
    try:
        found = _expand(list(_sre.parse(pattern.pattern, pattern.flags & ~re.IGNORECASE)))
    except Exception:  # noqa: BLE001
        return None
    if not found or not all(found):
        return None
    if pattern.flags & re.IGNORECASE:
        found = [lit.lower() for lit in found]
    return tuple(dict.fromkeys(found))


def _expand(items: list[tuple[object, object]]) -> list[bytes] | None:
    out = [b""]
    for op, av in items:
        if op is _sre.LITERAL:
            options: list[bytes] | None = [bytes([av])]  # type: ignore[list-item]
        elif op is _sre.BRANCH:
            options = []
            for branch in av[1]:  # type: ignore[index]
                expanded = _expand(list(branch))
                if expanded is None:
                    return None
                options.extend(expanded)
        elif op is _sre.SUBPATTERN and not av[1] and not av[2]:  # type: ignore[index]
            options = _expand(list(av[3]))  # type: ignore[index]
        elif op is _sre.IN and all(o in (_sre.LITERAL, _sre.RANGE) for o, _ in av):  # type: ignore[attr-defined]
            codes = [c for o, v in av for c in ([v] if o is _sre.LITERAL else range(v[0], v[1] + 1))]  # type: ignore[attr-defined]
            options = [bytes([c]) for c in codes] if len(codes) <= MAX_ALTERNATIVES else None
        else:
            return None
        if options is None or len(out) * len(options) > MAX_ALTERNATIVES:
            return None
        out = [a + b for a in out for b in options]
    return out


def _sequence(items: list[tuple[object, object]]) -> Required | None:
    """What every match of this sequence of regex items must contain: the best of its literal
    runs and of its required sub-patterns (all of them are required, so any one will do)."""
    options = _options(items)
    if not options:
        return None
    literal_options = [o for o in options if not isinstance(o, str)]
    if not literal_options:
        return _NON_ASCII
    return max(literal_options, key=lambda o: min(len(lit) for lit in o))


def _options(items: list[tuple[object, object]]) -> list[Required]:
    """Every requirement of a sequence (each must hold): its literal runs, the union of a
    required alternation's branches, what a required group or repeat needs."""
    options: list[Required] = []
    run: list[int] = []
    for op, av in items:
        if op is _sre.LITERAL:
            run.append(av)  # type: ignore[arg-type]
            continue
        if run:
            options.append([tuple(run)])
            run = []
        inner: Required | None = None
        if op is _sre.BRANCH:
            inner = _branch(av[1])  # type: ignore[index]
        elif op is _sre.SUBPATTERN and not av[1] and not av[2]:  # type: ignore[index]  # a group without flag changes
            inner = _sequence(list(av[3]))  # type: ignore[index]
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and av[0] >= 1:  # type: ignore[index]
            inner = _sequence(list(av[2]))  # type: ignore[index]
        elif op is _sre.IN and _all_non_ascii(av):  # type: ignore[arg-type]
            inner = _NON_ASCII
        if inner is not None:
            options.append(inner)
    if run:
        options.append([tuple(run)])
    return options


def _branch(branches: list[object]) -> Required | None:
    """Any branch may match: the union of each branch's requirement (unknown if one is)."""
    literals: list[Literal] = []
    for branch in branches:
        required = _sequence(list(branch))  # type: ignore[call-overload]
        if required is None or isinstance(required, str):
            return None  # unknown, or "any non-ASCII byte" mixed with literals: keep it simple
        literals.extend(required)
    return literals


def _all_non_ascii(items: list[tuple[object, object]]) -> bool:
    """Whether a character class matches only bytes >= 0x80."""
    if not items:
        return False
    for op, av in items:
        if op is _sre.RANGE:
            if av[0] < 0x80:  # type: ignore[index]
                return False
        elif op is _sre.LITERAL:
            if av < 0x80:  # type: ignore[operator]
                return False
        else:  # NEGATE, CATEGORY, ...
            return False
    return True
