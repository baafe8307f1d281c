"""Issue #15: the pre-push hook on hostile repositories (items 7, 8, 12, 13), pushing to a real bare remote.

Each test failed before the fixes: the hook read the working tree's pyproject.toml, skipped a card
with control characters as "binary", recursed into itself when chained, said a non-executable old
hook "runs first", had no ``uninstall``, and ended in an internal error on deep JSON or a file name
that is not UTF-8.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_process import BAD, GOOD, ROOT, body_of, cs
from git_repo import git, isolate_git

DEEP = "[" * 100_000 + "]" * 100_000


def clean_exit(proc: subprocess.CompletedProcess[bytes]) -> str:
    """stderr as text, asserting it holds no traceback or internal error."""
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err and "RecursionError" not in err, err
    if proc.returncode == 2:
        assert len(err.strip().splitlines()) == 1, err
    return err


# --------------------------------------------------------------------------------------------------
# Git helpers (a real repository pushing to a real local bare remote)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    isolate_git(tmp_path / "home", monkeypatch)
    # the hook runs cardsmith with this interpreter: make it import the code under test
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return dict(os.environ)


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    git(work, "config", "user.name", "Card Tester")
    git(work, "config", "user.email", "tester@example.com")
    git(work, "config", "commit.gpgsign", "false")
    git(work, "remote", "add", "origin", str(remote))
    (work / "code.py").write_text("print('hello')\n", encoding="utf-8")
    git(work, "add", "code.py")
    git(work, "commit", "-q", "-m", "initial")
    return work


def commit(repo: Path, rel: str | bytes, data: str | bytes) -> None:
    path = repo / os.fsdecode(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")


def install(repo: Path) -> str:
    proc = cs("hook", "install", "--repo", repo)
    err = clean_exit(proc)
    assert proc.returncode == 0, err
    return proc.stdout.decode() + err


def push(repo: Path, timeout: float = 120) -> tuple[int, str]:
    proc = git(repo, "push", "origin", "main", check=False, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def hooks(repo: Path) -> Path:
    return repo / ".git" / "hooks"


# --------------------------------------------------------------------------------------------------
# 7, 8, 13. the hook
# --------------------------------------------------------------------------------------------------


def test_07_hook_uses_the_pushed_pyproject_not_the_working_tree(repo: Path) -> None:
    install(repo)
    commit(repo, "README.md", BAD)
    (repo / "pyproject.toml").write_text(
        '[tool.cardsmith]\nignore = ["loss-equals-metric"]\n', encoding="utf-8"
    )
    code, out = push(repo)
    assert code != 0, out
    assert "loss-equals-metric" in out


def test_07_hook_honours_a_committed_pyproject(repo: Path) -> None:
    install(repo)
    commit(repo, "pyproject.toml", '[tool.cardsmith]\nignore = ["loss-equals-metric"]\n')
    commit(repo, "README.md", BAD)
    (repo / "pyproject.toml").unlink()  # deleted in the working tree, still in the pushed commit
    code, out = push(repo)
    assert code == 0, out


def test_08_control_characters_do_not_make_a_card_binary(repo: Path) -> None:
    install(repo)
    hostile = "<!-- " + "".join(chr(c) for c in (1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16)) * 46 + " -->\n"
    commit(repo, "README.md", hostile + body_of(BAD))
    code, out = push(repo)
    assert code != 0, out
    assert "loss-equals-metric" in out


def test_13_a_chained_cardsmith_hook_does_not_recurse(repo: Path) -> None:
    install(repo)
    shutil.copy(hooks(repo) / "pre-push", hooks(repo) / "pre-push.cardsmith-chained")
    commit(repo, "README.md", GOOD)
    code, out = push(repo, timeout=60)
    assert code == 0, out


def test_13_a_non_executable_old_hook_is_reported_truthfully(repo: Path) -> None:
    old = hooks(repo) / "pre-push"
    old.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    old.chmod(0o644)
    said = install(repo)
    assert "runs first" not in said
    assert "not executable" in said
    commit(repo, "README.md", GOOD)
    code, out = push(repo)
    assert code == 0, out  # git would not have run it either


def test_13_hook_uninstall_restores_the_old_hook(repo: Path) -> None:
    old = hooks(repo) / "pre-push"
    old.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    old.chmod(0o755)
    install(repo)
    assert old.read_text(encoding="utf-8") != "#!/bin/sh\nexit 0\n"
    proc = cs("hook", "uninstall", "--repo", repo)
    err = clean_exit(proc)
    assert proc.returncode == 0, err
    assert old.read_text(encoding="utf-8") == "#!/bin/sh\nexit 0\n"
    assert os.access(old, os.X_OK)
    assert not (hooks(repo) / "pre-push.cardsmith-chained").exists()
    commit(repo, "README.md", BAD)
    code, out = push(repo)
    assert code == 0, out  # cardsmith no longer runs


def test_13_hook_uninstall_without_a_hook_says_so(repo: Path) -> None:
    proc = cs("hook", "uninstall", "--repo", repo)
    err = clean_exit(proc)
    assert proc.returncode == 0, err
    assert "no cardsmith" in (proc.stdout.decode() + err).lower()


def test_12_deep_json_in_a_pushed_commit(repo: Path) -> None:
    install(repo)
    commit(repo, "config.json", DEEP)
    commit(repo, "README.md", GOOD)
    code, out = push(repo)
    assert "internal error" not in out and "RecursionError" not in out, out
    assert code == 0, out  # the card is fine; an unreadable config.json only goes unused


def test_12_non_utf8_folder_names_in_a_push(repo: Path) -> None:
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse non-UTF-8 names")
    install(repo)
    commit(repo, b"caf\xe9/README.md", BAD)
    code, out = push(repo)
    assert code != 0, out
    assert "internal error" not in out, out
    assert "loss-equals-metric" in out
