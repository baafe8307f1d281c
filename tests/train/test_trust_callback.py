"""Issue #10: chance-level-loss from CardCallback and ModelCard.from_trainer, with the live model's labels."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tiny

from cardsmith import CardCallback, ModelCard
from cardsmith.train.from_trainer import live_num_labels


def test_chance_level_loss_fires_from_the_callback_before_config_json_exists(tmp_path: Path) -> None:
    out = tmp_path / "untrained"
    callback = CardCallback()
    # learning rate 0: the randomly initialised classifier stays a near-uniform guess over 3 labels
    trainer = tiny.train_seq(
        out, callbacks=[callback], learning_rate=0.0, num_train_epochs=1, save_strategy="no"
    )
    assert not (out / "config.json").exists()  # nothing beside the card tells the number of labels
    assert live_num_labels(trainer.model) == len(tiny.SEQ_LABELS) == 3
    loss = trainer.state.log_history[-2]["eval_loss"]
    assert abs(loss - math.log(3)) <= 0.01 * math.log(3)
    assert callback.report is not None
    (chance,) = [f for f in callback.report.findings if f.name == "chance-level-loss"]
    assert "ln(3)" in chance.message
    card = ModelCard.from_trainer(trainer)
    assert "chance-level-loss" in card.audit().names()


def test_live_num_labels_only_for_classification_heads() -> None:
    from transformers import BertConfig, BertForMaskedLM

    lm = BertForMaskedLM(
        BertConfig(
            vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8
        )
    )
    assert lm.config.num_labels == 2 and live_num_labels(lm) is None
    assert live_num_labels(None) is None
