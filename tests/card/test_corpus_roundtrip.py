"""Every real card (the shared corpus) and every fixture card survives parse -> render.

* unmodified: the render is byte-identical to the input (all 156 corpus cards are; no exception
  needed, so none is made);
* after forcing every generated part to be regenerated (snapshots cleared), every printed number of
  the results table, headline and hyperparameters is still in the same row and column, every other
  non-blank line is kept in order, and every front-matter key and value is kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from locations import CORPUS, REPO, require_corpus

from cardsmith.api import ModelCard
from cardsmith.card.io import read_text
from cardsmith.card.lines import split_lines
from cardsmith.card.parse import parse_card
from cardsmith.card.render import render_card

#: Every fixture card, except the one that is unreadable by design (the fail card of unreadable-card).
FIXTURE_CARDS = sorted(
    p
    for p in (REPO / "fixtures").rglob("*.md")
    if p != REPO / "fixtures" / "rules" / "unreadable-card" / "fail.md"
)


def _corpus_cards() -> list[Path]:
    folder = CORPUS / "cards"
    return sorted(folder.glob("*.md")) if folder.is_dir() else []


def _card_params() -> list[object]:
    params: list[object] = [pytest.param(p, id=f"fixture:{p.relative_to(REPO)}") for p in FIXTURE_CARDS]
    params += [pytest.param(p, id=f"corpus:{p.name[:80]}") for p in _corpus_cards()]
    return params


def _skip_if_no_corpus(path: Path) -> None:
    if not path.exists():
        require_corpus()


def test_corpus_is_there_or_skipped() -> None:
    require_corpus()
    assert len(_corpus_cards()) >= 100
    assert FIXTURE_CARDS, "fixtures/ holds the seed cards"


def _numbers(card: ModelCard) -> dict[str, object]:
    """Everything numeric the card claims, addressed by part, row and column."""
    table = card.results
    hp = card.hyperparameters
    return {
        "columns": list(table.columns) if table else None,
        "rows": [[c.text for c in row] for row in table.rows] if table else None,
        "headline": [(h.name, h.value.text) for h in card.headline],
        "hyperparameters": hp.model_dump(exclude={"optimizer": {"text"}}) if hp else None,
        "optimizer_text": hp.optimizer.text.strip() if hp and hp.optimizer else None,
        "framework_versions": [(f.name, f.version) for f in card.framework_versions],
        "title": card.title,
        "intro": (card.base_model, card.dataset_name),
    }


def _text_lines(card: ModelCard) -> list[str]:
    return [
        line.strip()
        for block in card.blocks
        if block.kind == "text"
        for line in split_lines(block.text)
        if line.strip()
    ]


def _is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


@pytest.mark.parametrize("path", _card_params())
def test_unmodified_card_renders_byte_identical(path: Path) -> None:
    _skip_if_no_corpus(path)
    text = read_text(path)
    card = ModelCard.from_markdown(text)
    assert card.to_markdown() == text


@pytest.mark.parametrize("path", _card_params())
def test_forced_regeneration_keeps_every_number_in_place(path: Path) -> None:
    _skip_if_no_corpus(path)
    text = read_text(path)
    card = parse_card(text)
    before = _numbers(card)
    data_before = card.metadata.data
    lines_before = _text_lines(card)
    for block in card.blocks:
        if block.kind != "text":
            block.snapshot = None  # never equal to the part: every part is regenerated
    out = render_card(card)
    again = parse_card(out)
    assert _numbers(again) == before
    assert list(again.metadata.data) == list(data_before)
    assert again.metadata.data == data_before
    assert _is_subsequence(lines_before, [ln.strip() for ln in split_lines(out)])
    # What a regenerated card renders is stable: regenerating again changes nothing.
    assert render_card(again) == out
