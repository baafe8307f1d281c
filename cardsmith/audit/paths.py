"""Auditing cards by path: files or model folders (their README.md), each with its repository's config."""

from __future__ import annotations

from pathlib import Path

from cardsmith.audit.config import find_pyproject, read_config
from cardsmith.audit.engine import audit_card
from cardsmith.audit.report import AuditReport
from cardsmith.audit.rules import resolve
from cardsmith.card.parse import card_file, load_card
from cardsmith.errors import ParseError


def audit_paths(
    paths: list[str], *, select: list[str] | None = None, ignore: list[str] | None = None
) -> list[AuditReport]:
    """Audit many cards in one call (a folder means its README.md), in the order given.

    Every path is checked before any card is audited, so a missing path fails fast; a card that
    cannot be parsed is an error naming its path.
    """
    resolve(select)
    resolve(ignore)
    files = [card_file(p) for p in paths]
    configs: dict[Path, dict[str, list[str]]] = {}
    found: dict[Path, Path | None] = {}  # folder -> its pyproject.toml (cards often share a folder)
    reports = []
    for given, file in zip(paths, files):
        if file.parent not in found:
            found[file.parent] = find_pyproject(file.parent)
        pyproject = found[file.parent]
        config: dict[str, list[str]] = {}
        if pyproject is not None:
            if pyproject not in configs:
                configs[pyproject] = read_config(pyproject)
            config = configs[pyproject]
        try:
            card = load_card(file)
        except ParseError as exc:
            msg = str(exc)
            raise type(exc)(msg if str(file) in msg or given in msg else f"{given}: {msg}") from None
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
