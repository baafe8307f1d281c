"""Where a finding is in the card file: its line, for every output format (text, JSON, SARIF).

One :class:`LineIndex` per card answers every finding's location in constant time after one pass
over the card's lines (no rescan per finding).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cardsmith.audit.findings import Location


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
