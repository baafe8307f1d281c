"""The git pre-push hook: audit the model cards a push changes, as they are in the pushed commits.

``cardsmith hook install`` writes a small ``pre-push`` shell script into the repository's hooks
folder (``git rev-parse --git-path hooks``, so ``core.hooksPath`` is respected). The script

1. runs a pre-push hook that was there before (kept as ``pre-push.cardsmith-chained``) with the same
   arguments and standard input, and refuses the push when it fails;
2. runs ``<python> -m cardsmith hook run <remote> <url>`` with the interpreter cardsmith was installed
   with (falling back to ``cardsmith`` on ``PATH``), which calls :func:`run_pre_push`.

:func:`run_pre_push` reads the refs git passes on standard input
(``<local ref> <local sha> <remote ref> <remote sha>``), finds the card files each push changes
(``README.md``, other ``*.md`` files with model-card front matter, or the globs in the git config
``cardsmith.cards``), reads them from the pushed commit with ``git cat-file`` (never from the working
tree), audits them offline and returns 1 when any card has an error-severity finding or cannot be
read. ``git push --no-verify`` skips the check.

Git configuration read by the hook (all optional)::

    git config --add cardsmith.cards 'models/*/card.md'   # which files are cards (fnmatch; replaces the default)
    git config cardsmith.ignore 'table-truncated,frozen-metric'
    git config cardsmith.select 'loss-equals-metric'
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from cardsmith.errors import CardsmithError, HookError, NotACardError
from cardsmith.card.io import atomic_write_text
from cardsmith.card.io import MAX_CARD_BYTES

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.audit.report import AuditReport

#: Name of the hook git runs before a push.
HOOK_NAME = "pre-push"
#: Where an existing pre-push hook is kept; ours runs it first.
CHAINED_NAME = "pre-push.cardsmith-chained"
#: Marker line that identifies a hook written by cardsmith (re-installing replaces only such a file).
MARKER = "# cardsmith pre-push hook"
#: Front-matter keys that make a Markdown file a model card (besides README.md, always a candidate).
CARD_KEYS = frozenset(
    {"model-index", "model_index", "base_model", "library_name", "pipeline_tag", "datasets", "license"}
)
#: Most seconds one git command may take inside the hook.
GIT_TIMEOUT_S = 120

_ZERO_RE = re.compile(r"^0+$")
_FRONT_MATTER_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


# --------------------------------------------------------------------------------------------------
# git plumbing
# --------------------------------------------------------------------------------------------------


def _git(
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


def _out(args: list[str], *, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    return _git(args, cwd=cwd, stdin=stdin).stdout.decode("utf-8", "surrogateescape")


def _is_zero(sha: str) -> bool:
    return bool(_ZERO_RE.match(sha))


def hooks_dir(repo: Path) -> Path:
    """The folder git runs hooks from (``core.hooksPath`` when set), as an absolute path."""
    repo = Path(repo)
    if not repo.is_dir():
        raise HookError(f"{repo}: no such folder")
    probe = _git(["rev-parse", "--git-dir"], cwd=repo, check=False)
    if probe.returncode != 0:
        raise HookError(f"{repo} is not a git repository")
    rel = _out(["rev-parse", "--git-path", "hooks"], cwd=repo).strip()
    path = Path(rel)
    return (path if path.is_absolute() else repo / path).resolve()


# --------------------------------------------------------------------------------------------------
# install
# --------------------------------------------------------------------------------------------------


def hook_script(python: str | None = None) -> str:
    """The ``pre-push`` script: chain an earlier hook, then run ``cardsmith hook run`` on the refs."""
    py = shlex.quote(python or sys.executable)
    return f"""#!/bin/sh
{MARKER} (written by `cardsmith hook install`; re-run it to update this file).
# Audits the model cards changed by a push, as they are in the pushed commits, and refuses the
# push when a card has an error-severity finding. `git push --no-verify` skips this check.
# A pre-push hook that was here before is kept as {CHAINED_NAME} and runs first.

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
    atomic_write_text(target, hook_script(python))
    target.chmod(target.stat().st_mode | 0o755)
    if cards:
        repo_path = Path(repo)
        _git(["config", "--unset-all", "cardsmith.cards"], cwd=repo_path, check=False)
        for glob in cards:
            _git(["config", "--add", "cardsmith.cards", glob], cwd=repo_path)
    return target


# --------------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------------


@dataclass
class HookConfig:
    """What the hook reads from ``git config cardsmith.*``."""

    cards: list[str] = field(default_factory=list)
    select: list[str] | None = None
    ignore: list[str] | None = None


def _split_names(values: list[str]) -> list[str] | None:
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return names or None


