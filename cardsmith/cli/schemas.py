"""The JSON Schemas that ``schemas/`` holds, generated from the Pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cardsmith.audit.report import AuditReport
from cardsmith.card.model import Card


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for the card and for one card's audit report.

    The card's is ``cardsmith.ModelCard.model_json_schema()`` (as SPEC says): the schema of its data,
    :class:`~cardsmith.card.model.Card`, under the library's name (``ModelCard`` adds only verbs).
    """
    card = Card.model_json_schema()
    card["title"] = "ModelCard"
    return {
        "model-card.schema.json": card,
        "audit-report.schema.json": AuditReport.model_json_schema(),
    }


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write_schemas(out: Path) -> list[Path]:
    """Write every schema into ``out`` (atomically, one file each); returns the paths written."""
    from cardsmith.card.io import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = out / name
        atomic_write_text(path, dumps(schema))
        written.append(path)
    return written
