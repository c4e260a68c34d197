"""The scan pipeline: files -> Source -> detectors -> filters -> ScanResult.

    discover (discovery.py) -> read + sanity checks -> [Detector...] -> select/ignore, severity
    floor -> suppressions (suppressions.py) -> fingerprints -> deterministic order

Large trees are split into chunks of files and scanned by a process pool; each worker builds its
detectors once (`detectors_for` caches per process). A file that cannot be scanned (unreadable,
binary, not UTF-8, too large, too deeply nested) is an `errors` entry, never an exception.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from detectors import Detector
from detectors.languages import LANGUAGES
from trustcheck.config import Config
from trustcheck.discovery import ScanError, SourceFile, discover
from trustcheck.errors import TrustcheckError
from trustcheck.findings import Finding
from trustcheck.sources import Source
from trustcheck.suppressions import Suppression, apply_suppressions, missing_rule_findings, parse_suppressions

__all__ = ["ScanError", "ScanResult", "check_source", "detectors_for", "scan", "scan_sources"]

BINARY_SNIFF = 8192  # bytes looked at for NUL bytes
POOL_MIN_FILES = 48  # below this a process pool costs more than it saves
PROGRESS_AFTER_S = 0.5  # the progress bar appears only when a scan takes longer than this
# Brackets nested deeper than this are machine-made or hostile (CPython itself stops at 200), and
# tree-sitter's query matching slows down superlinearly on them: such files are an error entry.
MAX_NESTING = 1000
_OPEN, _CLOSE = b"([{", b")]}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"()[]{}")


@dataclasses.dataclass
class ScanResult:
    findings: list[Finding]
    errors: list[ScanError]
    stats: dict[str, Any]
    suppressed: list[Finding] = dataclasses.field(default_factory=list)  # silenced by an obeyed comment
    suppressions: dict[str, list[Suppression]] = dataclasses.field(default_factory=dict)  # path -> comments
    detectors: list[Detector] = dataclasses.field(default_factory=list)  # what ran (reporters read rule docs)


@dataclasses.dataclass
class _FileOutcome:
    path: str
    findings: list[Finding]
    suppressions: list[Suppression]
    error: str | None = None
    lines: int = 0
    size: int = 0


# -- detectors -------------------------------------------------------------------------------
_DETECTORS: dict[tuple[Config, frozenset[str] | None], list[Detector]] = {}


def detectors_for(config: Config, languages: Iterable[str] | None = None) -> list[Detector]:
    """The detectors a scan with `config` runs: the rule engine always (shipped pack plus the
    config's extra rule folders, narrowed by select/ignore); the anomaly detector when the
    repository has a fitted baseline. `languages` (the scan's languages) limits the shipped pack
    to the folders those languages use, so a one-file scan parses only its own rules. Cached per
    process. Raises TrustcheckError for a broken rule file or baseline."""
    key = (config, frozenset(languages) if languages is not None else None)
    cached = _DETECTORS.get(key)
    if cached is not None:
        return cached
    from detectors.rules import RuleDetector, default_rules_dir, load_rules

    rule_dirs: list[str | Path] = [*_pack_dirs(default_rules_dir(), key[1]), *config.rules]
    # Queries compile lazily, per language, on first use: a one-file scan compiles only its language.
    rules = [r for r in load_rules(rule_dirs, compile_queries=False) if _selected(r.id, config)] if rule_dirs else []
    detectors: list[Detector] = [RuleDetector(rules)]
    if config.anomaly:
        from detectors.anomaly import baseline_exists  # import-light: no numpy/sklearn

        if baseline_exists(config.root):
            from detectors.anomaly import load_detector

            anomaly = load_detector(config.root)
            if anomaly is not None:
                detectors.append(anomaly)
    _DETECTORS[key] = detectors
    return detectors


def _pack_dirs(pack: Path, languages: frozenset[str] | None) -> list[Path]:
    """The shipped pack's folders (rules/<language>/) that `languages` need; all when None."""
    if languages is None:
        return [pack]
    from detectors.languages import RULE_LANGUAGES

    wanted = {rl for lang in languages for rl in RULE_LANGUAGES.get(lang, (lang,))}
    return [pack / name for name in sorted(wanted) if (pack / name).is_dir()]


def _selected(rule_id: str, config: Config) -> bool:
    if config.select and not any(fnmatch.fnmatchcase(rule_id, p) for p in config.select):
        return False
    return not any(fnmatch.fnmatchcase(rule_id, p) for p in config.ignore)


# -- one source ------------------------------------------------------------------------------
def check_source(path: str, language: str, content: bytes, config: Config | None = None,
                 detectors: Sequence[Detector] | None = None) -> list[Finding]:
    """Findings for one in-memory source (the `trustcheck.check` API): filtered, suppressions
    obeyed, fingerprinted and sorted. Raises TrustcheckError for an unknown language or content
    that cannot be analysed (binary, not UTF-8, too deeply nested)."""
    if language not in LANGUAGES:
        raise TrustcheckError(f"unknown language {language!r}", hint=f"known languages: {', '.join(LANGUAGES)}")
    config = config or Config()
    if detectors is None:
        from detectors.languages import RULE_LANGUAGES

        detectors = detectors_for(config, RULE_LANGUAGES.get(language, (language,)))
    outcome = _analyse(path, language, content, config, detectors)
    if outcome.error:
        raise TrustcheckError(f"{path}: {outcome.error}")
    kept, _ = apply_suppressions(outcome.findings, outcome.suppressions)
    return _finish(kept, config)


def _analyse(path: str, language: str, content: bytes, config: Config, detectors: Sequence[Detector]) -> _FileOutcome:
    """Run every detector on one file's bytes; problems become `error`, never exceptions."""
    reason = _unscannable(content)
    if reason:
        return _FileOutcome(path, [], [], reason, size=len(content))
    source = Source(path, language, content)
    findings: list[Finding] = []
    for detector in detectors:
        try:
            found = detector.detect(source)
        except TrustcheckError as exc:
            message = str(exc)
            return _FileOutcome(path, [], [], message.removeprefix(f"{path}: "), size=len(content))
        except RecursionError:
            return _FileOutcome(path, [], [], "too deeply nested to analyse", size=len(content))
        except Exception as exc:  # noqa: BLE001 - one bad file must not sink the scan; reported, exit 2
            return _FileOutcome(path, [], [], f"internal error in the {detector.name} detector: {exc!r} "
                                "(please report it)", size=len(content))
        findings.extend(found)
    suppressions = parse_suppressions(content)
    findings.extend(missing_rule_findings(path, suppressions))
    findings = [f for f in findings if _selected(f.rule_id, config) and f.severity.rank >= config.min_severity.rank]
    lines = content.count(b"\n") + (0 if content.endswith(b"\n") or not content else 1)
    return _FileOutcome(path, findings, suppressions, None, lines, len(content))


def _unscannable(content: bytes) -> str | None:
    if b"\0" in content[:BINARY_SNIFF]:
        return "binary file (contains NUL bytes), not source code; exclude it"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        return f"not valid UTF-8 (byte {exc.start}, line {line}); re-save it as UTF-8 or exclude it"
    depth = _nesting(content)
    if depth > MAX_NESTING:
        return f"too deeply nested to analyse ({depth} levels of brackets; the limit is {MAX_NESTING})"
    return None


def _nesting(content: bytes) -> int:
    """Deepest bracket nesting (brackets in strings and comments count too: an upper bound)."""
    if sum(content.count(c) for c in (b"(", b"[", b"{")) <= MAX_NESTING:
        return 0  # cannot be deeper than the number of opening brackets
    depth = deepest = 0
    for byte in content.translate(None, _NOT_BRACKETS):
        if byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def _read(file: SourceFile, config: Config) -> bytes | str:
    """The file's bytes, or a reason it cannot be read."""
    import stat

    from trustcheck.discovery import _os_reason

    try:
        info = os.stat(file.path)
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            return "not a regular file (a pipe, socket or device); exclude it"
        with open(file.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > config.max_file_size:
                return (f"too large to scan ({size / 1e6:.1f} MB > max-file-size {config.max_file_size} bytes); "
                        "exclude it or raise max-file-size")
            return handle.read()
    except OSError as exc:
        return _os_reason(file.path, exc)


def _scan_file(file: SourceFile, config: Config, detectors: Sequence[Detector]) -> _FileOutcome:
    content = _read(file, config)
    if isinstance(content, str):
        return _FileOutcome(file.path, [], [], content)
    return _analyse(file.path, file.language, content, config, detectors)


# -- many files ------------------------------------------------------------------------------
Obey = Callable[[str, Suppression], bool]  # (path, suppression) -> obey it?


def scan(paths: Iterable[str], config: Config, *, obey: Obey | None = None, progress: bool = False,
         detectors: Sequence[Detector] | None = None) -> ScanResult:
    """Scan files and folders (default: the current folder). `obey(path, s)` may refuse
    suppressions (the CI gate refuses the ones a change adds). `detectors` overrides
    `detectors_for(config)` (then the scan runs in this process). Raises TrustcheckError only for
    problems with the whole scan (broken rules or config); per-file problems are `errors`."""
    started = time.perf_counter()
    found = discover(list(paths), config)
    items: list[Any] = found.files
    outcomes, ran = _run(items, config, detectors, _scan_chunk, progress, {f.language for f in found.files})
    return _collect(outcomes, found.errors, config, obey, started, skipped=found.skipped, detectors=ran)


def scan_sources(sources: Sequence[Source], config: Config, *, obey: Obey | None = None,
                 detectors: Sequence[Detector] | None = None) -> ScanResult:
    """Like `scan` for contents already in memory (e.g. read from git objects)."""
    started = time.perf_counter()
    outcomes, ran = _run(list(sources), config, detectors, _scan_source_chunk, False, {s.language for s in sources})
    return _collect(outcomes, [], config, obey, started, skipped=0, detectors=ran)


def _run(items: list[Any], config: Config, detectors: Sequence[Detector] | None,
         chunk_fn: Callable[[list[Any]], list[_FileOutcome]], progress: bool,
         languages: set[str]) -> tuple[list[_FileOutcome], list[Detector]]:
    jobs = config.jobs or os.cpu_count() or 1
    langs = frozenset(languages)
    if detectors is not None or jobs == 1 or len(items) < POOL_MIN_FILES:
        dets = list(detectors) if detectors is not None else detectors_for(config, langs)
        _WORKER["config"], _WORKER["detectors"] = config, dets
        return _with_progress(items, progress, lambda: ((len(c), chunk_fn(c)) for c in _chunks(items, 16))), dets
    dets = detectors_for(config, langs)  # fail fast on broken rules; forked workers inherit the loaded pack
    for detector in dets if sys.platform == "linux" else ():  # forked workers inherit compiled queries too
        prepare = getattr(detector, "prepare", None)
        if callable(prepare):
            prepare(langs)
    return _with_progress(items, progress, lambda: _pool_map(items, config, langs, jobs, chunk_fn)), dets


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _pool_map(items: list[Any], config: Config, languages: frozenset[str], jobs: int,
              chunk_fn: Callable[[list[Any]], list[_FileOutcome]]):
    import concurrent.futures
    import multiprocessing

    # Small chunks balance the load (files differ a lot in size); many chunks per worker.
    size = max(4, min(64, len(items) // (jobs * 8) or 1))
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods and sys.platform == "linux" else None)
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                                initargs=(config, languages)) as pool:
        futures = [pool.submit(chunk_fn, chunk) for chunk in _chunks(items, size)]
        try:
            for future in concurrent.futures.as_completed(futures):
                result = future.result()
                yield len(result), result
        except BaseException:
            for future in futures:
                future.cancel()
            raise


_WORKER: dict[str, Any] = {}


def _init_worker(config: Config, languages: frozenset[str]) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _WORKER["config"] = config
    try:
        _WORKER["detectors"] = detectors_for(config, languages)
    except TrustcheckError as exc:  # already reported by the parent; keep the worker alive
        _WORKER["detectors"] = exc


def _worker_detectors() -> Sequence[Detector]:
    detectors = _WORKER["detectors"]
    if isinstance(detectors, Exception):
        raise detectors
    return detectors  # type: ignore[no-any-return]


def _scan_chunk(files: list[SourceFile]) -> list[_FileOutcome]:
    config, detectors = _WORKER["config"], _worker_detectors()
    return [_scan_file(f, config, detectors) for f in files]


def _scan_source_chunk(sources: list[Source]) -> list[_FileOutcome]:
    config, detectors = _WORKER["config"], _worker_detectors()
    return [_analyse(s.path, s.language, s.content, config, detectors) for s in sources]


def _with_progress(items: list[Any], progress: bool, batches: Callable[[], Iterable[tuple[int, list[_FileOutcome]]]]):
    outcomes: list[_FileOutcome] = []
    bar = None
    started = time.perf_counter()
    done = 0
    try:
        for count, batch in batches():
            outcomes.extend(batch)
            done += count
            if progress and bar is None and time.perf_counter() - started > PROGRESS_AFTER_S and done < len(items):
                bar = _progress_bar(len(items))
            if bar is not None:
                bar[0].update(bar[1], completed=done)
    finally:
        if bar is not None:
            bar[0].stop()
    return outcomes


def _progress_bar(total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    progress.start()
    return progress, progress.add_task("scan", total=total)


# -- results ---------------------------------------------------------------------------------
def _collect(outcomes: list[_FileOutcome], errors: list[ScanError], config: Config, obey: Obey | None,
             started: float, *, skipped: int, detectors: list[Detector]) -> ScanResult:
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    suppressions: dict[str, list[Suppression]] = {}
    errors = list(errors)
    lines = size = scanned = 0
    for outcome in outcomes:
        if outcome.error is not None:
            errors.append(ScanError(outcome.path, outcome.error))
            continue
        scanned += 1
        lines += outcome.lines
        size += outcome.size
        if outcome.suppressions:
            suppressions[outcome.path] = outcome.suppressions
        path_obey = (lambda s, p=outcome.path: obey(p, s)) if obey is not None else None
        kept, silenced = apply_suppressions(outcome.findings, outcome.suppressions, path_obey)
        findings.extend(kept)
        suppressed.extend(silenced)
    findings = _finish(findings, config)
    errors.sort(key=lambda e: (e.path, e.message))
    seconds = time.perf_counter() - started
    by_detector = Counter(f.detector for f in findings)
    stats: dict[str, Any] = {
        "files": scanned,
        "lines": lines,
        "bytes": size,
        "seconds": round(seconds, 3),
        "lines_per_second": round(lines / seconds) if seconds > 0 else 0,
        "errors": len(errors),
        "skipped": skipped,
        "findings": len(findings),
        "suppressed": len(suppressed),
        "by_detector": dict(sorted(by_detector.items())),
        "by_severity": {s.value: n for s, n in sorted(Counter(f.severity for f in findings).items(),
                                                        key=lambda kv: -kv[0].rank)},
        "detectors": [d.name for d in detectors],
    }
    return ScanResult(findings, errors, stats, _finish(suppressed, config), suppressions, list(detectors))


def _finish(findings: list[Finding], config: Config) -> list[Finding]:
    """Sorted, de-duplicated findings with fingerprints (stable across runs and line shifts:
    rule + path relative to the config root + snippet + occurrence index among identical ones)."""
    ordered = sorted(set(findings), key=_order)
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for finding in ordered:
        rel = _relative(finding.path, config.root)
        key = (finding.rule_id, rel, " ".join(finding.snippet.split()))
        occurrence = seen[key]
        seen[key] += 1
        stamped = dataclasses.replace(finding, path=rel).with_fingerprint(occurrence)
        out.append(dataclasses.replace(stamped, path=finding.path))
    return out


def _order(f: Finding) -> tuple[Any, ...]:
    return (f.path, f.line, f.column, f.rule_id, f.end_line or 0, f.end_column or 0, f.message, f.detector)


def _relative(path: str, root: str) -> str:
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, root)
    except ValueError:
        return path.replace(os.sep, "/")
    return (path if rel.startswith("..") else rel).replace(os.sep, "/")
