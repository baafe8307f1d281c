"""The ``sarif`` format: SARIF 2.1.0 for code-scanning tools, ``startLine`` at the offending line."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cardsmith.audit.registry import Rule
from cardsmith.audit.report import AuditReport
from cardsmith.cli.formats.locate import LineIndex, source_lines

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


SARIF_VERSION = "2.1.0"


_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


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


def sarif_log(reports: list[AuditReport], rules: Sequence[Rule]) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, ``rules`` (the engine's list) as ``tool.driver.rules``, one result
    per finding."""
    from cardsmith.card.plain import plain_dump
    from cardsmith.version import __version__

    index = {r.code: i for i, r in enumerate(rules)}
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
                        "rules": [sarif_rule(r) for r in rules],
                    }
                },
                "results": results,
            }
        ],
    }
