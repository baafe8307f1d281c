"""Issue #10: the rules stay true on patterns of real cards (their fixture cards, one per pattern)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cardsmith.api import ModelCard
from cardsmith.audit.engine import RULES, suppressions
from cardsmith.audit.paths import audit_paths
from cardsmith.audit.suppress import disabled_names

ROOT = Path(__file__).resolve().parents[2]
RULE_FIXTURES = ROOT / "fixtures" / "rules"
#: Every extra fixture card: ``pass-<pattern>.md`` must not fire the rule of its folder, ``fail-<pattern>.md`` must.
PATTERNS = sorted(p for p in RULE_FIXTURES.glob("*/*.md") if p.name.startswith(("pass-", "fail-")))


@pytest.mark.parametrize("card", PATTERNS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_false_positive_patterns_do_not_fire_and_defects_do(card: Path) -> None:
    rule = card.parent.name
    (report,) = audit_paths([str(card)])
    hits = [f.message for f in report.findings if f.name == rule]
    if card.name.startswith("pass-"):
        assert not hits, hits
    else:
        assert hits


def test_every_pattern_folder_is_a_rule() -> None:
    names = {r.name for r in RULES}
    assert {p.parent.name for p in PATTERNS} <= names


def _names(card: Path) -> list[str]:
    (report,) = audit_paths([str(card)])
    return report.names()


def test_one_coincidental_row_is_a_warning_and_a_copy_in_two_rows_an_error() -> None:
    once = RULE_FIXTURES / "loss-equals-metric-once"
    (warn,) = audit_paths([str(once / "fail.md")])
    (finding,) = [f for f in warn.findings if f.name == "loss-equals-metric-once"]
    assert finding.severity == "warning" and "Validation Loss equals Wer (0.3615)" in finding.message
    assert "every other row differs" in finding.message and not warn.has_errors
    assert _names(once / "pass.md").count("loss-equals-metric") == 2


def test_model_index_of_another_split_is_not_compared_but_a_copied_row_is() -> None:
    (copied,) = audit_paths([str(RULE_FIXTURES / "model-index-mismatch" / "fail-copied-row.md")])
    (f,) = [f for f in copied.findings if f.name == "model-index-mismatch"]
    assert "25.774213, the Wer of the row of epoch 3.0, but the headline says Wer 24.3127" in f.message


def test_best_checkpoint_says_what_is_true() -> None:
    folder = RULE_FIXTURES / "best-checkpoint-not-reported"
    (over,) = audit_paths([str(folder / "fail-loss-overfits-metric-improves.md")])
    (f,) = [f for f in over.findings if f.name == "best-checkpoint-not-reported"]
    assert f.message == (
        "the Validation Loss rose 52% above its minimum 0.2513 (the row of epoch 2.0) to 0.3826 in the "
        "reported last checkpoint (the row of epoch 5.0) while F1 is best in the reported row (0.8702): "
        "the model overfits the loss, but no earlier checkpoint is clearly better on F1"
    )
    # the seed card whose F1 keeps improving: overfitting of the loss, no better checkpoint claimed
    seed = next((ROOT / "fixtures" / "seeds").glob("seed-002*/README.md"))
    (report,) = audit_paths([str(seed)])
    (f,) = [f for f in report.findings if f.name == "best-checkpoint-not-reported"]
    assert "overfits the loss" in f.message and "no earlier checkpoint is clearly better on F1" in f.message
    assert "would keep" not in f.message


def test_frozen_validation_loss_message_does_not_claim_a_skipped_evaluation() -> None:
    (report,) = audit_paths([str(RULE_FIXTURES / "frozen-metric" / "fail.md")])
    assert all("single class" in f.message for f in report.findings if f.name == "frozen-metric")


# -- suppression comments -------------------------------------------------------------------------------

CARD = (RULE_FIXTURES / "headline-mismatch" / "fail.md").read_text(encoding="utf-8")


def _audit_text(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "README.md"
    path.write_text(text, encoding="utf-8")
    (report,) = audit_paths([str(path)])
    return report.names()


def test_a_real_html_comment_suppresses(tmp_path: Path) -> None:
    assert "headline-mismatch" in _audit_text(tmp_path, CARD)
    names = _audit_text(tmp_path, CARD + "\n<!-- cardsmith: disable=headline-mismatch -->\n")
    assert "headline-mismatch" not in names and "unused-suppression" not in names


@pytest.mark.parametrize(
    "example",
    [
        "\nTo silence it: `<!-- cardsmith: disable=headline-mismatch -->`.\n",
        "\n```markdown\n<!-- cardsmith: disable=headline-mismatch -->\n```\n",
        "\nA paragraph.\n\n    <!-- cardsmith: disable=headline-mismatch -->\n",
    ],
    ids=["inline-code", "fenced-block", "indented-code"],
)
def test_an_example_in_code_suppresses_nothing(tmp_path: Path, example: str) -> None:
    names = _audit_text(tmp_path, CARD + example)
    assert (
        "headline-mismatch" in names
        and "invalid-suppression" not in names
        and "unused-suppression" not in names
    )


def test_the_readme_examples_are_no_suppressions() -> None:
    readme = ROOT / "README.md"
    card = ModelCard.load(readme)
    assert "cardsmith: disable=" in readme.read_text(encoding="utf-8")
    assert suppressions(card) == []
    (report,) = audit_paths([str(readme)])
    assert "invalid-suppression" not in report.names()


def test_hostile_suppression_comment_is_scanned_in_linear_time() -> None:
    start = time.perf_counter()
    assert disabled_names("<!-- cardsmith: disable=" + " " * 4000 + "x") == []
    many = ("<!-- cardsmith: disable=" + " " * 4000 + "x\n\n") * 250  # 1 MB of unclosed comments
    assert disabled_names(many) == []
    assert time.perf_counter() - start < 2.0
    assert disabled_names("a <!-- cardsmith:disable=zero-metric , CS201 --> b\n") == ["zero-metric", "CS201"]


def test_headline_after_the_last_row_is_a_warning_that_says_why() -> None:
    went_on = RULE_FIXTURES / "headline-after-last-row" / "fail.md"
    (report,) = audit_paths([str(went_on)])
    (f,) = [f for f in report.findings if f.name == "headline-after-last-row"]
    assert f.severity == "warning" and "headline-mismatch" not in report.names()
    assert "epoch 2.73 of num_epochs 3, about 233 more steps" in f.message
    assert "final model's own evaluation" in f.message and not report.has_errors
    # the run ends at its last row: the same mismatch is an error
    (ended,) = audit_paths([str(RULE_FIXTURES / "headline-mismatch" / "fail.md")])
    assert "headline-mismatch" in ended.names() and "headline-after-last-row" not in ended.names()


def test_headline_after_the_last_row_by_training_steps(tmp_path: Path) -> None:
    text = (RULE_FIXTURES / "headline-after-last-row" / "fail.md").read_text(encoding="utf-8")
    text = text.replace("- num_epochs: 3", "- training_steps: 2634")
    card = tmp_path / "README.md"
    card.write_text(text, encoding="utf-8")
    (f,) = [f for f in audit_paths([str(card)])[0].findings if f.name.startswith("headline")]
    assert f.name == "headline-after-last-row" and "step 2400 of training_steps 2634" in f.message
    card.write_text(text.replace("- training_steps: 2634", "- training_steps: 2400"), encoding="utf-8")
    names = audit_paths([str(card)])[0].names()
    assert "headline-mismatch" in names and "headline-after-last-row" not in names
