"""Git, through its command line: which lines a change adds, and file contents at a ref.

Every failure a user can fix (git missing, not a repository, a base ref the clone lacks, a dirty
working tree) becomes a TrustcheckError that says what it means for the result and how to fix it.
Contents are read from git objects (`git cat-file --batch`), so a CI gate judges exactly the
commits it names, whatever the working tree holds.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

from trustcheck.errors import TrustcheckError

# Where a side of a diff lives: a commit-ish, the index (staged), or the files on disk.
INDEX = ":index:"
WORKTREE = ":worktree:"

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_FETCH_HINT = (
    "fetch the full history before running the gate: `git fetch --no-tags --prune --unshallow origin` "
    "(or `git fetch --depth=0`), and in GitHub Actions use actions/checkout with `fetch-depth: 0`; "
    "in GitLab set GIT_DEPTH: 0"
)


@dataclasses.dataclass(frozen=True)
class FileChange:
    """One file a change touches. `path` is repo-relative (posix) on the head side; `old_path` is
    the base-side path (None for a new file). `added_lines` are the 1-based head lines the change
    added or modified; a deleted file has none."""

    path: str
    old_path: str | None
    status: str  # "added" | "modified" | "renamed" | "deleted"
    added_lines: frozenset[int]

    def touches(self, start: int, end: int | None = None) -> bool:
        """Whether any line in [start, end] was added or modified (a new file: every line)."""
        if self.status == "added":
            return True
        last = max(start, end or start)
        if last - start > 64:  # long spans (a whole function): test the set, not the range
            return any(start <= n <= last for n in self.added_lines)
        return any(n in self.added_lines for n in range(start, last + 1))


class Repo:
    """A git work tree. Build it with `Repo.discover(path)`."""

    def __init__(self, root: Path):
        self.root = root

    @classmethod
    def discover(cls, start: str | os.PathLike[str] = ".") -> Repo:
        """The repository containing `start`; TrustcheckError if git is missing or there is none."""
        out = _git(Path(start), "rev-parse", "--show-toplevel", what=f"find the repository containing {start}")
        return cls(Path(os.fsdecode(out.strip())))

    def git(self, *args: str, what: str, input: bytes | None = None) -> bytes:
        return _git(self.root, *args, what=what, input=input)

    # -- refs -------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The commit id `ref` names; a TrustcheckError with a fetch hint when the clone lacks it."""
        if ref.startswith("-"):  # would be read as an option (and --end-of-options needs git >= 2.24)
            raise TrustcheckError(f"{ref!r} is not a git ref", hint="name a branch, tag or commit")
        proc = _run(self.root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if proc.returncode == 0:
            return proc.stdout.decode().strip()
        hint = _FETCH_HINT if self.is_shallow() else (
            f"check the name (`git branch -a` lists what this clone has); for a remote branch fetch it "
            f"first: `git fetch origin {ref.removeprefix('origin/')}`"
        )
        shallow = " (this is a shallow clone, so older commits and other branches are missing)" if self.is_shallow() else ""
        raise TrustcheckError(f"git ref {ref!r} does not exist in {self.root}{shallow}", hint=hint)

    def merge_base(self, base: str, head: str) -> str:
        """The commit a pull request from `head` into `base` starts from (three-dot diff)."""
        proc = _run(self.root, "merge-base", base, head)
        if proc.returncode == 0:
            return proc.stdout.decode().strip()
        hint = _FETCH_HINT if self.is_shallow() else "pass --base with a commit that is an ancestor of the head"
        raise TrustcheckError(f"{base[:12]} and {head[:12]} have no common ancestor in this clone", hint=hint)

    def is_shallow(self) -> bool:
        proc = _run(self.root, "rev-parse", "--is-shallow-repository")
        return proc.stdout.strip() == b"true"

    def has_ref(self, ref: str) -> bool:
        return _run(self.root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0

    # -- state ------------------------------------------------------------------------------
    def dirty_files(self) -> list[str]:
        """Tracked files whose working-tree or staged content differs from HEAD."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=no", what="read the working tree status")
        entries = out.split(b"\0")
        paths, skip = [], False
        for entry in entries:
            if skip:  # the second path of a rename entry
                skip = False
                continue
            if len(entry) > 3:
                paths.append(os.fsdecode(entry[3:]))
                skip = entry[:1] in (b"R", b"C")
        return paths

    def untracked_files(self) -> list[str]:
        out = self.git("ls-files", "--others", "--exclude-standard", "-z", what="list untracked files")
        return [os.fsdecode(p) for p in out.split(b"\0") if p]

    # -- changes ----------------------------------------------------------------------------
    def changes(self, base: str, head: str = WORKTREE, *, renames: bool = True) -> list[FileChange]:
        """Files that differ between `base` (a commit) and `head` (a commit, INDEX or WORKTREE),
        with the head lines each change added or modified. Untracked files count as added when
        `head` is WORKTREE."""
        args = ["diff", "--unified=0", "--no-color", "--no-ext-diff", "--no-textconv",
                "--src-prefix=a/", "--dst-prefix=b/", "--find-renames" if renames else "--no-renames"]
        if head == INDEX:
            args += ["--cached", base]
        elif head == WORKTREE:
            args += [base]
        else:
            args += [base, head]
        out = self.git(*args, "--", what=f"diff {base[:12]}..{head if head in (INDEX, WORKTREE) else head[:12]}")
        changes = parse_diff(out)
        if head == WORKTREE:
            seen = {c.path for c in changes}
            for path in self.untracked_files():
                if path not in seen:
                    changes.append(FileChange(path, None, "added", frozenset()))
        return changes

    # -- contents ---------------------------------------------------------------------------
    def read(self, at: str, paths: list[str]) -> dict[str, bytes | None]:
        """Contents of `paths` at `at` (a commit, INDEX or WORKTREE); None where absent."""
        if at == WORKTREE:
            result: dict[str, bytes | None] = {}
            for path in paths:
                try:
                    result[path] = (self.root / path).read_bytes()
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    result[path] = None
            return result
        prefix = ":" if at == INDEX else f"{at}:"
        return self._cat_blobs([prefix + p for p in paths], paths)

    def show(self, at: str, path: str) -> bytes | None:
        """One file's content at `at`, or None if it does not exist there."""
        return self.read(at, [path])[path]

    def _cat_blobs(self, specs: list[str], keys: list[str]) -> dict[str, bytes | None]:
        if not specs:
            return {}
        if any("\n" in s for s in specs):  # cat-file's batch protocol is line-based
            return {k: self._show_one(s) for k, s in zip(keys, specs)}
        out = self.git("cat-file", "--batch", what="read files from git", input="".join(s + "\n" for s in specs).encode())
        result: dict[str, bytes | None] = {}
        pos = 0
        for key in keys:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                result[key] = out[pos:pos + size]
                pos += size + 1
            else:  # "<spec> missing", or a tree/submodule where a file was expected
                if len(header) == 3:
                    pos += int(header[2]) + 1
                result[key] = None
        return result

    def _show_one(self, spec: str) -> bytes | None:
        proc = _run(self.root, "show", spec)
        return proc.stdout if proc.returncode == 0 else None


@dataclasses.dataclass
class _Pending:  # a file section of a patch while it is being parsed
    old: str
    new: str
    status: str = "modified"
    lines: set[int] = dataclasses.field(default_factory=set)

    def change(self) -> FileChange:
        if self.status == "deleted":
            return FileChange(self.old, self.old, "deleted", frozenset())
        status = "renamed" if self.status == "modified" and self.old != self.new else self.status
        return FileChange(self.new, None if status == "added" else self.old, status, frozenset(self.lines))


def parse_diff(patch: bytes) -> list[FileChange]:
    """Parse `git diff --unified=0` output into FileChanges (paths from the ---/+++/rename lines)."""
    changes: list[FileChange] = []
    state: _Pending | None = None
    for raw in patch.split(b"\n"):
        if raw.startswith(b"diff --git "):
            if state is not None:
                changes.append(state.change())
            state = _Pending(*_header_paths(raw[len(b"diff --git "):]))
        elif state is None:
            continue
        elif raw.startswith(b"@@"):
            match = _HUNK.match(raw)
            if match:
                start, count = int(match.group(1)), int(match.group(2) or b"1")
                state.lines.update(range(start, start + count))
        elif raw.startswith(b"new file mode"):
            state.status = "added"
        elif raw.startswith(b"deleted file mode"):
            state.status = "deleted"
        elif raw.startswith(b"rename from "):
            state.old = _unquote(raw[len(b"rename from "):])
        elif raw.startswith(b"rename to "):
            state.new = _unquote(raw[len(b"rename to "):])
        elif raw.startswith(b"--- ") and raw != b"--- /dev/null":
            state.old = _unquote(raw[4:]).removeprefix("a/")
        elif raw.startswith(b"+++ ") and raw != b"+++ /dev/null":
            state.new = _unquote(raw[4:]).removeprefix("b/")
    if state is not None:
        changes.append(state.change())
    return changes


def _header_paths(rest: bytes) -> tuple[str, str]:
    """Paths from `a/X b/Y` on a `diff --git` line; exact for unquoted equal halves, and the
    ---/+++/rename lines that follow override it in every other case that carries content."""
    if rest.startswith(b'"'):
        end = rest.index(b'"', 1)
        while rest[end - 1:end] == b"\\":
            end = rest.index(b'"', end + 1)
        old, new = _unquote(rest[:end + 1]), _unquote(rest[end + 2:])
    else:
        half = (len(rest) - 1) // 2
        if rest[half:half + 1] == b" " and rest[2:half] == rest[half + 3:]:
            old, new = os.fsdecode(rest[:half]), os.fsdecode(rest[half + 1:])
        else:
            old, _, new = os.fsdecode(rest).partition(" b/")
            new = "b/" + new
    return old.removeprefix("a/"), new.removeprefix("b/")


def _unquote(raw: bytes) -> str:
    raw = raw.rstrip(b"\r")
    if raw.startswith(b'"') and raw.endswith(b'"'):  # git's C-style quoting of unusual names
        raw = codecs.escape_decode(raw[1:-1])[0]
    return os.fsdecode(raw)


def _git_executable() -> str:
    exe = shutil.which("git")
    if exe is None:
        raise TrustcheckError(
            "git is not installed or not on PATH; the CI gate and --diff need it to see what a change touches",
            hint="install git (apt-get install git, brew install git, ...) or run `trustcheck scan PATHS` on files instead",
        )
    return exe


def _run(cwd: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        return subprocess.run([_git_executable(), "-c", "core.quotePath=false", *args], cwd=cwd, input=input,
                              capture_output=True, env=env, check=False)
    except FileNotFoundError as exc:
        if not cwd.exists():
            raise TrustcheckError(f"{cwd} does not exist") from exc
        raise TrustcheckError("git could not be started", hint="check that git is installed and on PATH") from exc


def _git(cwd: Path, *args: str, what: str, input: bytes | None = None) -> bytes:
    proc = _run(cwd, *args, input=input)
    if proc.returncode == 0:
        return proc.stdout
    err = proc.stderr.decode("utf-8", "replace").strip()
    if "not a git repository" in err:
        raise TrustcheckError(
            f"{cwd} is not inside a git repository, so there is no change to judge",
            hint="run from a clone of the repository (in CI: a checkout step first), or use `trustcheck scan PATHS`",
        )
    if "dubious ownership" in err:
        raise TrustcheckError(
            f"git refuses to read {cwd}: it is owned by another user",
            hint=f"mark it safe: `git config --global --add safe.directory {cwd}`",
        )
    raise TrustcheckError(f"git could not {what}: {err.splitlines()[-1] if err else f'exit {proc.returncode}'}")