def read_config(cwd: Path | None = None) -> HookConfig:
    """The hook's settings from ``git config`` (``cardsmith.cards``, ``.select``, ``.ignore``)."""
    proc = _git(["config", "-z", "--get-regexp", r"^cardsmith\."], cwd=cwd, check=False)
    values: dict[str, list[str]] = {}
    for entry in proc.stdout.decode("utf-8", "replace").split("\0"):
        if not entry:
            continue
        key, _, value = entry.partition("\n")
        values.setdefault(key.lower(), []).append(value)
    return HookConfig(
        cards=[v for v in values.get("cardsmith.cards", []) if v.strip()],
        select=_split_names(values.get("cardsmith.select", [])),
        ignore=_split_names(values.get("cardsmith.ignore", [])),
    )


@dataclass(frozen=True)
class PushedRef:
    """One line of the pre-push hook's standard input."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def is_deletion(self) -> bool:
        return _is_zero(self.local_sha)

    @property
    def is_new(self) -> bool:
        return _is_zero(self.remote_sha)


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


def _commit_of(sha: str, cwd: Path | None) -> str | None:
    """The commit ``sha`` names (tags peeled); ``None`` when it is not known locally or not a commit."""
    proc = _git(["rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}"], cwd=cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def _paths(output: str) -> set[str]:
    return {p for p in output.split("\0") if p}


def changed_paths(ref: PushedRef, remote: str | None, cwd: Path | None = None) -> tuple[str, set[str]]:
    """The pushed commit and the paths the push changes on the remote.

    Against the remote's current commit when it is known locally. For a new branch (or a remote
    commit not known here): every path touched by the commits the remote does not have yet
    (``git rev-list <local> --not --remotes=<remote>``), and the whole tree when none of the pushed
    history is known to be on the remote.
    """
    local = _commit_of(ref.local_sha, cwd)
    if local is None:  # a tag of a tree or blob: no cards to read
        return "", set()
    base = None if ref.is_new else _commit_of(ref.remote_sha, cwd)
    if base is not None:
        return local, _paths(_out(["diff", "--name-only", "-z", "--no-renames", base, local], cwd=cwd))
    exclude = ["--not", f"--remotes={remote}"] if remote else []
    listing = _out(["rev-list", "--boundary", local, *exclude], cwd=cwd).split()
    commits = [sha for sha in listing if not sha.startswith("-")]
    if not commits:  # the remote already has every commit
        return local, set()
    if not any(sha.startswith("-") for sha in listing):  # nothing in common with the remote
        return local, _paths(_out(["ls-tree", "-r", "-z", "--name-only", "--full-tree", local], cwd=cwd))
    out = _out(
        ["diff-tree", "--stdin", "-r", "-z", "--name-only", "--no-commit-id", "--root", "-m", "--no-renames"],
        cwd=cwd,
        stdin="".join(f"{sha}\n" for sha in commits).encode(),
    )
    return local, _paths(out)


@dataclass(frozen=True)
class TreeFile:
    path: str
    mode: str
    sha: str
    size: int


def _tree_files(commit: str, cwd: Path | None) -> dict[str, TreeFile]:
    """Regular files of ``commit``'s tree with their blob sha and size (symlinks, submodules skipped)."""
    out = _out(["ls-tree", "-r", "-z", "-l", "--full-tree", commit], cwd=cwd)
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


def _read_blobs(shas: list[str], cwd: Path | None) -> dict[str, bytes]:
    """Contents of blobs by sha, in one ``git cat-file --batch``."""
    if not shas:
        return {}
    unique = list(dict.fromkeys(shas))
    data = _git(["cat-file", "--batch"], cwd=cwd, stdin="".join(f"{s}\n" for s in unique).encode()).stdout
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


def is_readme(path: str) -> bool:
    """``README.md`` in any folder (case-insensitive), the file the Hub shows as the model card."""
    return path.rsplit("/", 1)[-1].lower() == "readme.md"


def has_card_front_matter(data: bytes) -> bool:
    """True when a Markdown file opens with YAML front matter that has a model-card key."""
    head = data[:65536].lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace").replace("\r\n", "\n")
    if not head.startswith("---\n"):
        return False
    end = head.find("\n---", 4)
    block = head[4:] if end < 0 else head[4:end]
    return any(m.group(1) in CARD_KEYS for m in _FRONT_MATTER_KEY_RE.finditer(block))


@dataclass
class CardOutcome:
    """One audited card of one pushed commit: its report, or why it could not be read."""

    path: str
    commit: str
    report: AuditReport | None = None
    failure: str | None = None
    not_a_card: bool = False


