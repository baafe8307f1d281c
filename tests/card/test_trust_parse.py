"""Issue #10: parser gaps that could hide a mismatch are read, or reported - never dropped silently."""

from __future__ import annotations

from pathlib import Path

from cardsmith.api import ModelCard
from cardsmith.card.numbers import Cell
from cardsmith.card.render import render_card

CARD = """# tiny-bert-italic

Fine-tuned on a toy set.
It achieves the following results on the evaluation set:
*- Loss: 0.3104*\\
*- Accuracy: 0.8911*

## Training results

| Training Loss | Epoch | Step   | Validation Loss | Accuracy |
|:-------------:|:-----:|:------:|:---------------:|:--------:|
| 0.6812        | 1.0   | 18,609 | 0.4127          | 0.8512   |
| 0.3905        | 2.0   | 37,218 | 0 .3319         | 0.8803   |
| 0.2511        | 3.0   | 55,827 | 0.3104          | 0.8911   |
"""


def test_thousands_separators_are_read() -> None:
    assert (Cell.parse("18,609").value, Cell.parse("18,609").decimals) == (18609.0, 0)
    assert Cell.parse("1,234.5").value == 1234.5 and Cell.parse("-1,000%").percent
    assert Cell.parse("12,3456").value is None  # not groups of three: not a number
    assert Cell.parse("0 .283908").value is None


def test_an_italic_headline_is_read_and_the_card_renders_unchanged() -> None:
    card = ModelCard.from_markdown(CARD)
    assert [(m.name, m.value.text) for m in card.headline] == [("Loss", "0.3104"), ("Accuracy", "0.8911")]
    assert render_card(card) == CARD
    step = card.results.rows[0][2] if card.results else None
    assert step is not None and step.value == 18609.0


def test_an_italic_headline_that_matches_no_row_is_reported() -> None:
    wrong = CARD.replace("*- Accuracy: 0.8911*", "*- Accuracy: 0.9111*")
    names = ModelCard.from_markdown(wrong).audit().names()
    assert "headline-mismatch" in names


def test_a_value_that_cannot_be_read_is_reported_not_dropped() -> None:
    report = ModelCard.from_markdown(CARD).audit()
    (f,) = [f for f in report.findings if f.name == "unreadable-value"]
    assert "'0 .3319'" in f.message and f.location.row == 2 and f.location.column == "Validation Loss"


def test_a_headline_under_an_edited_lead_is_reported_not_dropped() -> None:
    from cardsmith.audit.paths import audit_paths

    folder = Path(__file__).resolve().parents[2] / "fixtures" / "rules" / "headline-not-read"
    (report,) = audit_paths([str(folder / "fail.md")])
    (f,) = [f for f in report.findings if f.name == "headline-not-read"]
    assert f.severity == "info" and "'It achieves the following results on the test set:'" in f.message
    assert f.location.section == "Headline" and "headline-mismatch" not in report.names()
