"""The ``sarif`` format: SARIF 2.1.0 for code-scanning tools, ``startLine`` at the offending line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cardsmith.audit.registry import Rule
from cardsmith.audit.report import AuditReport, Location

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


SARIF_VERSION = "2.1.0"


_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", s.lower())


def locate_line(lines: list[str], loc: Location) -> int | None:
    """1-based line of a finding's location in the card's source lines, when it can be found.

    Table rows: the row-th line after the results table's delimiter row. Headline metrics: the
    ``- Name: value`` line of the headline list. Hyperparameters: the ``- key: value`` line.
    model-index / metadata keys: the first line of the front matter naming them.
    """
    section = loc.section or ""
    if section == "Training results":
        header = None
        for i, line in enumerate(lines):
            if line.lstrip().startswith("|") or line.count("|") >= 2:
                cells = [_norm(c) for c in line.strip().strip("|").split("|")]
                if (
                    loc.column
                    and _norm(loc.column) in cells
                    and i + 1 < len(lines)
                    and re.match(r"^\s*\|?\s*:?-{2,}", lines[i + 1])
                ):
                    header = i
                    break
        if header is None:
            return None
        if loc.row is None:
            return header + 1
        target = header + 1 + loc.row
        return target + 1 if target < len(lines) else None
    if section == "Headline" and loc.column:
        start = next((i for i, ln in enumerate(lines) if "following results" in ln.lower()), 0)
        for i in range(start, len(lines)):
            m = re.match(r"^\s*[-*]\s*([^:]+):", lines[i])
            if m and _norm(m.group(1)) == _norm(loc.column):
                return i + 1
        return start + 1 if start else None
    if section == "Headline":
        return next((i + 1 for i, ln in enumerate(lines) if "following results" in ln.lower()), None)
    if section == "Training hyperparameters" and loc.column:
        for i, line in enumerate(lines):
            if re.match(rf"^\s*[-*]\s*{re.escape(loc.column)}\s*:", line):
                return i + 1
        return None
    if section == "Metadata" and not loc.column:
        return 1
    if section in {"model-index", "Metadata"}:
        key = loc.column if section == "Metadata" and loc.column else "model-index"
        if section == "model-index" and loc.column:
            for i, line in enumerate(lines):
                if re.search(rf"name:\s*['\"]?{re.escape(loc.column)}['\"]?\s*$", line):
                    return i + 1
        for i, line in enumerate(lines):
            if line.startswith((f"{key}:", key.replace("-", "_") + ":")):
                return i + 1
        return 1
    if section == "Suppressions":
        return next((i + 1 for i, ln in enumerate(lines) if "cardsmith:" in ln and "disable" in ln), None)
    if section:
        for i, line in enumerate(lines):
            if re.match(r"^\s*#{1,6}\s", line) and _norm(line.lstrip().lstrip("#")) == _norm(section):
                return i + 1
    return None


def _artifact_uri(path: str | None) -> str:
    if not path:
        return "README.md"
    p = Path(path)
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve())
        return rel.as_posix()
    except ValueError:
        return p.resolve().as_uri() if p.is_absolute() else p.as_posix()


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
        uri = _artifact_uri(report.path)
        for f in report.findings:
            physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
            line = locate_line(lines, f.location) if lines else None
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
