"""The evaluator's parts without training: metrics, Trainer loss regrouping, data and column choice,
claim extraction, label mapping, model resolution errors, the ``## Reproduction`` section."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cardsmith.api import ModelCard
from cardsmith.card.metric_names import canonical_metric
from cardsmith.errors import DatasetError, EvaluationError, ResolveError, UnsupportedTaskError
from cardsmith.rerun.metrics import classification_metrics, seqeval_metrics, trainer_loss

# --------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("F1", "f1"),
        ("Overall F1", "f1"),
        ("eval_f1", "f1"),
        ("Loss", "loss"),
        ("Validation Loss", "loss"),
        ("eval_loss", "loss"),
        ("Accuracy", "accuracy"),
        ("Overall Accuracy", "accuracy"),
        ("Matthews Correlation", "matthews_correlation"),
        ("matthews_correlation", "matthews_correlation"),
        ("Precision", "precision"),
        ("Overall Recall", "recall"),
        ("Runtime", None),
        ("Wer", "wer"),
        ("F1 Macro", "f1_macro"),
        ("Roc Auc", "roc_auc"),
        ("Spearmanr", "spearmanr"),
        ("Rouge1", "rouge1"),
        ("Gen Len", "gen_len"),
    ],
)
def test_canonical_metric_names(name: str, key: str | None) -> None:
    assert canonical_metric(name) == key


def test_trainer_loss_weights_batch_means_by_batch_size() -> None:
    # 5 examples, eval_batch_size 2: batches [0,1], [2,3], [4] (partial)
    sums = [1.0, 3.0, 2.0, 2.0, 0.5]
    counts = [1, 3, 4, 0, 1]
    b1, b2, b3 = 4.0 / 4, 4.0 / 4, 0.5 / 1
    expected = (2 * b1 + 2 * b2 + 1 * b3) / 5
    assert trainer_loss(sums, counts, 2) == pytest.approx(expected, abs=1e-15)
    # the pooled token mean is a different number
    assert trainer_loss(sums, counts, 5) == pytest.approx(sum(sums) / sum(counts))
    assert trainer_loss(sums, counts, 5) != pytest.approx(expected)
    # a batch without any labelled token gives NaN in the Trainer, which it drops
    assert trainer_loss([1.0, 0.0, 2.0], [1, 0, 2], 1) == pytest.approx((1.0 + 1.0) / 2)
    assert math.isnan(trainer_loss([0.0], [0], 4))
    with pytest.raises(ValueError):
        trainer_loss([1.0], [1], 0)


def test_classification_metrics_match_scikit_learn_averagings() -> None:
    from sklearn.metrics import f1_score, matthews_corrcoef, precision_score, recall_score

    refs = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1]
    preds = [0, 1, 0, 0, 1, 1, 1, 0, 1, 0]
    got = classification_metrics(preds, refs, num_labels=2)
    assert got["accuracy"] == pytest.approx(0.7)
    assert got["matthews_correlation"] == pytest.approx(matthews_corrcoef(refs, preds))
    for avg in ("binary", "micro", "macro", "weighted"):
        assert got["f1"][avg] == pytest.approx(f1_score(refs, preds, average=avg))
        assert got["precision"][avg] == pytest.approx(precision_score(refs, preds, average=avg))
        assert got["recall"][avg] == pytest.approx(recall_score(refs, preds, average=avg))
    three = classification_metrics([0, 1, 2, 2], [0, 2, 2, 1], num_labels=3)
    assert "binary" not in three["f1"] and set(three["f1"]) == {"micro", "macro", "weighted"}


def test_seqeval_overall_scores() -> None:
    refs = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC", "I-LOC", "O"]]
    preds = [["B-PER", "I-PER", "O", "O"], ["O", "B-LOC", "O", "O"]]
    # entities: true {PER(0-1), LOC(3)}, {LOC(1-2)}; predicted {PER(0-1)}, {LOC(1)}: 1 correct of 2 / 3
    got = seqeval_metrics(preds, refs)
    assert got["precision"] == pytest.approx(1 / 2)
    assert got["recall"] == pytest.approx(1 / 3)
    assert got["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert got["accuracy"] == pytest.approx(6 / 8)


# --------------------------------------------------------------------------------------------------
# claims
# --------------------------------------------------------------------------------------------------

CARD = """---
datasets:
- glue
model-index:
- name: m
  results:
  - task:
      type: text-classification
    dataset:
      name: GLUE COLA
      type: glue
      args: cola
    metrics:
    - name: Matthews Correlation
      type: matthews_correlation
      value: 0.5468
---

# m

It achieves the following results on the evaluation set:
- Loss: 0.8086
- Matthews Correlation: 0.5468
- Runtime: 12.3

## Training procedure

### Training hyperparameters

The following hyperparameters were used during training:
- learning_rate: 2e-05
- train_batch_size: 16
- eval_batch_size: 16

