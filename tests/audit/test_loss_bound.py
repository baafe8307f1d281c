"""loss-too-low-for-accuracy: the cross-entropy of a classifier is at least ln 2 x its error rate."""

from __future__ import annotations

import math

from locations import REPO

from cardsmith import ModelCard

FAIL = (REPO / "fixtures" / "rules" / "loss-too-low-for-accuracy" / "fail.md").read_text(encoding="utf-8")
NAME = "loss-too-low-for-accuracy"


def fired(text: str) -> list[str]:
    return [f.message for f in ModelCard.from_markdown(text).audit().findings if f.name == NAME]


def test_every_row_below_the_bound_fires_and_the_headline_repeating_a_row_does_not() -> None:
    messages = fired(FAIL)
    assert len(messages) == 3  # three rows; the headline is the last row's pair
    assert f"= {math.log(2) * (1 - 0.34015):.4f}" in messages[-1]  # at the favourable end of the rounding


def test_rounding_and_the_bound_itself_do_not_fire() -> None:
    # ln 2 x (1 - 0.3401) = 0.45740...: a printed 0.4574 may be that bound exactly
    at_bound = FAIL.replace("| 0.4120          | 0.3120   |", "| 0.4574          | 0.3401   |")
    assert len(fired(at_bound)) == 2


def test_percent_scale_and_label_smoothing() -> None:
    percent = FAIL.replace("| 0.3120   |", "| 31.20    |").replace("| 0.3352   |", "| 33.52    |")
    percent = percent.replace("| 0.3401   |", "| 34.01    |").replace("Accuracy: 0.3401", "Accuracy: 34.01")
    percent = percent.replace("value: 0.3401", "value: 34.01")
    assert len(fired(percent)) == 3
    # smoothing 0.3: the bound is 0.7 x ln 2 x error; only the last row (0.3095 < 0.3202) stays below it
    smoothed = FAIL.replace("- num_epochs: 3\n", "- num_epochs: 3\n- label_smoothing_factor: 0.3\n")
    messages = fired(smoothed)
    assert len(messages) == 1 and "label smoothing 0.3" in messages[0]


def test_multi_label_and_sequence_to_sequence_cards_are_not_checked() -> None:
    roc = FAIL.replace("| Validation Loss | Accuracy |", "| Validation Loss | Accuracy | Roc Auc |")
    roc = roc.replace("|:---------------:|:--------:|", "|:---------------:|:--------:|:-------:|")
    for old in ("0.3120   |", "0.3352   |", "0.3401   |"):
        roc = roc.replace(old, old + " 0.9012  |")
    assert fired(roc) == []
    tagged = FAIL.replace(
        "- generated_from_trainer\n", "- generated_from_trainer\n- multi-label-classification\n"
    )
    assert fired(tagged) == []
    assert fired(FAIL.replace("- Accuracy: 0.3401", "- Accuracy: 0.3401\n- Gen Len: 12.5")) == []
    table_only_gen_len = FAIL.replace(
        "| Validation Loss | Accuracy |", "| Validation Loss | Accuracy | Gen Len |"
    )
    table_only_gen_len = table_only_gen_len.replace("|:---------------:|:--------:|", "|:---:|:---:|:---:|")
    for old in ("0.3120   |", "0.3352   |", "0.3401   |"):
        table_only_gen_len = table_only_gen_len.replace(old, old + " 12.5 |")
    assert fired(table_only_gen_len) == []


def test_a_headline_alone_is_checked() -> None:
    start = FAIL.index("### Training results")
    end = FAIL.index("### Framework versions")
    headline_only = FAIL[:start] + FAIL[end:]
    messages = fired(headline_only)
    assert len(messages) == 1 and "in the headline" in messages[0]