def audit_blob(path: str, data: bytes, *, commit: str, config: HookConfig) -> CardOutcome:
    """Parse and audit one card's bytes; a card that cannot be read is a failure with its reason."""
    from cardsmith.audit.engine import audit_card
    from cardsmith.card.io import decode_text
    from cardsmith.card.parse import parse_card

    source = f"{path} (in {commit[:12]})"
    try:
        text = decode_text(data, source=source)
    except CardsmithError as exc:
        return CardOutcome(path=path, commit=commit, failure=" ".join(str(exc).split()))
    try:
        card = parse_card(text)
        report = audit_card(card, select=config.select, ignore=config.ignore, path=path)
    except NotACardError as exc:
        return CardOutcome(path=path, commit=commit, failure=" ".join(str(exc).split()), not_a_card=True)
    except CardsmithError as exc:
        return CardOutcome(path=path, commit=commit, failure=" ".join(str(exc).split()))
    return CardOutcome(path=path, commit=commit, report=report)


def select_cards(
    candidates: set[str], files: dict[str, TreeFile], config: HookConfig, cwd: Path | None
) -> tuple[list[TreeFile], dict[str, bytes]]:
    """The card files among the changed paths that still exist in the pushed tree, and their bytes."""
    present = [files[p] for p in sorted(candidates) if p in files]
    if config.cards:
        chosen = [f for f in present if any(fnmatch.fnmatchcase(f.path, g) for g in config.cards)]
        return chosen, _read_blobs([f.sha for f in chosen if f.size <= MAX_CARD_BYTES], cwd)
    md = [f for f in present if f.path.lower().endswith(".md")]
    blobs = _read_blobs([f.sha for f in md if f.size <= MAX_CARD_BYTES], cwd)
    chosen = [
        f for f in md if is_readme(f.path) or (f.sha in blobs and has_card_front_matter(blobs[f.sha]))
    ]
    return chosen, blobs


def _audit_ref(
    ref: PushedRef, remote: str | None, config: HookConfig, cwd: Path | None, seen: set[tuple[str, str]]
) -> list[CardOutcome]:
    commit, candidates = changed_paths(ref, remote, cwd)
    if not commit or not candidates:
        return []
    chosen, blobs = select_cards(candidates, _tree_files(commit, cwd), config, cwd)
    outcomes: list[CardOutcome] = []
    for item in chosen:
        if (commit, item.path) in seen:
            continue
        seen.add((commit, item.path))
        data = blobs.get(item.sha)
        if data is None:
            reason = "cannot read the file"
            if item.size > MAX_CARD_BYTES:
                reason = (f"{item.path} is {item.size / 1048576:.1f} MiB; cards larger than "
                          f"{MAX_CARD_BYTES // 1048576} MiB are not read")
            outcomes.append(CardOutcome(path=item.path, commit=commit, failure=reason))
            continue
        outcome = audit_blob(item.path, data, commit=commit, config=config)
        if outcome.not_a_card and not config.cards and not has_card_front_matter(data):
            # A README.md that is no model card at all (a project's README): not ours to refuse.
            click.echo(f"cardsmith: {item.path}: skipped ({outcome.failure})", err=True)
            continue
        outcomes.append(outcome)
    return outcomes


def run_pre_push(
    stdin: IO[str] | Iterable[str],
    *,
    remote: str | None = None,
    url: str | None = None,
    cwd: Path | None = None,
) -> int:
    """The hook itself: audit the cards each pushed ref changes; 1 refuses the push, 0 lets it go.

    ``stdin`` carries git's ``<local ref> <local sha> <remote ref> <remote sha>`` lines; ``remote`` and
    ``url`` are the hook's two arguments. Deleted refs are skipped. Each card is read from the pushed
    commit, so what is audited is exactly what the remote receives. Findings go to standard output,
    the verdict to standard error.
    """
    refs = parse_refs(stdin)
    config = read_config(cwd)
    seen: set[tuple[str, str]] = set()
    outcomes = [o for ref in refs if not ref.is_deletion for o in _audit_ref(ref, remote, config, cwd, seen)]
    if not outcomes:
        return 0
    reports = [o.report for o in outcomes if o.report is not None]
    if reports:
        from cardsmith.cli.formats.text import print_reports

        print_reports(reports, "text")
    failures = [o for o in outcomes if o.failure is not None]
    for o in failures:
        click.echo(f"cardsmith: {o.path} (in {o.commit[:12]}) cannot be read as a model card: {o.failure}",
                   err=True)
    errors = sum(len(r.errors) for r in reports)
    bad = sum(1 for r in reports if r.has_errors) + len(failures)
    where = f" to {remote}" if remote else ""
    if bad:
        click.echo(
            f"cardsmith: push{where} refused: {bad} of {len(outcomes)} card(s) have errors "
            f"({errors} error finding(s), {len(failures)} unreadable). Fix the card(s) and commit, "
            "or skip this check with 'git push --no-verify'.",
            err=True,
        )
        return 1
    click.echo(f"cardsmith: {len(outcomes)} card(s) audited, no errors", err=True)
    return 0
