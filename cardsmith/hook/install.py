"""``cardsmith hook install``: write the pre-push hook script, keeping (and chaining) an existing one."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path

from cardsmith.card.io import atomic_write_text
from cardsmith.errors import HookError
from cardsmith.hook.git import git, git_out

#: Name of the hook git runs before a push.
HOOK_NAME = "pre-push"


#: Where an existing pre-push hook is kept; ours runs it first.
CHAINED_NAME = "pre-push.cardsmith-chained"


#: Marker line that identifies a hook written by cardsmith (re-installing replaces only such a file).
MARKER = "# cardsmith pre-push hook"


def hooks_dir(repo: Path) -> Path:
    """The folder git runs hooks from (``core.hooksPath`` when set), as an absolute path."""
    repo = Path(repo)
    if not repo.is_dir():
        raise HookError(f"{repo}: no such folder")
    probe = git(["rev-parse", "--git-dir"], cwd=repo, check=False)
    if probe.returncode != 0:
        raise HookError(f"{repo} is not a git repository")
    rel = git_out(["rev-parse", "--git-path", "hooks"], cwd=repo).strip()
    path = Path(rel)
    return (path if path.is_absolute() else repo / path).resolve()


def hook_script(python: str | None = None) -> str:
    """The ``pre-push`` script: chain an earlier hook, then run ``cardsmith hook run`` on the refs."""
    py = shlex.quote(python or sys.executable)
    return f"""#!/bin/sh
{MARKER} (written by `cardsmith hook install`; re-run it to update this file).
# Audits the model cards changed by a push, as they are in the pushed commits, and refuses the
# push when a card has an error-severity finding. `git push --no-verify` skips this check.
# A pre-push hook that was here before is kept as {CHAINED_NAME} and runs first.

# A chained hook that is itself cardsmith's (a copy of this file) would run this script again, and
# again: the variable marks a run in progress, and a nested run has nothing more to do.
if [ -n "${{CARDSMITH_PRE_PUSH_RUNNING:-}}" ]; then
    exit 0
fi
CARDSMITH_PRE_PUSH_RUNNING=1
export CARDSMITH_PRE_PUSH_RUNNING

refs=$(mktemp "${{TMPDIR:-/tmp}}/cardsmith-pre-push.XXXXXX") || exit 1
trap 'rm -f "$refs"' EXIT
cat >"$refs"

chained="$(dirname "$0")/{CHAINED_NAME}"
if [ -f "$chained" ] && [ -x "$chained" ]; then
    "$chained" "$@" <"$refs" || {{
        status=$?
        echo "cardsmith: the chained pre-push hook ($chained) failed (exit $status); push refused" >&2
        exit $status
    }}
fi

python={py}
if [ -x "$python" ] && "$python" -c 'import importlib.util, sys; \
sys.exit(importlib.util.find_spec("cardsmith") is None)' 2>/dev/null; then
    "$python" -m cardsmith hook run "$@" <"$refs"
elif command -v cardsmith >/dev/null 2>&1; then
    cardsmith hook run "$@" <"$refs"
else
    echo "cardsmith: not found (was $python); reinstall cardsmith and run 'cardsmith hook install'," >&2
    echo "cardsmith: or skip this check with 'git push --no-verify'" >&2
    exit 1
fi
"""


def _is_ours(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return MARKER.encode() in head


def install_hook(repo: Path, *, python: str | None = None, cards: Iterable[str] | None = None) -> Path:
    """Install the cardsmith ``pre-push`` hook in ``repo``; returns the hook's path.

    An existing pre-push hook that cardsmith did not write is moved to ``pre-push.cardsmith-chained``
    and still runs first (with the same arguments and input). Installing again only refreshes our
    script (idempotent). Nothing is ever overwritten: when both a foreign ``pre-push`` and a chained
    hook exist, installation stops with an error. ``cards`` (fnmatch globs) are stored in the git
    config ``cardsmith.cards`` and replace the default choice of card files.
    """
    folder = hooks_dir(repo)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HookError(f"cannot create {folder}: {exc.strerror or exc}") from None
    target = folder / HOOK_NAME
    chained = folder / CHAINED_NAME
    if (target.exists() or target.is_symlink()) and not _is_ours(target):
        if chained.exists() or chained.is_symlink():
            raise HookError(
                f"{target} exists and so does {chained}; move one of them away and run "
                "'cardsmith hook install' again (nothing was changed)"
            )
        try:
            os.replace(target, chained)
        except OSError as exc:
            raise HookError(f"cannot move {target} to {chained}: {exc.strerror or exc}") from None
    if target.is_symlink():
        target.unlink()  # ours, through a link: replace the link, not the file it points at
    atomic_write_text(target, hook_script(python))
    target.chmod(target.stat().st_mode | 0o755)
    if cards:
        repo_path = Path(repo)
        git(["config", "--unset-all", "cardsmith.cards"], cwd=repo_path, check=False)
        for glob in cards:
            git(["config", "--add", "cardsmith.cards", glob], cwd=repo_path)
    return target


def chained_state(folder: Path) -> str | None:
    """What becomes of the kept hook: ``"runs"``, ``"not-executable"`` (git did not run it before,
    and cardsmith's hook does not either), ``"ours"`` (a copy of cardsmith's hook: skipped), or
    None when there is none."""
    chained = folder / CHAINED_NAME
    if not (chained.exists() or chained.is_symlink()):
        return None
    if _is_ours(chained):
        return "ours"
    return "runs" if chained.is_file() and os.access(chained, os.X_OK) else "not-executable"


def uninstall_hook(repo: Path) -> tuple[Path, Path | None] | None:
    """Remove cardsmith's ``pre-push`` hook from ``repo`` and put back the hook it kept, if any.

    Returns ``(hook path, restored path or None)``, or None when no cardsmith hook is installed (a
    foreign ``pre-push`` is never touched).
    """
    folder = hooks_dir(repo)
    target = folder / HOOK_NAME
    chained = folder / CHAINED_NAME
    if not (target.exists() or target.is_symlink()) or not _is_ours(target):
        return None
    try:
        target.unlink()
        if (chained.exists() or chained.is_symlink()) and not _is_ours(chained):
            os.replace(chained, target)
            return target, target
        if chained.exists() or chained.is_symlink():
            chained.unlink()  # a copy of our own hook: nothing to restore
    except OSError as exc:
        raise HookError(f"cannot restore the hook in {folder}: {exc.strerror or exc}") from None
    return target, None
