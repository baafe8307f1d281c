"""The ``json`` format: ``{"cards": [...], "summary": {...}}`` exactly as SPEC describes it."""

from __future__ import annotations

from typing import Any

from cardsmith.audit.report import AuditReport


def reports_json(reports: list[AuditReport]) -> dict[str, Any]:
    """``{"cards": [...]}`` as SPEC defines it."""
    return {"cards": [r.to_json_dict() for r in reports]}
