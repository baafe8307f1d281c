"""Auditing cards by path: files or model folders (their README.md), each with its repository's config.

Each path stands alone (as ruff does with a file it cannot parse): a path that cannot be read or
parsed becomes a report of its own with an ``unreadable-card`` error naming the reason, and every
other card is still audited.
"""

from __future__ import annotations

from pathlib import Path

from cardsmith.audit.config import find_pyproject
from cardsmith.audit.engine import audit_card, finding, read_config, resolve, selection
from cardsmith.audit.findings import Location
from cardsmith.audit.report import AuditReport
from cardsmith.card.parse import card_file, load_card
from cardsmith.errors import CardsmithError, ConfigError


def unreadable(
    given: str,
    reason: str,
    *,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    config: dict[str, list[str]] | None = None,
) -> AuditReport:
    """The report of a path that could not be read: one ``unreadable-card`` error with the reason
    (none when the rule is not selected)."""
    reason = " ".join(reason.split())
    if reason.startswith(f"{given}: "):
        reason = reason[len(given) + 2 :]
    message = f"cannot read this card: {reason}" if given in reason else f"cannot read {given}: {reason}"
    findings = []
    if "unreadable-card" in selection(select, ignore, config):
        findings.append(finding("unreadable-card", message, Location.model_construct()))
    return UnreadableReport.model_construct(path=given, findings=findings)


class UnreadableReport(AuditReport):
    """The report of a path that could not be read (its JSON is any report's)."""


def is_unreadable(report: AuditReport) -> bool:
    """Whether ``report`` stands for a path that could not be read."""
    return isinstance(report, UnreadableReport)


def audit_paths(
    paths: list[str], *, select: list[str] | None = None, ignore: list[str] | None = None
) -> list[AuditReport]:
    """Audit many cards in one call (a folder means its README.md), in the order given.

    A path that is missing, a folder without a README.md, a file that is not text and a card that
    cannot be parsed each get a report with an ``unreadable-card`` error; the others are audited.
    Unknown rule names in ``select``/``ignore`` raise before anything is read.
    """
    resolve(select)
    resolve(ignore)
    configs: dict[Path, dict[str, list[str]]] = {}
    found: dict[Path, Path | None] = {}  # folder -> its pyproject.toml (cards often share a folder)
    reports = []
    for given in paths:
        config: dict[str, list[str]] = {}
        try:
            file = card_file(given)
            if file.parent not in found:
                found[file.parent] = find_pyproject(file.parent)
            pyproject = found[file.parent]
            if pyproject is not None:
                if pyproject not in configs:
                    configs[pyproject] = read_config(pyproject)
                config = configs[pyproject]
            card = load_card(file)
        except CardsmithError as exc:
            if isinstance(exc, ConfigError):
                raise  # a broken [tool.cardsmith] is the user's setup, not this card
            reports.append(unreadable(given, str(exc), select=select, ignore=ignore, config=config))
            continue
        except (OSError, UnicodeDecodeError, ValueError, RecursionError, MemoryError) as exc:
            reports.append(
                unreadable(given, f"{type(exc).__name__}: {exc}", select=select, ignore=ignore, config=config)
            )
            continue
        reports.append(
            audit_card(
                card,
                select=select,
                ignore=ignore,
                path=given if Path(given).is_file() else str(file),
                config=config,
            )
        )
    return reports
