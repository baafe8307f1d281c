"""What a bulk run hands around: an :class:`Item` of work, the run's :class:`Settings`, an item's :class:`Result`.

A result is the JSON line the output file gets (the card report of ``--format json`` plus ``"id"``
and, for an item that failed, ``"error"`` with the reason) and the few facts the summary needs. An
engine runs an item function (:func:`call_safely`) and gives :func:`failure` to an item its worker
could not finish (crash, timeout, out of memory), so the lines are the same whichever engine ran
them. What an item function does with the auditor and the verifier is :mod:`cardsmith.bulk.run`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["audit", "verify"]


@dataclass(frozen=True)
class Item:
    """One unit of work. ``text`` (a dump's card) or ``path`` (a card file or folder; for verify, the
    repo id or folder); ``options`` are a verify list line's own options; ``error`` is set when the
    source could not even produce the item (the reason becomes its entry)."""

    id: str
    text: str | None = None
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Settings:
    """What every item of a run shares."""

    kind: Kind = "audit"
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    rerun: bool = False
    #: verify options for every item (a list line's own options override them)
    defaults: dict[str, Any] = field(default_factory=dict)
    trust_remote_code: bool = False
    #: audit: findings below this severity are left out of the lines (``--min-severity``, ``--quiet``)
    min_severity: str = "info"
    #: ``locate(report, text)`` -> the 1-based card line of each finding (or None): the JSON format's
    #: ``location.line``, handed down by the command line that owns that format; ``text`` is the card's
    #: text when the item carried it (a dump), else None (the report's path is read).
    locate: Callable[[Any, str | None], list[int | None]] | None = None


@dataclass(frozen=True)
class Result:
    """One finished item: its JSON line (no newline) and what the summary counts."""

    id: str
    line: str
    failed: bool = False
    #: ``(code, name, severity)`` of every finding
    findings: tuple[tuple[str, str, str], ...] = ()

    @property
    def has_errors(self) -> bool:
        return self.failed or any(sev == "error" for _c, _n, sev in self.findings)


def dumps_entry(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=True, separators=(", ", ": "))


def make_result(item_id: str, report: dict[str, Any] | None, error: str | None, path: str | None) -> Result:
    """An item's result: ``report`` (its JSON, or None) with ``"id"``, and ``"error"`` when it failed."""
    entry: dict[str, Any] = {"id": item_id}
    if report is None:
        entry.update({"path": path, "findings": []})
    else:
        entry.update(report)
    if error is not None:
        entry["error"] = error
    findings = tuple((str(f["rule"]), str(f["name"]), str(f["severity"])) for f in entry["findings"])
    return Result(id=item_id, line=dumps_entry(entry), failed=error is not None, findings=findings)


def failure(item: Item, reason: str) -> Result:
    """The entry of an item that did not finish (its worker crashed, it timed out, ...)."""
    return make_result(item.id, None, reason, item.path if item.path is not None else item.id)


def result_from_line(line: str) -> Result:
    """A :class:`Result` back from a line of an output file (``--resume`` counts earlier entries)."""
    entry = json.loads(line)
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise TypeError("not a cardsmith entry (no id)")
    findings = tuple(
        (str(f.get("rule")), str(f.get("name")), str(f.get("severity")))
        for f in entry.get("findings") or []
        if isinstance(f, dict)
    )
    return Result(id=entry["id"], line=line, failed="error" in entry, findings=findings)


def call_safely(fn: Any, item: Item, settings: Settings) -> Result:
    """``fn(item, settings)`` as an engine's worker runs it: whatever it raises becomes the item's entry."""
    try:
        result = fn(item, settings)
    except MemoryError:
        return failure(item, "out of memory (MemoryError)")
    except BaseException as exc:  # noqa: BLE001 - one item never ends the run
        return failure(item, f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:2000]}")
    if not isinstance(result, Result):
        return failure(item, f"internal error: the item function returned {type(result).__name__}")
    return result
