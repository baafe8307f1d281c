"""The renderer: golden files, the Trainer's own layout for cards built in code, and local edits."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from locations import CORPUS_CARDS as CORPUS
from locations import REPO, require_corpus

from cardsmith.api import ModelCard
from cardsmith.card.model import (
    Cell,
    FrameworkVersion,
    HeadlineMetric,
    Hyperparameters,
    IndexDataset,
    IndexMetric,
    IndexResult,
    IndexTask,
    Metadata,
    ModelIndexEntry,
    Optimizer,
    ResultsTable,
)
from cardsmith.card.numbers import trainer_round as format_value
from cardsmith.card.parse import load_card, parse_card
from cardsmith.card.render import format_table, render_card

SEEDS = REPO / "fixtures" / "seeds"
GOLDEN = REPO / "fixtures" / "golden"
SEED_SLUGS = sorted(p.name for p in SEEDS.iterdir() if (p / "README.md").is_file())
FIXED_VERSIONS = [
    ("Transformers", "4.18.0"),
    ("Pytorch", "1.10.0+cu111"),
    ("Datasets", "2.1.0"),
    ("Tokenizers", "0.12.1"),
]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _changed(before: str, after: str) -> tuple[list[str], list[str]]:
    """Lines removed and lines added between two texts."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


# -- (a) seed fixtures against their golden renderings --------------------------------------------


def test_five_seed_fixtures() -> None:
    assert len(SEED_SLUGS) == 5


@pytest.mark.parametrize("slug", SEED_SLUGS)
def test_seed_renders_golden(slug: str) -> None:
    golden = _read(GOLDEN / f"{slug}.md")
    card = load_card(SEEDS / slug / "README.md")
    assert render_card(card) == golden
    # The fixtures are transformers' own output, so regenerating every part in cardsmith's Trainer
    # layout (snapshots cleared) must give the same bytes.
    for block in card.blocks:
        if block.kind != "text":
            block.snapshot = None
    assert render_card(card) == golden


def test_seed_defects_are_kept() -> None:
    card = load_card(SEEDS / "seed-001-hflchinese-bert-wwm-ext" / "README.md")
    assert card.results is not None and "Step" not in card.results.columns
    rows = [[c.text for c in row] for row in card.results.rows]
    assert rows[3] == ["0.4235", "4.0", "0.9546", "0.9546"]  # validation loss == F1
    assert rows[2][2] == rows[3][0] == "0.4235"  # shifted cell
    assert [(h.name, h.value.text) for h in card.headline] == [("Loss", "0.4235"), ("F1", "0.9546")]
    card = load_card(SEEDS / "seed-000-hflchinese-bert-wwm-ext" / "README.md")
    assert card.results is not None
    assert {row[4].text for row in card.results.rows} == {"0.9546"}  # frozen F1
    assert card.dataset_name is None and card.framework_versions == []
    card = load_card(SEEDS / "seed-003-favs-token-classification-v2-updated-data" / "README.md")
    assert card.results is not None and [r[0].text for r in card.results.rows] == ["1.0", "20.0"]
    assert card.hyperparameters is not None and card.hyperparameters.num_epochs == 20


# -- (b) a card built in code renders as transformers' TrainingSummary.to_model_card --------------


def _scratch_card(versions: list[tuple[str, str]]) -> ModelCard:
    results = ResultsTable(
        columns=["Training Loss", "Epoch", "Step", "Validation Loss", "Accuracy", "F1"],
        rows=[
            [
                Cell.of(None),
                Cell.of(1.0),
                Cell.of(50),
                Cell.of(0.6931471805599453),
                Cell.of(0.5),
                Cell.of(0.0),
            ],
            [
                Cell.of(0.6412345),
                Cell.of(2.0),
                Cell.of(100),
                Cell.of(0.5123456789),
                Cell.of(0.75),
                Cell.of(0.7272727272727273),
            ],
            [
                Cell.of(0.41),
                Cell.of(3.0),
                Cell.of(150),
                Cell.of(0.30459123),
                Cell.of(0.8765432),
                Cell.of(0.9),
            ],
        ],
    )
    return ModelCard(
        metadata=Metadata(
            data={
                "library_name": "transformers",
                "license": "apache-2.0",
                "base_model": "bert-base-uncased",
                "tags": ["generated_from_trainer"],
                "datasets": ["imdb"],
                "metrics": ["accuracy", "f1"],
            },
            model_index=[
                ModelIndexEntry(
                    name="bert-imdb",
                    results=[
                        IndexResult(
                            task=IndexTask(name="Text Classification", type="text-classification"),
                            dataset=IndexDataset(
                                name="imdb", type="imdb", config="plain_text", split="test", args="plain_text"
                            ),
                            metrics=[
                                IndexMetric(name="Accuracy", type="accuracy", value=0.8765432),
                                IndexMetric(name="F1", type="f1", value=0.9),
                            ],
                        )
                    ],
                )
            ],
        ),
        title="bert-imdb",
        base_model="bert-base-uncased",
        dataset_name="imdb",
        headline=[
            HeadlineMetric(name="Loss", value=Cell.of(0.30459123)),
            HeadlineMetric(name="Accuracy", value=Cell.of(0.8765432)),
            HeadlineMetric(name="F1", value=Cell.of(0.9)),
        ],
        hyperparameters=Hyperparameters(
            learning_rate=2e-05,
            train_batch_size=8,
            eval_batch_size=8,
            seed=42,
            optimizer=Optimizer(
                text="",
                name="adamw_torch",
                betas=(0.9, 0.999),
                epsilon=1e-08,
                args="No additional optimizer arguments",
            ),
            lr_scheduler_type="linear",
            num_epochs=3.0,
        ),
        results=results,
        framework_versions=[FrameworkVersion(name=n, version=v) for n, v in versions],
    )


