"""Clear errors and exit code 2 when the gate cannot judge the change."""

from __future__ import annotations

from trustcheck.cli import main


def test_missing_base_ref(repo, capsys):
    repo.commit_files({"app.py": "x = 1\n"})
    assert main(["ci"]) == 2  # default base origin/HEAD does not exist in a fresh repo
    err = capsys.readouterr().err
    assert "'origin/HEAD' does not exist" in err and "hint:" in err


def test_shallow_clone_says_fetch_depth_0(repo, tmp_path, capsys, monkeypatch):
    for i in range(3):
        repo.commit_files({"app.py": f"x = {i}\n"})
    clone = tmp_path / "clone"
    repo.git("clone", "-q", "--depth=1", "--no-local", str(repo.root), str(clone))
    monkeypatch.chdir(clone)
    monkeypatch.setenv("GITHUB_BASE_REF", "feature")
    assert main(["ci"]) == 2
    err = capsys.readouterr().err
    assert "origin/feature" in err and "shallow" in err and "fetch-depth: 0" in err


def test_not_a_repository(git_env, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["ci", "--base", "main"]) == 2
    assert "not inside a git repository" in capsys.readouterr().err


def test_git_not_installed(git_env, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert main(["ci", "--base", "main"]) == 2
    assert "git is not installed" in capsys.readouterr().err


def test_dirty_tree_is_refused_with_what_it_means(repo, capsys):
    repo.commit_files({"app.py": "x = 1\n"})
    repo.git("checkout", "-qb", "pr")
    repo.write("app.py", "x = 2\n")
    assert main(["ci", "--base", "main"]) == 2
    err = capsys.readouterr().err
    assert "uncommitted changes (app.py)" in err and "would not be checked" in err
    assert main(["ci", "--base", "main", "--allow-dirty"]) == 0


def test_no_common_ancestor(repo, capsys):
    repo.commit_files({"app.py": "x = 1\n"})
    repo.git("checkout", "-q", "--orphan", "other")
    repo.commit_files({"b.py": "y = 1\n"})
    assert main(["ci", "--base", "main"]) == 2
    assert "no common ancestor" in capsys.readouterr().err


def test_default_base_falls_back_to_origin_main(repo, capsys):
    repo.commit_files({"app.py": "x = 1\n"})
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    repo.git("checkout", "-qb", "pr")
    repo.commit_files({"app.py": "x = 2\n"})
    assert main(["ci"]) == 0  # no origin/HEAD (actions/checkout does not create it): origin/main is used
    assert capsys.readouterr().err == ""
