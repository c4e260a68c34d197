from __future__ import annotations

from pathlib import Path

import pytest

from trustcheck.errors import TrustcheckError
from trustcheck.git import INDEX, WORKTREE, FileChange, Repo, parse_diff


def test_changes_report_added_and_modified_head_lines(repo):
    base = repo.commit_files({"a.py": "1\n2\n3\n4\n", "old name.py": "x\n", "gone.py": "g\n"})
    repo.git("checkout", "-qb", "pr")
    repo.git("mv", "old name.py", "new name.py")
    repo.git("rm", "-q", "gone.py")
    head = repo.commit_files({"a.py": "1\nTWO\n3\n4\n5\n", "new.py": "n\nm\n"})
    changes = {c.path: c for c in Repo.discover(".").changes(base, head)}
    assert changes["a.py"] == FileChange("a.py", "a.py", "modified", frozenset({2, 5}))
    assert changes["new.py"].status == "added" and changes["new.py"].added_lines == {1, 2}
    assert changes["new name.py"] == FileChange("new name.py", "old name.py", "renamed", frozenset())
    assert changes["gone.py"].status == "deleted"


def test_staged_and_worktree_sides(repo):
    repo.commit_files({"a.py": "1\n2\n"})
    repo.write("a.py", "1\n2\nstaged\n")
    repo.git("add", "a.py")
    repo.write("a.py", "1\n2\nstaged\nunstaged\n")
    repo.write("untracked.py", "u\n")
    git = Repo.discover(".")
    staged = {c.path: c for c in git.changes("HEAD", INDEX)}
    assert staged["a.py"].added_lines == {3} and "untracked.py" not in staged
    work = {c.path: c for c in git.changes("HEAD", WORKTREE)}
    assert work["a.py"].added_lines == {3, 4} and work["untracked.py"].status == "added"
    assert git.read(INDEX, ["a.py"])["a.py"] == b"1\n2\nstaged\n"
    assert git.dirty_files() == ["a.py"]


def test_read_at_commit_batches_and_reports_missing(repo):
    first = repo.commit_files({"a.py": "one\n", "dir/b.py": "two\n"})
    repo.commit_files({"a.py": "changed\n"})
    got = Repo.discover(".").read(first, ["a.py", "dir/b.py", "missing.py", "dir"])
    assert got == {"a.py": b"one\n", "dir/b.py": b"two\n", "missing.py": None, "dir": None}


def test_touches_uses_added_lines_or_whole_new_file():
    change = FileChange("a.py", "a.py", "modified", frozenset({10}))
    assert change.touches(10) and change.touches(8, 12) and not change.touches(11, 11)
    assert change.touches(1, 500) and not change.touches(11, 500)
    assert FileChange("n.py", None, "added", frozenset()).touches(99)


def test_parse_diff_unquotes_unusual_names():
    patch = (b'diff --git "a/t\\tb.py" "b/t\\tb.py"\nnew file mode 100644\n--- /dev/null\n'
             b'+++ "b/t\\tb.py"\n@@ -0,0 +1,3 @@\n+x\n')
    assert parse_diff(patch) == [FileChange("t\tb.py", None, "added", frozenset({1, 2, 3}))]


def test_missing_ref_says_to_fetch(repo):
    repo.commit_files({"a.py": "x\n"})
    with pytest.raises(TrustcheckError, match="'origin/main' does not exist") as info:
        Repo.discover(".").resolve("origin/main")
    assert "git fetch" in (info.value.hint or "")


def test_shallow_clone_hint_names_fetch_depth(repo, tmp_path):
    for i in range(3):
        repo.commit_files({"a.py": f"{i}\n"})
    clone = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth=1", f"file://{repo.root}", str(clone))
    with pytest.raises(TrustcheckError, match="shallow clone") as info:
        Repo(clone).resolve("HEAD~2")
    assert "fetch-depth: 0" in (info.value.hint or "")


def test_not_a_repository(git_env, tmp_path):
    with pytest.raises(TrustcheckError, match="not inside a git repository"):
        Repo.discover(tmp_path)


def test_git_missing(git_env, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TrustcheckError, match="git is not installed"):
        Repo.discover(Path.cwd())
