"""The ``json`` format: ``{"cards": [...], "summary": {...}}`` exactly as SPEC describes it."""

from __future__ import annotations

from typing import Any

from cardsmith.audit.report import AuditReport


def summary(reports: list[AuditReport]) -> dict[str, int]:
    """``{"cards": n, "errors": e, "warnings": w, "info": i}``: the counts of the findings reported."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for r in reports:
        for f in r.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    return {
        "cards": len(reports),
        "errors": counts["error"],
        "warnings": counts["warning"],
        "info": counts["info"],
    }


def reports_json(reports: list[AuditReport]) -> dict[str, Any]:
    """``{"cards": [...], "summary": {...}}`` as SPEC defines it; a finding's ``location`` carries the
    1-based ``line`` of the card file where it can be located."""
    from cardsmith.cli.formats.locate import LineIndex, source_lines

    cards = []
    for r in reports:
        data = r.to_json_dict()
        lines = source_lines(r.path) if r.findings else []
        if lines:
            located = LineIndex(lines)
            for f, out in zip(r.findings, data["findings"]):  # type: ignore[call-overload]
                line = located.locate(f.location)
                if line is not None and isinstance(out, dict) and isinstance(out.get("location"), dict):
                    out["location"]["line"] = line
        cards.append(data)
    return {"cards": cards, "summary": summary(reports)}
