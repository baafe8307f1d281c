"""The git pre-push hook, on real git repositories pushing to a real local bare remote."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from git_repo import git, isolate_git
from locations import HARDENING as FIXTURES
from locations import REPO

from cardsmith.cli.app import main
from cardsmith.cli.formats import print_reports
from cardsmith.errors import HookError
from cardsmith.hook.git import parse_refs
from cardsmith.hook.install import CHAINED_NAME, MARKER, hooks_dir, install_hook
from cardsmith.hook.run import run_pre_push

GOOD = (FIXTURES / "good_card.md").read_text(encoding="utf-8")
BAD = (FIXTURES / "loss_equals_metric.md").read_text(encoding="utf-8")
ZERO = "0" * 40


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment with HOME isolated and no system/global git config or inherited GIT_* state."""
    return isolate_git(tmp_path / "home", monkeypatch)


def push(cwd: Path, *args: str) -> tuple[int, str]:
    proc = git(cwd, "push", *args, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def commit_file(repo: Path, rel: str, text: str, message: str) -> str:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(repo, "add", rel)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def repos(tmp_path: Path, git_env: dict[str, str]) -> tuple[Path, Path]:
    """A working repository (branch main, one commit) with a bare remote ``origin``."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    repo = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "config", "user.name", "Card Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "remote", "add", "origin", str(remote))
    commit_file(repo, "src/code.py", "print('hello')\n", "initial")
    return repo, remote


def remote_head(remote: Path, branch: str = "main") -> str | None:
    proc = git(remote, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    return proc.stdout.strip() or None


def write_marker_hook(repo: Path, marker: Path, *, fail: bool = False) -> Path:
    """A user's own pre-push hook: it records its arguments and stdin in ``marker``."""
    hook = hooks_dir(repo) / "pre-push"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        "#!/bin/sh\n"
        f'echo "args: $1 $2" >> "{marker}"\n'
        f'cat >> "{marker}"\n' + ("echo 'user hook says no' >&2\nexit 3\n" if fail else "exit 0\n"),
        encoding="utf-8",
    )
    hook.chmod(0o755)
    return hook


# -- the acceptance scenario ---------------------------------------------------------------------


