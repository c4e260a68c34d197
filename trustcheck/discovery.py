"""Which files a scan reads: from files, folders or nothing (the current folder).

Folders are walked with git's own idea of what is ignored when they sit in a git work tree
(`git ls-files --cached --others --exclude-standard`: nested .gitignore files, .git/info/exclude
and the user's global excludes, exactly as git applies them); elsewhere every .gitignore on the
way down is applied with pathspec. The config's `exclude` patterns apply to everything, including
files named on the command line (so a pre-commit hook honours them); .gitignore does not apply to
files named explicitly. Directory symlinks are never followed, so symlink loops cannot trap the
walk; a file symlink that loops or dangles becomes an error entry, never an exception.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from detectors.languages import language_for
from trustcheck.config import Config

if TYPE_CHECKING:  # pathspec is imported where a .gitignore or exclude pattern needs it (start-up)
    import pathspec

# Never descended into while walking a folder (they are tool caches or other people's code).
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "node_modules", "__pycache__",
                       ".mypy_cache", ".ruff_cache", ".pytest_cache"})
HEAD_BYTES = 256  # enough for a shebang line


@dataclasses.dataclass(frozen=True)
class ScanError:
    """A file (or argument) that could not be scanned, and why, in words a user can act on."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclasses.dataclass(frozen=True)
class SourceFile:
    path: str
    language: str


@dataclasses.dataclass
class Discovery:
    files: list[SourceFile]
    errors: list[ScanError]
    skipped: int = 0  # files seen whose language trustcheck does not know


def discover(paths: Iterable[str], config: Config) -> Discovery:
    """Files to scan under `paths` (default: the current folder), sorted, without duplicates."""
    args = list(paths) or ["."]
    exclude = _Exclude(config)
    result = Discovery([], [])
    seen: set[str] = set()
    for arg in args:
        for path, explicit in _expand(arg, result.errors):
            norm = os.path.normpath(path)
            if norm in seen or exclude.matches(norm):
                continue
            seen.add(norm)
            language = _language(norm, explicit, result.errors)
            if language is None:
                result.skipped += 1
                continue
            result.files.append(SourceFile(norm, language))
    result.files.sort(key=lambda f: f.path)
    result.errors.sort(key=lambda e: e.path)
    return result


def _expand(arg: str, errors: list[ScanError]) -> Iterator[tuple[str, bool]]:
    """(path, named explicitly) for one command-line argument."""
    try:
        info = os.stat(arg)
    except OSError as exc:
        errors.append(ScanError(arg, _os_reason(arg, exc)))
        return
    if not stat.S_ISDIR(info.st_mode):
        yield arg, True
        return
    listed = _git_files(arg)
    if listed is None:
        yield from ((p, False) for p in _walk(arg, errors))
    else:
        yield from ((p, False) for p in listed if not _in_skipped_dir(p))


def _git_files(folder: str) -> list[str] | None:
    """Files git would track or consider under `folder` (tracked + untracked, not ignored), as
    paths joined onto `folder`; None when `folder` is not in a git work tree or git is absent."""
    if not _inside_git_worktree(folder):
        return None
    git = shutil.which("git")
    if git is None:
        return None
    proc = subprocess.run(
        [git, "-c", "core.quotePath=false", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "."],
        cwd=folder, capture_output=True, check=False,
    )
    if proc.returncode != 0:
        return None
    names = sorted({os.fsdecode(p) for p in proc.stdout.split(b"\0") if p})
    prefix = "" if os.path.normpath(folder) == "." else folder
    # --cached lists files deleted from the work tree and submodule folders: keep real files only
    out = []
    for name in names:
        full = os.path.join(prefix, name) if prefix else name
        if os.path.islink(full) or os.path.isfile(full):
            out.append(full)
    return out


def _inside_git_worktree(folder: str) -> bool:
    here = Path(folder).resolve()
    for parent in (here, *here.parents):
        if (parent / ".git").exists():
            return True
    return False


def _walk(root: str, errors: list[ScanError]) -> Iterator[str]:
    """Files under `root`, applying each .gitignore on the way down; directory symlinks are not
    followed (no loops possible)."""
    stack: list[tuple[str, list[tuple[str, pathspec.PathSpec]]]] = [(root, [])]
    while stack:
        folder, specs = stack.pop()
        specs = specs + _gitignore(folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            errors.append(ScanError(folder, _os_reason(folder, exc)))
            continue
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir and entry.name in SKIP_DIRS:
                continue
            if _ignored(entry.path, is_dir, specs):
                continue
            if is_dir:
                subdirs.append(entry.path)
            elif entry.is_symlink() and _is_dir_symlink(entry.path):
                continue  # never follow directory symlinks
            else:
                yield entry.path
        stack.extend((d, specs) for d in reversed(subdirs))


def _gitignore(folder: str) -> list[tuple[str, pathspec.PathSpec]]:
    path = os.path.join(folder, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            import pathspec

            return [(folder, pathspec.GitIgnoreSpec.from_lines(handle))]
    except OSError:
        return []


def _ignored(path: str, is_dir: bool, specs: list[tuple[str, pathspec.PathSpec]]) -> bool:
    ignored = False
    for base, spec in specs:  # later (deeper) files override earlier ones, as in git
        rel = os.path.relpath(path, base).replace(os.sep, "/") + ("/" if is_dir else "")
        result = spec.check_file(rel)
        if result.include is not None:
            ignored = bool(result.include)
    return ignored


def _is_dir_symlink(path: str) -> bool:
    try:
        return os.path.isdir(path)
    except OSError:
        return False


def _in_skipped_dir(path: str) -> bool:
    return any(part in SKIP_DIRS for part in Path(path).parts[:-1])


class _Exclude:
    """The config's `exclude` patterns (gitignore syntax), relative to the config's folder."""

    def __init__(self, config: Config):
        self.root = config.root
        self.spec = None
        if config.exclude:
            import pathspec

            self.spec = pathspec.GitIgnoreSpec.from_lines(config.exclude)

    def matches(self, path: str) -> bool:
        if self.spec is None:
            return False
        absolute = os.path.abspath(path)
        rel = os.path.relpath(absolute, self.root)
        if rel.startswith(".."):  # outside the config's folder: match on the path as given
            rel = path
        return self.spec.match_file(rel.replace(os.sep, "/"))


def _language(path: str, explicit: bool, errors: list[ScanError]) -> str | None:
    language = language_for(path)
    if language is not None:
        return language
    base = os.path.basename(path)
    if "." in base.lstrip(".") and not explicit:
        return None  # an unknown extension: not worth opening
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        if explicit:
            errors.append(ScanError(path, _os_reason(path, exc)))
        return None
    return language_for(path, head)


def _os_reason(path: str, exc: OSError) -> str:
    """An OSError in words: what happened and what to do."""
    import errno

    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link points back to itself); remove or fix the link"
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return f"broken symbolic link (target {os.readlink(path)!r} does not exist)"
        return "no such file or directory"
    if exc.errno == errno.EACCES:
        return "permission denied; make it readable or exclude it"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    return f"cannot read: {exc.strerror or exc}"
