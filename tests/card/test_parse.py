"""The parser: what it reads from Trainer cards, and what it refuses (with cardsmith's own errors)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from locations import CORPUS_CARDS as CORPUS
from locations import REPO, require_corpus

from cardsmith.api import ModelCard
from cardsmith.card.io import MAX_TABLE_ROWS
from cardsmith.card.model import parse_optimizer
from cardsmith.card.render import render_card
from cardsmith.errors import CardsmithError, InputTooLargeError, NotACardError, ParseError

SEED = REPO / "fixtures" / "seeds" / "seed-004-distilbert-base-uncased-finetuned-conll2003" / "README.md"


def _corpus(name: str) -> str:
    path = CORPUS / name
    require_corpus(CORPUS)
    return path.read_bytes().decode("utf-8")


# -- a Trainer card, field by field ------------------------------------------------------------------


def test_seed_card_fields() -> None:
    card = ModelCard.load(SEED)
    assert card.title == "distilbert-base-uncased-finetuned-conll2003"
    assert card.base_model == "distilbert-base-uncased"
    assert card.dataset_name == "conll2003"
    assert [(h.name, h.value.text, h.value.value) for h in card.headline][:2] == [
        ("Loss", "0.3165", 0.3165),
        ("Precision", "0.9109", 0.9109),
    ]
    hp = card.hyperparameters
    assert hp is not None
    assert hp.learning_rate == 2e-05 and hp.train_batch_size == 16 and hp.seed == 42
    assert hp.num_epochs == 3 and isinstance(hp.num_epochs, int)
    assert hp.order == [
        "learning_rate",
        "train_batch_size",
        "eval_batch_size",
        "seed",
        "optimizer",
        "lr_scheduler_type",
        "num_epochs",
    ]
    assert hp.optimizer is not None and hp.optimizer.name == "Adam"
    assert hp.optimizer.betas == (0.9, 0.999) and hp.optimizer.epsilon == 1e-08
    table = card.results
    assert table is not None
    assert table.columns[:4] == ["Training Loss", "Epoch", "Step", "Validation Loss"]
    assert [c.text for c in table.rows[2]] == [
        "0.2047",
        "3.0",
        "2634",
        "0.3165",
        "0.9109",
        "0.9144",
        "0.9126",
        "0.9246",
    ]
    assert table.rows[2][3].decimals == 4
    assert card.metadata.model_index is not None
    assert card.metadata.model_index[0].results[0].metrics[0].value == 0.9109
    assert card.metadata.model_index_key == "model-index"
    assert card.metadata.raw is not None and card.metadata.raw.startswith("library_name: transformers\n")
    assert [b.kind for b in card.blocks if b.kind != "text"] == [
        "metadata",
        "title",
        "intro",
        "headline",
        "hyperparameters",
        "results",
    ]
    assert ModelCard.of(card).section_text("model description") == "More information needed"
    assert ModelCard.of(card).section_text("Nonexistent section") is None


def test_trainer_card_quirks_from_the_corpus() -> None:
    # No log cells, short "0.03" cells, framework versions
    card = ModelCard.from_markdown(
        _corpus(
            "saranscript__huggingface-models__models__rossanez__t5-small-finetuned-de-en-batch8__README.md"
        )
    )
    assert card.results is not None
    first = card.results.rows[0][0]
    assert first.text == "No log" and first.value is None
    # old model_index key with a singular metric mapping and "datasets: - null"
    card = ModelCard.from_markdown(
        _corpus(
            "saranscript__huggingface-models__models__hoanhkhoa__bert-base-uncased-finetuned-ner__README.md"
        )
    )
    assert card.metadata.model_index_key == "model_index"
    assert card.dataset_name is None  # "on the None dataset"
    mi = card.metadata.model_index
    assert mi is not None and mi[0].results[0].metrics[0].value == pytest.approx(0.9853695435592783)
    assert card.metadata.data["datasets"] == [None]
    # raw eval_* headline keys are kept as written
    card = ModelCard.from_markdown(_corpus("s-nlp__compression__data__bert-default-fp16__mrpc__README.md"))
    names = [h.name for h in card.headline]
    assert "eval_loss" in names and "step" in names
    # transformers-5 optimizer wording, CRLF line endings, a Model Preparation Time headline
    card = ModelCard.from_markdown(_corpus("Karthik-MP__hugging_face_translations__README.md"))
    assert card.newline == "\r\n"
    assert card.hyperparameters is not None and card.hyperparameters.optimizer is not None
    assert card.hyperparameters.optimizer.name == "adamw_torch"
    assert card.hyperparameters.optimizer.args == "No additional optimizer arguments"
    assert card.results is None  # the "Training results" section is empty
    # tags as a scalar string, Keras-template table (not a Trainer results table), no trailing newline
    card = ModelCard.from_markdown(
        _corpus("Wenxin-Jiang__CS577-NLP__project__model_cards___noArch__merve_mnist_README.md")
    )
    assert card.metadata.data["tags"] == "image-classification"
    assert card.trailing_newline is False
    assert card.hyperparameters is not None and card.hyperparameters.extra == {
        "training_precision": "float32"
    }
    # headline values printed unrounded, fractional epochs
    card = ModelCard.from_markdown(_corpus("anthonyrathe__fixed-whisperv2-flemish__README.md"))
    assert card.headline[0].value.text == "0.23932012915611267"
    # an unclosed code fence at the end of a hand-written card
    card = ModelCard.from_markdown(_corpus("10844110__t5-summarization-demo__README.md"))
    assert card.results is None and card.headline == []


@pytest.mark.parametrize(
    ("text", "name", "betas", "eps", "args"),
    [
        ("Adam with betas=(0.9,0.999) and epsilon=1e-08", "Adam", (0.9, 0.999), 1e-08, None),
        (
            (
                "Use OptimizerNames.ADAMW_TORCH_FUSED with betas=(0.9,0.999) and epsilon=1e-08 and "
                "optimizer_args=No additional optimizer arguments"
            ),
            "OptimizerNames.ADAMW_TORCH_FUSED",
            (0.9, 0.999),
            1e-08,
            "No additional optimizer arguments",
        ),
        (
            (
                "Use adamw_torch with betas=(0.9,0.999) and epsilon=1e-08 and optimizer_args=No additional "
                "optimizer arguments"
            ),
            "adamw_torch",
            (0.9, 0.999),
            1e-08,
            "No additional optimizer arguments",
        ),
        (
            "Use adafactor and the args are:\nNo additional optimizer arguments",
            "adafactor",
            None,
            None,
            "No additional optimizer arguments",
        ),
        ("AdamW with betas=(0.9, 0.999)", "AdamW", (0.9, 0.999), None, None),
        (
            "{'name': 'Adam', 'learning_rate': 0.001, 'beta_1': 0.9, 'beta_2': 0.999, 'epsilon': 1e-07}",
            "Adam",
            (0.9, 0.999),
            1e-07,
            None,
        ),
    ],
)
def test_optimizer_wordings(
    text: str, name: str, betas: tuple[float, float] | None, eps: float | None, args: str | None
) -> None:
    opt = parse_optimizer(text)
    assert (opt.name, opt.betas, opt.epsilon, opt.args) == (name, betas, eps, args)
    assert opt.text == text


def test_multiline_optimizer_item_and_unknown_keys() -> None:
    text = (
        "# m\n\n### Training hyperparameters\n\n"
        "The following hyperparameters were used during training:\n"
        "- learning_rate: 0.0001\n"
        "- optimizer: Use adafactor and the args are:\n"
        "No additional optimizer arguments\n"
        "- weight_decay: 0.01\n"
        "- num_epochs: 2.5\n"
        "- lr_scheduler_warmup_ratio: 0.1\n"
    )
    card = ModelCard.from_markdown(text)
    hp = card.hyperparameters
    assert hp is not None
    assert hp.optimizer is not None and hp.optimizer.name == "adafactor"
    assert hp.optimizer.args == "No additional optimizer arguments"
    assert hp.extra == {"weight_decay": "0.01"}
    assert hp.num_epochs == 2.5 and hp.lr_scheduler_warmup_ratio == 0.1
    assert hp.order == [
        "learning_rate",
        "optimizer",
        "weight_decay",
        "num_epochs",
        "lr_scheduler_warmup_ratio",
    ]
    assert render_card(card) == text
    card.hyperparameters.seed = 7  # type: ignore[union-attr]
    out = render_card(card)
    assert (
        "- learning_rate: 0.0001\n- seed: 7\n- optimizer: Use adafactor and the args are:\n"
        "No additional optimizer arguments\n- weight_decay: 0.01\n" in out
    )


def test_short_rows_and_text_cells() -> None:
    text = "## Training results\n\n| Training Loss | Epoch | F1 |\n|---|---|---|\n| No log | 1.0 |\n| 0.5 | 2.0 | 0.9 |\n"
    card = ModelCard.from_markdown(text)
    table = card.results
    assert table is not None
    assert [c.text for c in table.rows[0]] == ["No log", "1.0", ""]
    assert table.rows[0][0].value is None and table.rows[0][2].value is None
    assert render_card(card) == text


def test_hand_written_prose_is_a_card() -> None:
    card = ModelCard.from_markdown("Just some notes about my model.\n\nIt is good.\n")
    assert card.title is None and card.results is None and card.headline == []
    assert render_card(card) == "Just some notes about my model.\n\nIt is good.\n"


# -- what is not a card ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", NotACardError),
        (b"   \n\t\n", NotACardError),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", NotACardError),
        (bytes(range(256)) * 4, NotACardError),
        (b"caf\xe9 \xff\xfe not utf-8", NotACardError),
        (b"---\n- a\n- b\n---\n# t\n", ParseError),
        (b"---\njust a scalar\n---\n# t\n", ParseError),
        (b"---\nkey: [unclosed\n---\n# t\n", ParseError),
    ],
)
def test_not_a_card_raises_cardsmith_errors_only(tmp_path: Path, data: bytes, error: type[Exception]) -> None:
    path = tmp_path / "README.md"
    path.write_bytes(data)
    with pytest.raises(error) as excinfo:
        ModelCard.load(path)
    assert isinstance(excinfo.value, CardsmithError)
    assert str(excinfo.value)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    with pytest.raises(error):
        ModelCard.from_markdown(text)


def test_load_card_folder_and_json(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="without a README.md"):
        ModelCard.load(tmp_path)
    (tmp_path / "README.md").write_text(SEED.read_bytes().decode("utf-8"), encoding="utf-8")
    card = ModelCard.load(tmp_path)
    dump = tmp_path / "card.json"
    dump.write_text(card.model_dump_json(), encoding="utf-8")
    again = ModelCard.load(dump)
    assert again.to_markdown() == SEED.read_bytes().decode("utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text('{"headline": 3}', encoding="utf-8")
    with pytest.raises(ParseError, match="not a cardsmith ModelCard JSON"):
        ModelCard.load(bad)
    with pytest.raises(ParseError, match="no such file"):
        ModelCard.load(tmp_path / "missing.md")


# -- speed -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_long_table_parses_fast() -> None:
    rows = [
        "| Training Loss | Epoch | Step | Validation Loss | Accuracy |",
        "|:---:|:---:|:---:|:---:|:---:|",
    ]
    rows += [
        f"| {i % 997 / 1000:.4f} | {i / 100:.2f} | {i} | {i % 991 / 1000:.4f} | 0.{i % 9973:04d} |"
        for i in range(100_000)
    ]
    text = "# big\n\n### Training results\n\n" + "\n".join(rows) + "\n"
    start = time.perf_counter()
    card = ModelCard.from_markdown(text)
    elapsed = time.perf_counter() - start
    assert card.results is not None and len(card.results.rows) == 100_000
    assert card.results.rows[-1][2].text == "99999"
    assert elapsed < 10.0, f"100k-row table took {elapsed:.1f}s"
    assert render_card(card) == text


def test_too_many_rows_is_an_input_error() -> None:
    rows = "| 1 |\n" * (MAX_TABLE_ROWS + 1)
    with pytest.raises(InputTooLargeError):
        ModelCard.from_markdown("### Training results\n\n| a |\n|---|\n" + rows)


def test_card_api_round_trip() -> None:
    text = SEED.read_bytes().decode("utf-8")
    assert ModelCard.from_markdown(text).to_markdown() == text
    assert ModelCard.load(SEED).section_text("Intended uses & limitations") == "More information needed"


def test_unclosed_front_matter_is_read_as_huggingface_hub_reads_it() -> None:
    from huggingface_hub import ModelCard as HubCard

    from cardsmith.card.model import FRONT_MATTER_UNCLOSED
    from cardsmith.card.parse import parse_card

    text = "---\nlicense: mit\nmodel-index: []\n\n# my-model\n\nIt achieves the following results on the evaluation set:\n- Loss: 0.25\n"
    hub = HubCard(text)
    assert hub.data.to_dict() == {} and hub.text.startswith("---")  # the Hub reads no metadata
    card = parse_card(text)
    assert card.metadata.data in ({}, None) and card.metadata.license is None
    assert FRONT_MATTER_UNCLOSED in card.notes
    assert card.title == "my-model" and [m.name for m in card.headline] == ["Loss"]