def _transformers_card(versions: list[tuple[str, str]]) -> str:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.modelcard import TrainingSummary

    summary = TrainingSummary(
        model_name="bert-imdb",
        license="apache-2.0",
        tags=["generated_from_trainer"],
        finetuned_from="bert-base-uncased",
        tasks="text-classification",
        dataset="imdb",
        dataset_tags="imdb",
        dataset_args="plain_text",
        dataset_metadata=[{"config": "plain_text", "split": "test"}],
        eval_results={"Loss": 0.30459123, "Accuracy": 0.8765432, "F1": 0.9},
        eval_lines=[
            {
                "Training Loss": "No log",
                "Epoch": 1.0,
                "Step": 50,
                "Validation Loss": 0.6931471805599453,
                "Accuracy": 0.5,
                "F1": 0.0,
            },
            {
                "Training Loss": 0.6412345,
                "Epoch": 2.0,
                "Step": 100,
                "Validation Loss": 0.5123456789,
                "Accuracy": 0.75,
                "F1": 0.7272727272727273,
            },
            {
                "Training Loss": 0.41,
                "Epoch": 3.0,
                "Step": 150,
                "Validation Loss": 0.30459123,
                "Accuracy": 0.8765432,
                "F1": 0.9,
            },
        ],
        hyperparameters={
            "learning_rate": 2e-05,
            "train_batch_size": 8,
            "eval_batch_size": 8,
            "seed": 42,
            "optimizer": "Use adamw_torch with betas=(0.9,0.999) and epsilon=1e-08 and "
            "optimizer_args=No additional optimizer arguments",
            "lr_scheduler_type": "linear",
            "num_epochs": 3.0,
        },
    )
    text = summary.to_model_card()
    head, sep, _ = text.partition("\n### Framework versions\n")
    return head + sep + "\n" + "".join(f"- {n} {v}\n" for n, v in versions)


def test_scratch_card_matches_golden() -> None:
    out = _scratch_card(FIXED_VERSIONS).to_markdown()
    assert out == _read(GOLDEN / "scratch-trainer-layout.md")


@pytest.mark.slow
def test_scratch_card_matches_transformers() -> None:
    assert _scratch_card(FIXED_VERSIONS).to_markdown() == _transformers_card(FIXED_VERSIONS)


def test_scratch_card_round_trips() -> None:
    out = _scratch_card(FIXED_VERSIONS).to_markdown()
    card = parse_card(out)
    assert [c.text for c in card.results.rows[1]] == ["0.6412", "2.0", "100", "0.5123", "0.75", "0.7273"]  # type: ignore[union-attr]
    assert card.metadata.model_index is not None and card.metadata.model_index[0].name == "bert-imdb"
    assert render_card(card) == out


def test_format_value_and_table_like_transformers() -> None:
    assert format_value(0.30459123) == "0.3046"
    assert format_value(0.03) == "0.03"
    assert format_value(1.0) == "1.0"
    assert format_value(1756) == "1756"
    assert format_value(2e-05) == "2e-05"
    assert format_value("No log") == "No log"
    table = ResultsTable(
        columns=["Epoch", "Loss"], rows=[[Cell.of(1.0), Cell(text="", value=0.123456)], [Cell.of(2.0)]]
    )
    assert (
        format_table(table)
        == "| Epoch | Loss   |\n|:-----:|:------:|\n| 1.0   | 0.1235 |\n| 2.0   |        |\n"
    )


# -- (c) editing a parsed card changes only what was edited -----------------------------------------


