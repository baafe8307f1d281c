"""The fast path of model-index-invalid never passes metadata that huggingface_hub rejects."""

from __future__ import annotations

from pathlib import Path

from locations import CORPUS_CARDS, FIXTURES, require_corpus

from cardsmith.audit.hub_metadata import asked_problems, plainly_valid
from cardsmith.card.parse import parse_card
from cardsmith.errors import CardsmithError


def _metadata(path: Path) -> dict | None:  # type: ignore[type-arg]
    try:
        card = parse_card(path.read_bytes().decode("utf-8", "replace"))
    except CardsmithError:
        return None
    return card.metadata.data if card.metadata is not None else None


def test_plainly_valid_is_a_subset_of_what_huggingface_hub_accepts() -> None:
    paths = sorted(require_corpus(CORPUS_CARDS).glob("*.md")) + sorted(FIXTURES.rglob("*.md"))
    passed = rejected = 0
    for path in paths:
        data = _metadata(path)
        if not data:
            continue
        if plainly_valid(data):
            passed += 1
            assert asked_problems(data) == [], path.name
        elif asked_problems(data):
            rejected += 1
    assert passed >= 100  # the fast path serves the common card
    assert rejected >= 1  # and the corpus holds cards huggingface_hub rejects


def test_odd_shapes_go_to_huggingface_hub() -> None:
    good = {
        "name": "m",
        "results": [
            {
                "task": {"type": "t"},
                "dataset": {"type": "d", "name": "D"},
                "metrics": [{"type": "accuracy", "value": 0.9}],
            }
        ],
    }
    assert plainly_valid({"license": "mit", "model-index": [good]})
    assert not plainly_valid({"license": ["mit"]})
    assert not plainly_valid({"datasets": [None]})
    assert not plainly_valid({"model-index": [{**good, "name": None}]})
    no_url = {**good["results"][0], "source": {"name": "x"}}
    assert not plainly_valid({"model-index": [{**good, "results": [no_url]}]})
    assert asked_problems({"model-index": [{**good, "results": [no_url]}]})
