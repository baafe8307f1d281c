"""``schemas/*.json`` are exactly what the Pydantic models generate (run ``cardsmith schema`` after a change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from locations import REPO

from cardsmith.cli.app import main
from cardsmith.cli.schemas import dumps, json_schemas

SCHEMAS = REPO / "schemas"
FIX = "the models changed: run `cardsmith schema --out schemas` and commit the result"


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_schema_files_match_models(name: str) -> None:
    path = SCHEMAS / name
    assert path.is_file(), f"schemas/{name} is missing: {FIX}"
    assert path.read_text(encoding="utf-8") == dumps(json_schemas()[name]), f"schemas/{name} is stale: {FIX}"


def test_no_stray_schema_files() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(json_schemas()), FIX


def test_schema_command_writes_the_same_files(tmp_path: Path) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    for name, schema in json_schemas().items():
        written = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        assert written == schema
    card_schema = json_schemas()["model-card.schema.json"]
    assert "blocks" in card_schema["properties"] and "Cell" in card_schema["$defs"]
    block_kinds = card_schema["$defs"]["Block"]["properties"]["kind"]["enum"]
    assert "metadata" in block_kinds and "results" in block_kinds


def test_the_card_schema_is_model_card_model_json_schema() -> None:
    """SPEC: ``ModelCard.model_json_schema()`` is what ``schemas/`` holds."""
    from cardsmith import ModelCard

    assert json_schemas()["model-card.schema.json"] == ModelCard.model_json_schema()
    assert dumps(ModelCard.model_json_schema()) == (SCHEMAS / "model-card.schema.json").read_text(
        encoding="utf-8"
    )
