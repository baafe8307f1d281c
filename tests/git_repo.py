"""Real git repositories for the tests: an isolated git environment and one way to run git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def isolate_git(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """HOME at ``home`` (created), no system or global git config, no inherited ``GIT_*`` state, no
    prompts; the environment that results."""
    home.mkdir(exist_ok=True)
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    return dict(os.environ)


def git(
    cwd: Path, *args: str | bytes, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``cwd``; with ``check``, a failure is an AssertionError with git's output."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        errors="replace",
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc
