from __future__ import annotations

import os
import subprocess

import pytest

from trustcheck.config import Config, load_config
from trustcheck.discovery import discover

FILES = {
    "app.py": "x = 1\n",
    "web/main.ts": "let x = 1\n",
    "web/view.tsx": "let x = 1\n",
    "tools/deploy": "#!/usr/bin/env bash\necho hi\n",
    "tools/run": "#!/usr/bin/python3\nprint(1)\n",
    "notes.txt": "text\n",
    "build/out.py": "x = 1\n",
    "pkg/.gitignore": "generated_*.py\n!generated_keep.py\n",
    "pkg/generated_a.py": "x = 1\n",
    "pkg/generated_keep.py": "x = 1\n",
    "pkg/go/main.go": "package main\n",
    "node_modules/lib/index.js": "x\n",
    ".gitignore": "build/\n",
}
EXPECTED = {
    "app.py": "python", "web/main.ts": "typescript", "web/view.tsx": "tsx", "tools/deploy": "bash",
    "tools/run": "python", "pkg/generated_keep.py": "python", "pkg/go/main.go": "go",
}


def found(paths: list[str], config: Config | None = None) -> dict[str, str]:
    result = discover(paths, config or Config(root=os.getcwd()))
    assert result.errors == []
    return {f.path.replace(os.sep, "/"): f.language for f in result.files}


def test_walk_without_git_applies_nested_gitignores(tree) -> None:
    tree(FILES)
    assert found([]) == EXPECTED


def test_walk_inside_git_uses_git_ls_files(tree) -> None:
    root = tree(FILES)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "app.py"], cwd=root, check=True)
    assert found(["."]) == EXPECTED
    assert found(["pkg"]) == {"pkg/generated_keep.py": "python", "pkg/go/main.go": "go"}


def test_explicit_files_bypass_gitignore_but_not_exclude(tree) -> None:
    tree(FILES)
    assert found(["build/out.py"]) == {"build/out.py": "python"}
    config = load_config(".", {"exclude": ["build/", "*.tsx"]})
    assert found(["build/out.py", "web"], config) == {"web/main.ts": "typescript"}


def test_config_exclude_relative_to_config_root(tree) -> None:
    root = tree({**FILES, "pyproject.toml": '[tool.trustcheck]\nexclude = ["pkg/go", "tools/*"]\n'})
    config = load_config(root / "web")
    os.chdir(root / "pkg")
    assert found(["."], config) == {"generated_keep.py": "python"}


def test_missing_path_and_symlink_loop_are_errors(tree) -> None:
    root = tree({"ok.py": "x = 1\n"})
    os.symlink("loop_b.py", root / "loop_a.py")
    os.symlink("loop_a.py", root / "loop_b.py")
    os.symlink(".", root / "self_dir")  # a directory loop: never followed
    result = discover([".", "missing.py"], Config(root=str(root)))
    assert [f.path for f in result.files] == ["loop_a.py", "loop_b.py", "ok.py"]  # read later -> error
    assert [(e.path, "no such file" in e.message) for e in result.errors] == [("missing.py", True)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_folder_is_an_error(tree) -> None:
    root = tree({"a/x.py": "x\n"})
    (root / "a").chmod(0)
    try:
        result = discover(["."], Config(root=str(root)))
        assert result.files == [] and "permission denied" in result.errors[0].message
    finally:
        (root / "a").chmod(0o755)
