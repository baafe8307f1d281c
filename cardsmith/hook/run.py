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
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cardsmith.audit.report import AuditReport
from cardsmith.card.io import MAX_CARD_BYTES
from cardsmith.errors import CardsmithError, NotACardError
from cardsmith.hook.git import (
    PushedRef,
    TreeFile,
    changed_paths,
    git,
    parse_refs,
    read_blobs,
    tree_files,
)

#: Front-matter keys that make a Markdown file a model card (besides README.md, always a candidate).
CARD_KEYS = frozenset(
    {"model-index", "model_index", "base_model", "library_name", "pipeline_tag", "datasets", "license"}
)


_FRONT_MATTER_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


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
    proc = git(["config", "-z", "--get-regexp", r"^cardsmith\."], cwd=cwd, check=False)
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


@dataclass
class TreeSettings:
    """What the pushed tree says about a card beside it: its ``[tool.cardsmith]`` table (the
    nearest ``pyproject.toml`` upwards) and the labels of its ``config.json``. Never the working
    tree: an uncommitted ``pyproject.toml`` must not change what a push is checked against."""

    table: dict[str, list[str]] = field(default_factory=dict)
    num_labels: int | None = None


def tree_settings(card_path: str, files: dict[str, TreeFile], cwd: Path | None) -> TreeSettings:
    """:class:`TreeSettings` of ``card_path`` in a pushed tree (``files``: its regular files)."""
    from cardsmith.audit.config import MAX_PYPROJECT_BYTES
    from cardsmith.audit.engine import MAX_CONFIG_BYTES, labels_of_config, read_config
    from cardsmith.card.io import load_json

    folder = card_path.rsplit("/", 1)[0] if "/" in card_path else ""
    settings = TreeSettings()
    parts = folder.split("/") if folder else []
    for depth in range(len(parts), -1, -1):
        candidate = "/".join([*parts[:depth], "pyproject.toml"])
        found = files.get(candidate)
        if found is not None:
            if found.size <= MAX_PYPROJECT_BYTES:
                data = read_blobs([found.sha], cwd).get(found.sha, b"")
                settings.table = read_config(Path(candidate), data)  # ConfigError: the push is refused
            break
    config = files.get(f"{folder}/config.json" if folder else "config.json")
    if config is not None and config.size <= MAX_CONFIG_BYTES:
        try:
            settings.num_labels = labels_of_config(
                load_json(read_blobs([config.sha], cwd).get(config.sha, b""), source="config.json")
            )
        except CardsmithError:
            settings.num_labels = None  # an unreadable config.json only goes unused
    return settings


def audit_blob(
    path: str, data: bytes, *, commit: str, config: HookConfig, settings: TreeSettings | None = None
) -> CardOutcome:
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
        tree = settings if settings is not None else TreeSettings()
        report = audit_card(
            card,
            select=config.select,
            ignore=config.ignore,
            path=path,
            config=tree.table,
            num_labels=tree.num_labels,
            beside=False,
        )
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
        return chosen, read_blobs([f.sha for f in chosen if f.size <= MAX_CARD_BYTES], cwd)
    md = [f for f in present if f.path.lower().endswith(".md")]
    blobs = read_blobs([f.sha for f in md if f.size <= MAX_CARD_BYTES], cwd)
    chosen = [f for f in md if is_readme(f.path) or (f.sha in blobs and has_card_front_matter(blobs[f.sha]))]
    return chosen, blobs


def _audit_ref(
    ref: PushedRef, remote: str | None, config: HookConfig, cwd: Path | None, seen: set[tuple[str, str]]
) -> list[CardOutcome]:
    commit, candidates = changed_paths(ref, remote, cwd)
    if not commit or not candidates:
        return []
    files = tree_files(commit, cwd)
    chosen, blobs = select_cards(candidates, files, config, cwd)
    outcomes: list[CardOutcome] = []
    for item in chosen:
        if (commit, item.path) in seen:
            continue
        seen.add((commit, item.path))
        data = blobs.get(item.sha)
        if data is None:
            reason = "cannot read the file"
            if item.size > MAX_CARD_BYTES:
                reason = (
                    f"{item.path} is {item.size / 1048576:.1f} MiB; cards larger than "
                    f"{MAX_CARD_BYTES // 1048576} MiB are not read"
                )
            outcomes.append(CardOutcome(path=item.path, commit=commit, failure=reason))
            continue
        try:
            settings = tree_settings(item.path, files, cwd)
        except CardsmithError as exc:
            outcomes.append(CardOutcome(path=item.path, commit=commit, failure=" ".join(str(exc).split())))
            continue
        outcome = audit_blob(item.path, data, commit=commit, config=config, settings=settings)
        if outcome.not_a_card and not config.cards and not has_card_front_matter(data):
            # A README.md that is no model card at all (a project's README): not ours to refuse.
            _say(f"cardsmith: {item.path}: skipped ({outcome.failure})")
            continue
        outcomes.append(outcome)
    return outcomes


def _say(message: str) -> None:
    from cardsmith.card.io import printable  # paths and reasons come from the pushed tree

    print(printable(message), file=sys.stderr)


def check_config_names(config: HookConfig) -> str | None:
    """A git config setting naming an unknown rule (``cardsmith.select`` / ``cardsmith.ignore``), or None."""
    from cardsmith.audit.engine import resolve
    from cardsmith.errors import UnknownRuleError

    for key, names in (("cardsmith.select", config.select), ("cardsmith.ignore", config.ignore)):
        try:
            resolve(names)
        except UnknownRuleError as exc:
            return f"git config {key}: {exc}"
    return None


def run_pre_push(
    stdin: IO[str] | Iterable[str],
    *,
    show: Callable[[list[AuditReport]], None],
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
    bad_setting = check_config_names(config)
    if bad_setting is not None:  # the hook's own setting is wrong, not the card: say so, refuse
        _say(
            f"cardsmith: {bad_setting}; fix it with `git config`, or skip this check with "
            "'git push --no-verify'"
        )
        return 2
    seen: set[tuple[str, str]] = set()
    outcomes = [o for ref in refs if not ref.is_deletion for o in _audit_ref(ref, remote, config, cwd, seen)]
    if not outcomes:
        return 0
    reports = [o.report for o in outcomes if o.report is not None]
    if reports:
        show(reports)
    failures = [o for o in outcomes if o.failure is not None]
    for o in failures:
        _say(f"cardsmith: {o.path} (in {o.commit[:12]}) cannot be read as a model card: {o.failure}")
    errors = sum(len(r.errors) for r in reports)
    bad = sum(1 for r in reports if r.has_errors) + len(failures)
    where = f" to {remote}" if remote else ""
    if bad:
        _say(
            f"cardsmith: push{where} refused: {bad} of {len(outcomes)} card(s) have errors "
            f"({errors} error finding(s), {len(failures)} unreadable). Fix the card(s) and commit, "
            "or skip this check with 'git push --no-verify'.",
        )
        return 1
    _say(f"cardsmith: {len(outcomes)} card(s) audited, no errors")
    return 0
