"""Git plumbing for the hook: the refs a push sends, the paths it changes, blobs of the pushed tree.

Everything is read from the object database (``git diff-tree``, ``git ls-tree``, ``git cat-file``),
never from the working tree, so what is audited is exactly what the remote receives.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cardsmith.errors import HookError

#: Most seconds one git command may take inside the hook.
GIT_TIMEOUT_S = 120


_ZERO_RE = re.compile(r"^0+$")


def git(
    args: list[str], *, cwd: Path | None = None, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git`` with literal pathspecs; a failure becomes :class:`HookError` when ``check``."""
    env = dict(os.environ, GIT_LITERAL_PATHSPECS="1")
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=env,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise HookError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise HookError(f"git {' '.join(args[:2])} took longer than {GIT_TIMEOUT_S} s") from None
    if check and proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise HookError(f"git {' '.join(args[:2])} failed: {reason[-1] if reason else proc.returncode}")
    return proc


def git_out(args: list[str], *, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    return git(args, cwd=cwd, stdin=stdin).stdout.decode("utf-8", "surrogateescape")


def is_zero_sha(sha: str) -> bool:
    return bool(_ZERO_RE.match(sha))


@dataclass(frozen=True)
class PushedRef:
    """One line of the pre-push hook's standard input."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def is_deletion(self) -> bool:
        return is_zero_sha(self.local_sha)

    @property
    def is_new(self) -> bool:
        return is_zero_sha(self.remote_sha)


def parse_refs(lines: Iterable[str]) -> list[PushedRef]:
    """Read ``<local ref> <local sha> <remote ref> <remote sha>`` lines (blank lines are skipped)."""
    refs: list[PushedRef] = []
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise HookError(f"unexpected pre-push input on line {number}: {line.strip()[:200]!r}")
        refs.append(PushedRef(*parts))
    return refs


def commit_of(sha: str, cwd: Path | None) -> str | None:
    """The commit ``sha`` names (tags peeled); ``None`` when it is not known locally or not a commit."""
    proc = git(["rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}"], cwd=cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def _name_set(output: str) -> set[str]:
    return {p for p in output.split("\0") if p}


def changed_paths(ref: PushedRef, remote: str | None, cwd: Path | None = None) -> tuple[str, set[str]]:
    """The pushed commit and the paths the push changes on the remote.

    Against the remote's current commit when it is known locally. For a new branch (or a remote
    commit not known here): every path touched by the commits the remote does not have yet
    (``git rev-list <local> --not --remotes=<remote>``), and the whole tree when none of the pushed
    history is known to be on the remote.
    """
    local = commit_of(ref.local_sha, cwd)
    if local is None:  # a tag of a tree or blob: no cards to read
        return "", set()
    base = None if ref.is_new else commit_of(ref.remote_sha, cwd)
    if base is not None:
        return local, _name_set(git_out(["diff", "--name-only", "-z", "--no-renames", base, local], cwd=cwd))
    exclude = ["--not", f"--remotes={remote}"] if remote else []
    listing = git_out(["rev-list", "--boundary", local, *exclude], cwd=cwd).split()
    commits = [sha for sha in listing if not sha.startswith("-")]
    if not commits:  # the remote already has every commit
        return local, set()
    if not any(sha.startswith("-") for sha in listing):  # nothing in common with the remote
        return local, _name_set(
            git_out(["ls-tree", "-r", "-z", "--name-only", "--full-tree", local], cwd=cwd)
        )
    out = git_out(
        ["diff-tree", "--stdin", "-r", "-z", "--name-only", "--no-commit-id", "--root", "-m", "--no-renames"],
        cwd=cwd,
        stdin="".join(f"{sha}\n" for sha in commits).encode(),
    )
    return local, _name_set(out)


@dataclass(frozen=True)
class TreeFile:
    path: str
    mode: str
    sha: str
    size: int


def tree_files(commit: str, cwd: Path | None) -> dict[str, TreeFile]:
    """Regular files of ``commit``'s tree with their blob sha and size (symlinks, submodules skipped)."""
    out = git_out(["ls-tree", "-r", "-z", "-l", "--full-tree", commit], cwd=cwd)
    files: dict[str, TreeFile] = {}
    for entry in out.split("\0"):
        if not entry or "\t" not in entry:
            continue
        meta, path = entry.split("\t", 1)
        parts = meta.split()
        if len(parts) != 4 or parts[1] != "blob" or parts[0] not in {"100644", "100755"}:
            continue
        size = int(parts[3]) if parts[3].isdigit() else 0
        files[path] = TreeFile(path=path, mode=parts[0], sha=parts[2], size=size)
    return files


def read_blobs(shas: list[str], cwd: Path | None) -> dict[str, bytes]:
    """Contents of blobs by sha, in one ``git cat-file --batch``."""
    if not shas:
        return {}
    unique = list(dict.fromkeys(shas))
    data = git(["cat-file", "--batch"], cwd=cwd, stdin="".join(f"{s}\n" for s in unique).encode()).stdout
    blobs: dict[str, bytes] = {}
    pos = 0
    for sha in unique:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode("utf-8", "replace").split()
        pos = end + 1
        if len(header) < 3 or header[1] == "missing":
            continue
        size = int(header[2])
        blobs[sha] = data[pos : pos + size]
        pos += size + 1
    return blobs