def test_push_refused_on_error_then_accepted_after_fix_and_existing_hook_still_runs(
    repos: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, remote = repos
    marker = tmp_path / "user-hook-ran.txt"
    write_marker_hook(repo, marker)
    assert main(["hook", "install", "--repo", str(repo)]) == 0
    assert "pre-push" in capsys.readouterr().out

    hook = hooks_dir(repo) / "pre-push"
    assert MARKER in hook.read_text(encoding="utf-8")
    assert sys.executable in hook.read_text(encoding="utf-8")
    assert (hooks_dir(repo) / CHAINED_NAME).is_file()

    bad_sha = commit_file(repo, "README.md", BAD, "card with a copied cell")
    code, out = push(repo, "origin", "main")
    assert code != 0, out
    assert "loss-equals-metric" in out
    assert "--no-verify" in out
    assert remote_head(remote) is None  # nothing reached the remote
    assert marker.exists()
    first = marker.read_text(encoding="utf-8")
    assert f"args: origin {remote}" in first
    assert f"refs/heads/main {bad_sha} refs/heads/main {ZERO}" in first  # same stdin as git gave us

    good_sha = commit_file(repo, "README.md", GOOD, "fix the card")
    code, out = push(repo, "origin", "main")
    assert code == 0, out
    assert "loss-equals-metric" not in out
    assert remote_head(remote) == good_sha
    assert marker.read_text(encoding="utf-8").count("args: origin") == 2


def test_failing_existing_hook_refuses_the_push(repos: tuple[Path, Path], tmp_path: Path) -> None:
    repo, remote = repos
    marker = tmp_path / "marker.txt"
    write_marker_hook(repo, marker, fail=True)
    install_hook(repo)
    commit_file(repo, "README.md", GOOD, "good card")
    code, out = push(repo, "origin", "main")
    assert code != 0
    assert "user hook says no" in out
    assert "chained pre-push hook" in out
    assert marker.exists()
    assert remote_head(remote) is None
    # --no-verify skips every pre-push hook, ours included.
    code, out = push(repo, "--no-verify", "origin", "main")
    assert code == 0, out
    assert remote_head(remote) is not None


def test_audits_the_pushed_commit_not_the_working_tree(repos: tuple[Path, Path]) -> None:
    repo, remote = repos
    install_hook(repo)
    commit_file(repo, "models/a/README.md", BAD, "bad card")
    (repo / "models/a/README.md").write_text(GOOD, encoding="utf-8")  # fixed, but not committed
    code, out = push(repo, "origin", "main")
    assert code != 0 and "loss-equals-metric" in out
    assert "models/a/README.md" in out

    git(repo, "checkout", "-q", "--", "models/a/README.md")
    good = commit_file(repo, "models/a/README.md", GOOD, "fix")
    (repo / "models/a/README.md").write_text(BAD, encoding="utf-8")  # broken, but not committed
    code, out = push(repo, "origin", "main")
    assert code == 0, out
    assert remote_head(remote) == good


def test_only_cards_changed_since_the_remote_are_audited(repos: tuple[Path, Path]) -> None:
    repo, remote = repos
    commit_file(repo, "old/README.md", BAD, "an old bad card")
    code, out = push(repo, "--no-verify", "origin", "main")
    assert code == 0, out
    install_hook(repo)

    # An existing branch: only what changed since the remote's commit is audited.
    commit_file(repo, "new/README.md", GOOD, "a good card")
    code, out = push(repo, "origin", "main")
    assert code == 0, out

    # A new branch: compared against what the remote already has.
    git(repo, "checkout", "-q", "-b", "feature")
    sha = commit_file(repo, "feature/README.md", GOOD, "another good card")
    code, out = push(repo, "origin", "feature")
    assert code == 0, out
    assert remote_head(remote, "feature") == sha

    # A new branch whose new commit touches a bad card is refused.
    git(repo, "checkout", "-q", "-b", "feature2")
    commit_file(repo, "feature/README.md", BAD, "break it")
    code, out = push(repo, "origin", "feature2")
    assert code != 0 and "feature/README.md" in out
    assert remote_head(remote, "feature2") is None

    # Deleting a branch audits nothing.
    code, out = push(repo, "origin", ":feature")
    assert code == 0, out
    assert remote_head(remote, "feature") is None


def test_first_push_to_an_unknown_remote_audits_the_whole_tree(
    repos: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, _ = repos
    commit_file(repo, "deep/er/README.md", BAD, "bad card")
    commit_file(repo, "src/more.py", "x = 1\n", "unrelated")
    other = tmp_path / "other.git"
    git(tmp_path, "init", "-q", "--bare", str(other))
    install_hook(repo)
    code, out = push(repo, str(other), "main")  # a URL, no remote-tracking refs at all
    assert code != 0 and "deep/er/README.md" in out


def test_card_that_cannot_be_parsed_is_refused_with_its_reason(repos: tuple[Path, Path]) -> None:
    repo, remote = repos
    install_hook(repo)
    commit_file(repo, "README.md", "---\nlicense: [mit\nmodel-index: {\n---\n# x\n", "broken yaml")
    code, out = push(repo, "origin", "main")
    assert code != 0
    assert "README.md" in out and "YAML" in out
    assert "Traceback" not in out
    assert remote_head(remote) is None


def test_markdown_with_card_front_matter_is_audited_other_markdown_is_not(repos: tuple[Path, Path]) -> None:
    repo, _ = repos
    install_hook(repo)
    commit_file(repo, "docs/notes.md", BAD.split("---\n", 2)[2], "prose that looks like a table")
    code, out = push(repo, "origin", "main")
    assert code == 0, out  # no model-card front matter: not a card

    commit_file(repo, "cards/bert.md", BAD, "a card under another name")
    code, out = push(repo, "origin", "main")
    assert code != 0 and "cards/bert.md" in out


def test_configured_glob_replaces_the_default_choice(repos: tuple[Path, Path]) -> None:
    repo, _ = repos
    install_hook(repo, cards=["cards/*.md"])
    assert git(repo, "config", "--get-all", "cardsmith.cards").stdout.split() == ["cards/*.md"]
    commit_file(repo, "README.md", BAD, "not a card by configuration")
    code, out = push(repo, "origin", "main")
    assert code == 0, out
    commit_file(repo, "cards/x.md", BAD, "a card by configuration")
    code, out = push(repo, "origin", "main")
    assert code != 0 and "cards/x.md" in out


def test_ignore_from_git_config(repos: tuple[Path, Path]) -> None:
    repo, _ = repos
    install_hook(repo)
    git(repo, "config", "cardsmith.ignore", "loss-equals-metric")
    commit_file(repo, "README.md", BAD, "copied cell, but ignored")
    code, out = push(repo, "origin", "main")
    assert code == 0, out


# -- installation ---------------------------------------------------------------------------------


def test_install_is_idempotent_and_never_clobbers(repos: tuple[Path, Path], tmp_path: Path) -> None:
    repo, _ = repos
    user_hook = write_marker_hook(repo, tmp_path / "m.txt")
    original = user_hook.read_bytes()
    first = install_hook(repo)
    chained = first.parent / CHAINED_NAME
    assert chained.read_bytes() == original
    assert os.stat(chained).st_mode & stat.S_IXUSR
    script = first.read_bytes()
    listing = sorted(p.name for p in first.parent.iterdir())

    assert install_hook(repo) == first  # again: same files, the chained hook untouched
    assert first.read_bytes() == script
    assert chained.read_bytes() == original
    assert sorted(p.name for p in first.parent.iterdir()) == listing
    assert os.stat(first).st_mode & 0o111 == 0o111

    # The user replaces our hook with another one while a chained hook exists: refuse, touch nothing.
    first.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    with pytest.raises(HookError, match="exists"):
        install_hook(repo)
    assert first.read_text(encoding="utf-8") == "#!/bin/sh\nexit 0\n"
    assert chained.read_bytes() == original


def test_install_respects_core_hooks_path(repos: tuple[Path, Path]) -> None:
    repo, _ = repos
    git(repo, "config", "core.hooksPath", ".githooks")
    path = install_hook(repo)
    assert path == (repo / ".githooks" / "pre-push").resolve()
    assert not (repo / ".git" / "hooks" / "pre-push").exists()


def test_install_outside_a_repository_is_a_clear_error(
    tmp_path: Path, git_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["hook", "install", "--repo", str(plain)]) == 2
    err = capsys.readouterr().err
    assert "not a git repository" in err and "Traceback" not in err


# -- run_pre_push in-process ---------------------------------------------------------------------


def test_parse_refs_and_deletions(repos: tuple[Path, Path]) -> None:
    repo, _ = repos
    refs = parse_refs(["refs/heads/a 1111 refs/heads/a 0000\n", "\n"])
    assert len(refs) == 1 and refs[0].is_new and not refs[0].is_deletion
    with pytest.raises(HookError, match="unexpected pre-push input"):
        parse_refs(["garbage\n"])
    # A deletion only: nothing to audit, the push may go.
    assert (
        run_pre_push(
            [f"(delete) {ZERO} refs/heads/x {'1' * 40}\n"],
            remote="origin",
            cwd=repo,
            show=lambda r: print_reports(r, "text"),
        )
        == 0
    )


def test_run_pre_push_in_process_reports_findings(
    repos: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = repos
    sha = commit_file(repo, "README.md", BAD, "bad")
    line = f"refs/heads/main {sha} refs/heads/main {ZERO}\n"
    assert (
        run_pre_push([line], remote="origin", url="unused", cwd=repo, show=lambda r: print_reports(r, "text"))
        == 1
    )
    captured = capsys.readouterr()
    assert "loss-equals-metric" in captured.out + captured.err
    assert "push to origin refused" in captured.err


def test_the_hook_stays_light() -> None:
    """What ``cardsmith hook run`` imports pulls in none of the heavy ML libraries."""
    heavy = ["torch", "transformers", "datasets", "sklearn", "matplotlib", "huggingface_hub"]
    code = (
        "import sys, cardsmith.cli.app, cardsmith.hook.run, cardsmith.card.parse, cardsmith.audit.engine, cardsmith.cli.formats.text\n"
        f"print(sorted(set({heavy!r}) & set(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout


# -- the pre-commit framework ---------------------------------------------------------------------


def test_pre_commit_hooks_yaml() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert hook["id"] == "cardsmith-audit"
    assert hook["entry"] == "cardsmith audit"
    assert hook["language"] == "python"
    assert hook["stages"] == ["pre-commit", "pre-push"]
    assert hook["minimum_pre_commit_version"] == "3.2.0"
    import re

    files = re.compile(hook["files"])
    for path in ["README.md", "models/bert/README.md", "model_card.md", "docs/MODEL-CARD-v2.md"]:
        assert files.search(path), path
    for path in ["README.rst", "docs/guide.md", "READMEXmd", "src/readme.md.bak"]:
        assert not files.search(path), path