### Training results

| Training Loss | Epoch | Step | Validation Loss | Accuracy |
|:-------------:|:-----:|:----:|:---------------:|:--------:|
| 0.5           | 1.0   | 10   | 0.45            | 93.12    |
"""


def test_claims_from_headline_table_and_model_index() -> None:
    from cardsmith.rerun.claims import agrees, claimed_metrics, scale_of

    card = ModelCard.from_markdown(CARD)
    claims = claimed_metrics(card)
    assert [(c.name, c.key, c.source) for c in claims] == [
        ("Loss", "loss", "headline"),
        ("Matthews Correlation", "matthews_correlation", "headline"),
    ]
    card.headline = []
    claims = claimed_metrics(card)
    assert [(c.name, c.key) for c in claims] == [("Validation Loss", "loss"), ("Accuracy", "accuracy")]
    acc = claims[1]
    assert scale_of(acc) == 100.0 and agrees(acc, 0.93124, 1e-4) and not agrees(acc, 0.9302, 1e-4)
    card.results = None
    claims = claimed_metrics(card)
    assert [(c.name, c.source) for c in claims] == [("Matthews Correlation", "model-index")]


def test_card_dataset_and_eval_batch_size() -> None:
    from cardsmith.rerun.claims import eval_batch_size
    from cardsmith.rerun.data import card_dataset

    card = ModelCard.from_markdown(CARD)
    src = card_dataset(card)
    assert src is not None and (src.name, src.config, src.split, src.origin) == (
        "glue",
        "cola",
        None,
        "model-index",
    )
    assert eval_batch_size(card, None)[0] == 16
    card.hyperparameters = None
    assert eval_batch_size(card, None)[0] == 8 and eval_batch_size(card, 32)[0] == 32
    card.metadata.model_index = None
    src = card_dataset(card)
    assert src is not None and (src.name, src.origin) == ("glue", "datasets")


# --------------------------------------------------------------------------------------------------
# data: columns and labels
# --------------------------------------------------------------------------------------------------


def test_detect_columns() -> None:
    from cardsmith.rerun.data import SEQUENCE, TOKEN, detect_columns

    assert detect_columns(["sentence1", "sentence2", "label", "idx"], SEQUENCE) == (
        ["sentence1", "sentence2"],
        "label",
    )
    assert detect_columns(["premise", "hypothesis", "label"], SEQUENCE) == (
        ["premise", "hypothesis"],
        "label",
    )
    assert detect_columns(["question1", "question2", "label"], SEQUENCE) == (
        ["question1", "question2"],
        "label",
    )
    assert detect_columns(["sentence", "label", "idx"], SEQUENCE) == (["sentence"], "label")
    assert detect_columns(["id", "tokens", "pos_tags", "ner_tags"], TOKEN) == (["tokens"], "ner_tags")
    assert detect_columns(["a", "b", "y"], SEQUENCE, text_column="a,b", label_column="y") == (["a", "b"], "y")
    with pytest.raises(DatasetError, match="--text-column"):
        detect_columns(["body", "label"], SEQUENCE)
    with pytest.raises(DatasetError, match="--label-column"):
        detect_columns(["text", "stars"], SEQUENCE)
    with pytest.raises(DatasetError, match="'nope'"):
        detect_columns(["text", "label"], SEQUENCE, text_column="nope")


def test_label_mapping_by_name() -> None:
    from cardsmith.rerun.data import label_mapping, model_labels

    id2label, real = model_labels({"id2label": {"0": "POSITIVE", "1": "NEGATIVE"}})
    assert real
    # the dataset orders them the other way: mapped by name
    assert label_mapping(["negative", "positive"], id2label, real, "ds") == {0: 1, 1: 0}
    with pytest.raises(DatasetError, match="disagree"):
        label_mapping(["neg", "pos"], id2label, real, "ds")
    generic, real = model_labels({"id2label": {"0": "LABEL_0", "1": "LABEL_1"}})
    assert not real and label_mapping(["neg", "pos"], generic, real, "ds") is None


def test_prepare_maps_string_labels_and_checks_token_lengths() -> None:
    from datasets import Dataset

    from cardsmith.rerun.data import SEQUENCE, TOKEN, DatasetSource, prepare

    config = {"id2label": {"0": "negative", "1": "positive"}, "num_labels": 2}
    ds = Dataset.from_dict({"text": ["a", "b", "c"], "label": ["positive", "Negative", "positive"]})
    data = prepare(ds, DatasetSource(name="x"), SEQUENCE, config)
    assert data.references == [1, 0, 1] and data.text_columns == ["text"]
    bad = Dataset.from_dict({"text": ["a"], "label": ["neutral"]})
    with pytest.raises(DatasetError, match="neutral"):
        prepare(bad, DatasetSource(name="x"), SEQUENCE, config)
    tok_config = {"id2label": {"0": "O", "1": "B-PER"}}
    uneven = Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [[0]]})
    with pytest.raises(DatasetError, match="2 words but 1 tags"):
        prepare(uneven, DatasetSource(name="x"), TOKEN, tok_config)
    unlabelled = Dataset.from_dict({"text": ["a"], "label": [-1]})
    with pytest.raises(DatasetError, match="unlabelled"):
        prepare(unlabelled, DatasetSource(name="x"), SEQUENCE, config)
    out_of_range = Dataset.from_dict({"text": ["a"], "label": [7]})
    with pytest.raises(DatasetError, match="outside"):
        prepare(out_of_range, DatasetSource(name="x"), SEQUENCE, config)


def test_infer_task_from_config_and_card() -> None:
    from cardsmith.card.parse import parse_card
    from cardsmith.rerun.tasks import get_task, infer_task

    seq = {"architectures": ["BertForSequenceClassification"], "id2label": {"0": "a", "1": "b", "2": "c"}}
    assert infer_task(seq) == "text-classification"
    assert infer_task({"architectures": ["RobertaForTokenClassification"]}) == "token-classification"
    assert infer_task({**seq, "problem_type": "regression"}) == "text-regression"
    assert infer_task({"architectures": ["BertForSequenceClassification"], "id2label": {"0": "LABEL_0"}}) == (
        "text-regression"
    )
    assert infer_task({**seq, "problem_type": "multi_label_classification"}) == "multi-label-classification"
    assert infer_task({"architectures": ["ViTForImageClassification"]}) == "image-classification"
    wav2vec = {"architectures": ["Wav2Vec2ForSequenceClassification"], "model_type": "wav2vec2"}
    assert infer_task(wav2vec) == "audio-classification"
    assert infer_task({"architectures": ["Wav2Vec2ForCTC"]}) == "automatic-speech-recognition"
    assert infer_task({"architectures": ["BertForMaskedLM"]}) == "masked-lm"
    card = parse_card("---\npipeline_tag: summarization\n---\n# m\n")
    assert infer_task({"architectures": ["T5ForConditionalGeneration"]}, card) == "summarization"
    assert infer_task({}, card) == "summarization"
    with pytest.raises(UnsupportedTaskError, match="pass --task"):
        infer_task({})
    with pytest.raises(UnsupportedTaskError, match="supported: text-classification, token-classification"):
        get_task("no-such-task")
    for name in ("text-classification", "token-classification"):
        assert get_task(name).name == name


def test_pick_device() -> None:
    import torch

    from cardsmith.rerun.run import pick_device

    expected = (
        "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert pick_device("auto").type == expected
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(EvaluationError, match="CUDA"):
            pick_device("cuda")


# --------------------------------------------------------------------------------------------------
# resolution and writing
# --------------------------------------------------------------------------------------------------


def test_resolve_local_errors(tmp_path: Path) -> None:
    from cardsmith.rerun.resolve import resolve_model

    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ResolveError, match="is a file"):
        resolve_model(str(tmp_path / "file.txt"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(ResolveError, match="no model weights"):
        resolve_model(str(tmp_path / "m"))
    with pytest.raises(ResolveError, match="local folder"):
        resolve_model(str(tmp_path / "m"), revision="main")
    assert resolve_model(str(tmp_path / "m"), weights=False).local


def test_reproduction_section_replaced_not_duplicated() -> None:
    """cardsmith rewrites only its own marked section; a person's ``## Reproduction`` is theirs."""
    from cardsmith.audit.report import ReproducedMetric, Reproduction
    from cardsmith.rerun.write import SECTION_END, SECTION_START, replace_owned_section, reproduction_section

    rep = Reproduction(
        device="cpu",
        dataset="glue (cola)",
        split="validation",
        examples=1043,
        metrics=[ReproducedMetric(name="Loss", claimed=0.8086, reproduced=0.80861, match=True)],
    )
    person = CARD + "\n## Reproduction\n\nold text\n\n## Citation\n\ncite me\n"
    once = replace_owned_section(person, reproduction_section(rep))
    assert once.startswith(person)  # everything a person wrote, byte for byte
    assert once.count(SECTION_START) == 1 and once.rstrip().endswith(SECTION_END)
    assert "| Loss | 0.8086 | 0.8086 | yes |" in once
    rep2 = rep.model_copy(
        update={
            "metrics": [ReproducedMetric(name="Loss", claimed=0.8086, reproduced=0.80862, match=True)],
            "examples": 1000,
        }
    )
    twice = replace_owned_section(once + "\n## After\n\nmore\n", reproduction_section(rep2))
    assert twice.count(SECTION_START) == 1 and "(1000 examples" in twice and "(1043 examples" not in twice
    assert twice.startswith(person) and twice.endswith("\n## After\n\nmore\n")
