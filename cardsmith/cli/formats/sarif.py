"""The ``sarif`` format: SARIF 2.1.0 for code-scanning tools, ``startLine`` at the offending line."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cardsmith.audit.registry import Rule
from cardsmith.audit.report import AuditReport, Location

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


SARIF_VERSION = "2.1.0"


_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", s.lower())


def _is_delimiter_row(line: str) -> bool:
    """A table's delimiter row starts like ``|:---`` (a scan: no pattern backtracks over blanks)."""
    s = line.lstrip()
    if s.startswith("|"):
        s = s[1:].lstrip()
    return s.removeprefix(":").startswith("--")


class LineIndex:
    """Where things are in a card's source lines, each index built once on first use (one pass over
    the lines), so that locating every finding of a card costs about as much as reading it."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._cache: dict[str, dict[str, int]] = {}

    def _index(self, kind: str) -> dict[str, int]:
        found = self._cache.get(kind)
        if found is None:
            found = self._cache[kind] = getattr(self, f"_build_{kind}")()
        return found

    def _build_table(self) -> dict[str, int]:
        """Normalised column name -> first header line (a table line followed by a delimiter row)."""
        out: dict[str, int] = {}
        lines = self.lines
        for i, line in enumerate(lines[:-1]):
            if (line.lstrip().startswith("|") or line.count("|") >= 2) and _is_delimiter_row(lines[i + 1]):
                for cell in line.strip().strip("|").split("|"):
                    out.setdefault(_norm(cell), i)
        return out

    def _build_items(self) -> dict[str, int]:
        """``- key: value`` list items: the key as written (stripped) -> first line."""
        out: dict[str, int] = {}
        for i, line in enumerate(self.lines):
            s = line.lstrip()
            if s[:1] in ("-", "*"):
                key, colon, _ = s[1:].partition(":")
                if colon:
                    out.setdefault(key.strip(), i)
        return out

    def _build_headline(self) -> dict[str, int]:
        """Normalised headline metric name -> its line, from the "following results" line on."""
        out: dict[str, int] = {"": self._first(lambda ln: "following results" in ln.lower())}
        for i in range(max(out[""], 0), len(self.lines)):
            s = self.lines[i].lstrip()
            if s[:1] in ("-", "*"):
                key, colon, _ = s[1:].partition(":")
                if colon and key.strip():
                    out.setdefault(_norm(key), i)
        return out

    def _build_names(self) -> dict[str, int]:
        """``name: X`` lines (model-index metric names): X without quotes -> first line."""
        out: dict[str, int] = {}
        for i, line in enumerate(self.lines):
            at = line.find("name:")
            if at >= 0:
                out.setdefault(line[at + 5 :].strip().strip("'\"").strip(), i)
        return out

    def _build_keys(self) -> dict[str, int]:
        """Top-level ``key:`` lines (front matter) -> first line."""
        out: dict[str, int] = {}
        for i, line in enumerate(self.lines):
            key, colon, _ = line.partition(":")
            if colon and key and not key[0].isspace():
                out.setdefault(key, i)
        return out

    def _build_headings(self) -> dict[str, int]:
        """Normalised heading title -> first heading line."""
        out: dict[str, int] = {}
        for i, line in enumerate(self.lines):
            s = line.lstrip()
            level = len(s) - len(s.lstrip("#"))
            if 1 <= level <= 6 and s[level : level + 1].isspace():
                out.setdefault(_norm(s.lstrip("#")), i)
        return out

    def _first(self, test: Any) -> int:
        return next((i for i, ln in enumerate(self.lines) if test(ln)), -1)

    def locate(self, loc: Location) -> int | None:
        """1-based line of a finding's location, when it can be found.

        Table rows: the row-th line after the results table's delimiter row. Headline metrics: the
        ``- Name: value`` line of the headline list. Hyperparameters: the ``- key: value`` line.
        model-index / metadata keys: the first line of the front matter naming them.
        """
        section = loc.section or ""
        if section == "Training results":
            header = self._index("table").get(_norm(loc.column)) if loc.column else None
            if header is None:
                return None
            if loc.row is None:
                return header + 1
            target = header + 1 + loc.row
            return target + 1 if target < len(self.lines) else None
        if section == "Headline":
            headline = self._index("headline")
            start = headline[""]
            if loc.column:
                line = headline.get(_norm(loc.column))
                if line is not None:
                    return line + 1
            return start + 1 if start > 0 or (start == 0 and not loc.column) else None
        if section == "Training hyperparameters" and loc.column:
            line = self._index("items").get(loc.column.strip())
            return None if line is None else line + 1
        if section == "Metadata" and not loc.column:
            return 1
        if section in {"model-index", "Metadata"}:
            key = loc.column if section == "Metadata" and loc.column else "model-index"
            if section == "model-index" and loc.column:
                line = self._index("names").get(loc.column)
                if line is not None:
                    return line + 1
            keys = self._index("keys")
            line = keys.get(key, keys.get(key.replace("-", "_")))
            return 1 if line is None else line + 1
        if section == "Suppressions":
            line = self._first(lambda ln: "cardsmith:" in ln and "disable" in ln)
            return None if line < 0 else line + 1
        if section:
            line = self._index("headings").get(_norm(section))
            return None if line is None else line + 1
        return None


def locate_line(lines: list[str], loc: Location) -> int | None:
    """1-based line of one finding's location (see :meth:`LineIndex.locate`; for many findings of
    one card, make one :class:`LineIndex`)."""
    return LineIndex(lines).locate(loc)


def _artifact_uri(path: str | None) -> str:
    if not path:
        return "README.md"
    p = Path(path)
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return p.resolve().as_uri() if p.is_absolute() else quote(os.fsencode(p.as_posix()))
    # A URI reference: percent-encoded (``a b/R#?.md`` -> ``a%20b/R%23%3F.md``), from the file
    # name's bytes (a name that is not UTF-8 keeps its bytes, ``%E9``).
    return quote(os.fsencode(rel.as_posix()))


def source_lines(path: str | None) -> list[str]:
    """The lines of the card file at ``path`` (a folder: its README.md); empty when unreadable."""
    if not path:
        return []
    p = Path(path)
    if p.is_dir():
        p = p / "README.md"
    try:
        from cardsmith.card.io import read_text

        return read_text(p).splitlines()
    except Exception:  # noqa: BLE001 - locations are a best effort; the findings stand without them
        return []


def sarif_rule(rule: Rule) -> dict[str, Any]:
    parts = rule.sections
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": parts.get("What it does", rule.summary).replace("\n", " ")},
        "help": {"text": rule.doc, "markdown": rule.markdown},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["model-card"], "severity": rule.severity},
    }


def sarif_log(reports: list[AuditReport]) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, the registry as ``tool.driver.rules``, one result per finding."""
    from cardsmith.audit.rules import RULES
    from cardsmith.card.plain import plain_dump
    from cardsmith.version import __version__

    index = {r.code: i for i, r in enumerate(RULES)}
    results = []
    for report in reports:
        lines = source_lines(report.path)
        located = LineIndex(lines)
        uri = _artifact_uri(report.path)
        for f in report.findings:
            physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
            line = located.locate(f.location) if lines else None
            if line is not None:
                physical["region"] = {"startLine": line}
            result: dict[str, Any] = {
                "ruleId": f.rule,
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.name}: {f.message}"},
                "locations": [{"physicalLocation": physical}],
                "properties": {"name": f.name, **plain_dump(f.location, exclude_none=True)},
            }
            if f.rule in index:
                result["ruleIndex"] = index[f.rule]
            results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cardsmith",
                        "version": __version__,
                        "informationUri": "https://github.com/cardsmith/cardsmith",
                        "rules": [sarif_rule(r) for r in RULES],
                    }
                },
                "results": results,
            }
        ],
    }