def test_edits_change_only_their_lines() -> None:
    path = SEEDS / "seed-004-distilbert-base-uncased-finetuned-conll2003" / "README.md"
    original = _read(path)
    card = load_card(path)
    table = card.results
    assert table is not None
    table.rows[1][3] = Cell.parse("0.3333")
    card.headline.append(HeadlineMetric(name="Runtime", value=Cell.of(12.3456789)))
    card.metadata.data["license"] = "mit"
    out = render_card(card)
    removed, added = _changed(original, out)
    assert removed == [
        "license: apache-2.0",
        "| 0.2533        | 2.0   | 1756 | 0.3216          | 0.9091    | 0.9104 | 0.9098 | 0.9233   |",
    ]
    assert added == [
        "license: mit",
        "- Runtime: 12.3457",
        "| 0.2533        | 2.0   | 1756 | 0.3333          | 0.9091    | 0.9104 | 0.9098 | 0.9233   |",
    ]
    again = parse_card(out)
    assert again.headline[-1].name == "Runtime" and again.results is not None
    assert again.results.rows[1][3].text == "0.3333"


def test_model_index_edit_flows_into_front_matter() -> None:
    path = SEEDS / "seed-004-distilbert-base-uncased-finetuned-conll2003" / "README.md"
    original = _read(path)
    card = load_card(path)
    assert card.metadata.model_index is not None
    card.metadata.model_index[0].results[0].metrics[2].value = 0.5
    removed, added = _changed(original, render_card(card))
    assert (removed, added) == (["      value: 0.9126"], ["      value: 0.5"])


def test_removing_a_part_removes_its_lines() -> None:
    path = SEEDS / "seed-002-multi-minilm-finetuned-amazon-review" / "README.md"
    original = _read(path)
    card = load_card(path)
    card.results = None
    removed, added = _changed(original, render_card(card))
    assert added == [] and len(removed) == 7 and all(line.startswith("|") for line in removed)


def test_table_inserted_into_empty_results_section_crlf() -> None:
    path = CORPUS / "Karthik-MP__hugging_face_translations__README.md"
    require_corpus(CORPUS)
    original = _read(path)
    card = parse_card(original)
    assert card.results is None
    card.results = ResultsTable(
        columns=["Training Loss", "Epoch", "Step", "Validation Loss", "Bleu"],
        rows=[[Cell.of(None), Cell.of(1.0), Cell.of(100), Cell.of(0.9), Cell.of(50.1234567)]],
    )
    out = render_card(card)
    assert "\n" not in out.replace("\r\n", "")  # still CRLF everywhere
    assert (
        "### Training results\r\n\r\n"
        "| Training Loss | Epoch | Step | Validation Loss | Bleu    |\r\n"
        "|:-------------:|:-----:|:----:|:---------------:|:-------:|\r\n"
        "| No log        | 1.0   | 100  | 0.9             | 50.1235 |\r\n"
        "\r\n\r\n### Framework versions"
    ) in out
    removed, _ = _changed(original, out)
    assert [line for line in removed if line.strip()] == []
    again = parse_card(out)
    assert again.results is not None and render_card(again) == out


def test_parts_inserted_where_the_trainer_puts_them() -> None:
    text = (
        "# my-model\n\nThis model is a fine-tuned version of [b](https://huggingface.co/b) on the d dataset.\n\n"
        "## Model description\n\nHand-written words.\n\n## Training procedure\n\n"
        "### Training hyperparameters\n\nMore information needed\n"
    )
    card = parse_card(text)
    card.headline = [HeadlineMetric(name="Loss", value=Cell.of(0.25))]
    card.hyperparameters = Hyperparameters(learning_rate=5e-05, num_epochs=2)
    card.results = ResultsTable(columns=["Epoch", "Validation Loss"], rows=[[Cell.of(1.0), Cell.of(0.25)]])
    card.framework_versions = [FrameworkVersion(name="Transformers", version="4.40.0")]
    assert render_card(card) == (
        "# my-model\n\nThis model is a fine-tuned version of [b](https://huggingface.co/b) on the d dataset.\n"
        "It achieves the following results on the evaluation set:\n- Loss: 0.25\n\n"
        "## Model description\n\nHand-written words.\n\n## Training procedure\n\n"
        "### Training hyperparameters\n\nThe following hyperparameters were used during training:\n"
        "- learning_rate: 5e-05\n- num_epochs: 2\n\n"
        "### Training results\n\n| Epoch | Validation Loss |\n|:-----:|:---------------:|\n| 1.0   | 0.25            |\n\n"
        "### Framework versions\n\n- Transformers 4.40.0\n"
    )


def test_parts_added_to_a_hand_written_card() -> None:
    text = "Notes about a model, no trailing newline"
    card = parse_card(text)
    card.results = ResultsTable(columns=["Epoch", "Loss"], rows=[[Cell.of(1.0), Cell.of(0.5)]])
    card.metadata.data["license"] = "mit"
    assert render_card(card) == (
        "---\nlicense: mit\n---\nNotes about a model, no trailing newline\n\n## Training procedure\n\n"
        "### Training results\n\n| Epoch | Loss |\n|:-----:|:----:|\n| 1.0   | 0.5  |"
    )
