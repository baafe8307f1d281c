"""Cards from real (tiny) Trainer runs: the callback, from_trainer, from_output_dir, updates, plots.

Every run here is a real ``transformers.Trainer`` training a 2-layer BERT on CPU (a few seconds);
runs are shared between tests through module-scoped fixtures.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import tiny
from locations import CORPUS, require_corpus

from cardsmith import CardCallback, ModelCard
from cardsmith.errors import CardsmithError
from cardsmith.train.merge import CURVES_LINK, write_card
from cardsmith.train.output_dir import load_source
from cardsmith.train.record import HEADLINE_NOTE_PREFIX

pytestmark = pytest.mark.slow

_SKIP_KEYS = {
    "eval_runtime",
    "eval_samples_per_second",
    "eval_steps_per_second",
    "epoch",
    "step",
    "total_flos",
}


def maybe_round(v: Any, decimals: int = 4) -> str:
    """transformers' own rounding of card numbers."""
    from transformers.modelcard import _maybe_round

    return _maybe_round(v, decimals)


def logged_evals(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluation entries logged during training (before the training summary)."""
    out = []
    for entry in log:
        if "train_runtime" in entry:
            break
        if "eval_loss" in entry:
            out.append(entry)
    return out


def assert_table_matches_log(card: ModelCard, log: list[dict[str, Any]]) -> None:
    """Each rendered cell equals transformers' rounding of the logged value; 'No log' before any loss."""
    parsed = ModelCard.from_markdown(card.to_markdown())
    table = parsed.results
    evals = logged_evals(log)
    assert table is not None and len(table.rows) == len(evals)
    cols = table.columns
    assert cols[:4] == ["Training Loss", "Epoch", "Step", "Validation Loss"]
    last_loss: Any = None
    for entry in log:
        if "train_runtime" in entry:
            break
        if "loss" in entry:
            last_loss = entry["loss"]
        if "eval_loss" not in entry:
            continue
        row = table.rows[evals.index(entry)]
        cells = dict(zip(cols, (c.text for c in row)))
        assert cells["Training Loss"] == ("No log" if last_loss is None else maybe_round(last_loss))
        assert cells["Epoch"] == maybe_round(entry["epoch"])
        assert cells["Step"] == str(entry["step"])
        assert cells["Validation Loss"] == maybe_round(entry["eval_loss"])
        for key, value in entry.items():
            if key in _SKIP_KEYS or key == "eval_loss":
                continue
            name = " ".join(p.capitalize() for p in key.split("_")[1:])
            assert cells[name] == maybe_round(value), (name, cells[name], value)


def trainer_hyperparameter_lines(trainer: Any) -> list[str]:
    """The hyperparameter lines transformers' own card writes for this trainer."""
    from transformers.modelcard import extract_hyperparameters_from_trainer

    return [f"- {k}: {v}" for k, v in extract_hyperparameters_from_trainer(trainer).items()]


def headline_dict(card: ModelCard) -> dict[str, str]:
    return {h.name: h.value.text for h in ModelCard.from_markdown(card.to_markdown()).headline}


def expected_headline(entry: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in entry.items():
        short = key.removeprefix("eval_")
        if short in {"runtime", "samples_per_second", "steps_per_second", "epoch", "step"}:
            continue
        out[" ".join(p.capitalize() for p in short.split("_"))] = maybe_round(value)
    return out


def no_errors(card: ModelCard) -> None:
    report = card.audit()
    assert not report.has_errors, [f.message for f in report.findings if f.severity == "error"]


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seq_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, CardCallback, Path]:
    out = tmp_path_factory.mktemp("seq") / "tiny-seq"
    callback = CardCallback()
    trainer = tiny.train_seq(out, callbacks=[callback])
    return trainer, callback, out


@pytest.fixture(scope="module")
def best_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, CardCallback, Path]:
    """Token classifier, load_best_model_at_end + early stopping; "best" = highest loss = epoch 1."""
    from transformers import EarlyStoppingCallback

    out = tmp_path_factory.mktemp("best") / "tiny-ner"
    callback = CardCallback(plot=True)
    trainer = tiny.train_tok(
        out,
        callbacks=[callback, EarlyStoppingCallback(early_stopping_patience=1)],
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=True,  # perverse on purpose: the best checkpoint is not the last one
    )
    return trainer, callback, out


@pytest.fixture(scope="module")
def steps_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, CardCallback, Path]:
    """Evaluation every 10 steps, training loss every 25: rows without a training loss."""
    out = tmp_path_factory.mktemp("steps") / "tiny-steps"
    callback = CardCallback()
    trainer = tiny.train_tok(
        out,
        callbacks=[callback],
        max_steps=40,
        eval_strategy="steps",
        eval_steps=10,
        logging_strategy="steps",
        logging_steps=25,
        save_strategy="steps",
        save_steps=20,
        gradient_accumulation_steps=2,
        warmup_steps=0.1,
    )
    return trainer, callback, out


# --------------------------------------------------------------------------------------------------
# The callback's card
# --------------------------------------------------------------------------------------------------


def test_callback_card_matches_the_log(seq_run: tuple[Any, CardCallback, Path]) -> None:
    trainer, callback, out = seq_run
    readme = out / "README.md"
    assert callback.written == readme and readme.is_file()
    card = ModelCard.load(readme)
    log = trainer.state.log_history
    assert_table_matches_log(card, log)
    # Headline = the last evaluation; model-index = the headline, unrounded.
    last = logged_evals(log)[-1]
    assert headline_dict(card) == expected_headline(last)
    index_metrics = {m.name: m.value for m in card.metadata.model_index[0].results[0].metrics}
    assert index_metrics == {
        "Accuracy": last["eval_accuracy"],
        "Precision": last["eval_precision"],
        "Recall": last["eval_recall"],
        "F1": last["eval_f1"],
    }
    result = card.metadata.model_index[0].results[0]
    assert (result.task.type, result.dataset.name, result.dataset.config, result.dataset.split) == (
        "text-classification",
        tiny.SEQ_DATASET_NAME,
        "default",
        "validation",
    )
    assert card.metadata.get("base_model") == tiny.BASE_MODEL_ID == card.base_model
    assert "generated_from_trainer" in card.metadata.get("tags")
    # Hyperparameters: transformers' own lines first, then what its card never records.
    text = readme.read_text()
    lines = trainer_hyperparameter_lines(trainer)
    start = text.index(lines[0])
    assert text[start:].splitlines()[: len(lines)] == lines
    hp = card.hyperparameters
    assert hp.extra["training_precision"] == "fp32"
    assert hp.extra["weight_decay"] == str(trainer.args.weight_decay)
    assert hp.extra["max_grad_norm"] == str(trainer.args.max_grad_norm)
    assert "AdamW" in hp.extra["optimizer_class"]
    assert [fv.name for fv in card.framework_versions] == [
        "Transformers",
        "Pytorch",
        "Datasets",
        "Tokenizers",
    ]
    no_errors(card)
    assert callback.report is not None and not callback.report.has_errors


def test_from_trainer_equals_callback_card(seq_run: tuple[Any, CardCallback, Path]) -> None:
    trainer, _, out = seq_run
    card = ModelCard.from_trainer(trainer)
    assert card.to_markdown() == (out / "README.md").read_text()


def test_from_output_dir_gives_the_same_card(seq_run: tuple[Any, CardCallback, Path], tmp_path: Path) -> None:
    trainer, _, out = seq_run
    written = ModelCard.load(out / "README.md")
    for source in (out, max(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))):
        rebuilt = ModelCard.from_output_dir(source)
        assert headline_dict(rebuilt) == headline_dict(written)
        assert rebuilt.hyperparameters == written.hyperparameters  # the callback's stored record
        assert rebuilt.results.columns == written.results.columns
        assert [[c.text for c in r] for r in rebuilt.results.rows] == [
            [c.text for c in r] for r in written.results.rows
        ]
        no_errors(rebuilt)
    # Without the callback's record and without README: the table and headline still match the log.
    bare = tmp_path / "bare"
    shutil.copytree(max(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])), bare)
    state = json.loads((bare / "trainer_state.json").read_text())
    state["stateful_callbacks"].pop("CardCallback")
    (bare / "trainer_state.json").write_text(json.dumps(state))
    rebuilt = ModelCard.from_output_dir(bare)
    assert_table_matches_log(rebuilt, trainer.state.log_history)
    assert headline_dict(rebuilt) == headline_dict(written)
    assert rebuilt.hyperparameters.train_batch_size == trainer.args.train_batch_size
    assert rebuilt.hyperparameters.num_epochs == trainer.args.num_train_epochs
    assert rebuilt.hyperparameters.learning_rate is None
    assert any("could not be recovered" in n or "not recover" in n for n in rebuilt.notes)
    assert (bare / "training_args.bin").exists()  # present, and never unpickled


def test_push_to_hub_card_writing_keeps_cardsmith_card(seq_run: tuple[Any, CardCallback, Path]) -> None:
    """push_to_hub calls trainer.create_model_card(): it must not replace the card or a person's text."""
    trainer, _, out = seq_run
    readme = out / "README.md"
    before = readme.read_text()
    edited = before.replace(
        "## Model description\n\nMore information needed",
        "## Model description\n\nA keyword sentiment classifier.",
    )
    readme.write_text(edited)
    try:
        trainer.create_model_card(model_name="tiny-seq", license="apache-2.0")
        after = readme.read_text()
        assert "A keyword sentiment classifier." in after
        assert "- optimizer_class:" in after  # cardsmith's card, not the Trainer's template
        assert ModelCard.load(readme).metadata.license == "apache-2.0"
    finally:
        readme.write_text(before)


# --------------------------------------------------------------------------------------------------
# load_best_model_at_end, early stopping, steps, no evaluation
# --------------------------------------------------------------------------------------------------


def test_best_checkpoint_headline_and_explanation(best_run: tuple[Any, CardCallback, Path]) -> None:
    trainer, _, out = best_run
    log = trainer.state.log_history
    evals = logged_evals(log)
    assert len(evals) == 2  # early stopping after one worse evaluation (patience 1)
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-20")
    card = ModelCard.load(out / "README.md")
    assert_table_matches_log(card, log)
    assert headline_dict(card) == expected_headline(evals[0])  # the best row, not the last one
    text = (out / "README.md").read_text()
    sentence = [ln for ln in text.splitlines() if ln.startswith(HEADLINE_NOTE_PREFIX)]
    assert len(sentence) == 1 and "`checkpoint-20`" in sentence[0] and "load_best_model_at_end" in sentence[0]
    # Stable: re-rendering and re-building keep exactly one sentence.
    assert ModelCard.load(out / "README.md").to_markdown() == text
    rebuilt = ModelCard.from_output_dir(out)
    assert headline_dict(rebuilt) == headline_dict(card)
    assert rebuilt.to_markdown().count(HEADLINE_NOTE_PREFIX) == 1
    no_errors(card)


def test_plot_written_and_linked_once(best_run: tuple[Any, CardCallback, Path]) -> None:
    _, _, out = best_run
    png = out / "training_curves.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "README.md").read_text()
    assert text.count(CURVES_LINK) == 1
    write_card(ModelCard.from_output_dir(out), out / "README.md", plot=True)
    assert (out / "README.md").read_text().count(CURVES_LINK) == 1


def test_steps_eval_with_no_log_cells(steps_run: tuple[Any, CardCallback, Path]) -> None:
    trainer, _, out = steps_run
    card = ModelCard.load(out / "README.md")
    log = trainer.state.log_history
    assert_table_matches_log(card, log)
    column = card.results.column("Training Loss")
    assert [c.text for c in column][:2] == ["No log", "No log"]
    assert column[2].text != "No log"
    hp = card.hyperparameters
    assert hp.training_steps == 40 and hp.num_epochs is None
    assert hp.gradient_accumulation_steps == 2 and hp.total_train_batch_size == 16
    assert hp.lr_scheduler_warmup_steps == 0.1
    assert hp.extra["warmup_steps_effective"] == "4"
    rebuilt = ModelCard.from_output_dir(out)
    assert rebuilt.hyperparameters == hp
    assert [[c.text for c in r] for r in rebuilt.results.rows] == [
        [c.text for c in r] for r in card.results.rows
    ]
    no_errors(card)


def test_no_evaluation_run(tmp_path: Path) -> None:
    out = tmp_path / "noeval"
    callback = CardCallback()
    tiny.train_seq(out, callbacks=[callback], eval_strategy="no", save_strategy="no", num_train_epochs=1)
    card = ModelCard.load(out / "README.md")
    assert card.results is None and card.headline == []
    assert card.metadata.model_index[0].results == []
    assert card.hyperparameters.learning_rate == 3e-3
    no_errors(card)


# --------------------------------------------------------------------------------------------------
# Updating a card a person edited
# --------------------------------------------------------------------------------------------------


def test_second_run_updates_numbers_and_keeps_edits(tmp_path: Path) -> None:
    out = tmp_path / "rerun"
    tiny.train_seq(out, callbacks=[CardCallback()], num_train_epochs=2, save_strategy="no")
    readme = out / "README.md"
    text = readme.read_text()
    text = text.replace(
        "## Model description\n\nMore information needed",
        "## Model description\n\nDetects sentiment from keywords.",
    )
    text = text.replace("---\n\n<!--", "---\n\n<!--", 1)
    text = text.replace("library_name: transformers\n", "library_name: transformers\nowner: qa-team\n", 1)
    text += "\n## Contact\n\nWrite to qa@example.org.\n"
    readme.write_text(text)

    trainer = tiny.train_seq(
        out, callbacks=[CardCallback()], num_train_epochs=3, save_strategy="no", learning_rate=4e-3
    )
    after = readme.read_text()
    assert "Detects sentiment from keywords." in after
    assert "## Contact\n\nWrite to qa@example.org." in after
    card = ModelCard.load(readme)
    assert list(card.metadata.data)[:2] == ["library_name", "owner"]
    assert card.metadata.get("owner") == "qa-team"
    assert card.hyperparameters.learning_rate == 4e-3 and card.hyperparameters.num_epochs == 3
    assert_table_matches_log(card, trainer.state.log_history)
    assert len(card.results.rows) == 3
    assert headline_dict(card) == expected_headline(logged_evals(trainer.state.log_history)[-1])
    no_errors(card)


# --------------------------------------------------------------------------------------------------
# Sources, CLI, corpus
# --------------------------------------------------------------------------------------------------


def test_render_output_dir_cli(seq_run: tuple[Any, CardCallback, Path], tmp_path: Path) -> None:
    from cardsmith.cli.app import main

    _, _, out = seq_run
    target = tmp_path / "card.md"
    assert main(["render", str(out), "-o", str(target)]) == 0
    assert ModelCard.load(target).results == ModelCard.load(out / "README.md").results
    # Rendering again into the same file keeps what a person added.
    target.write_text(target.read_text() + "\n## Notes\n\nhand-written\n")
    assert main(["render", str(out), "-o", str(target), "--plot"]) == 0
    text = target.read_text()
    assert "hand-written" in text and text.count(CURVES_LINK) == 1
    assert (tmp_path / "training_curves.png").is_file()


def test_load_source_kinds_and_errors(seq_run: tuple[Any, CardCallback, Path], tmp_path: Path) -> None:
    _, _, out = seq_run
    assert load_source(str(out / "README.md")).results is not None
    assert load_source(str(out)).results is not None
    only_card = tmp_path / "model"
    only_card.mkdir()
    shutil.copy(out / "README.md", only_card / "README.md")
    assert load_source(str(only_card)).title == ModelCard.load(out / "README.md").title
    dumped = tmp_path / "card.json"
    dumped.write_text(ModelCard.load(out / "README.md").model_dump_json())
    assert load_source(str(dumped)).headline == ModelCard.load(out / "README.md").headline
    for bad in (tmp_path / "missing", tmp_path / "empty"):
        if bad.name == "empty":
            bad.mkdir()
        with pytest.raises(CardsmithError):
            load_source(str(bad))
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2")
    with pytest.raises(CardsmithError):
        load_source(str(junk))


def test_corpus_trainer_states() -> None:
    states = sorted(require_corpus(CORPUS / "trainer_states").glob("*.json"))
    assert len(states) == 20
    for path in states:
        log = json.loads(path.read_text())["log_history"]
        card = ModelCard.from_output_dir(path)
        evals = [
            e for e in log if "eval_loss" in e and not any("train_runtime" in x for x in log[: log.index(e)])
        ]
        rows = card.results.rows if card.results else []
        assert len(rows) == len(evals), path.name
        for row, entry in zip(rows, evals):
            cells = dict(zip(card.results.columns, (c.text for c in row)))
            assert cells["Validation Loss"] == maybe_round(entry["eval_loss"]), path.name
            assert cells["Step"] == str(entry["step"]), path.name
        card.to_markdown()


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cardsmith.errors import MissingExtraError
    from cardsmith.train.plot import plot_training_curves

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match=r"cardsmith\[plot\]"):
        plot_training_curves(ModelCard(), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_evaluate_after_training_becomes_the_headline(best_run: tuple[Any, CardCallback, Path]) -> None:
    """Last test on best_run (it rewrites the card): trainer.evaluate() after load_best_model_at_end."""
    trainer, _callback, out = best_run
    metrics = trainer.evaluate()
    card = ModelCard.load(out / "README.md")
    assert headline_dict(card) == expected_headline(metrics)
    assert headline_dict(card) == expected_headline(logged_evals(trainer.state.log_history)[0])
    text = (out / "README.md").read_text()
    assert text.count(HEADLINE_NOTE_PREFIX) == 1 and "final evaluation of the best checkpoint" in text
    assert text.count(CURVES_LINK) == 1
    no_errors(card)


def test_unreadable_existing_readme_does_not_break_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broken"
    out.mkdir()
    (out / "README.md").write_bytes(b"---\nkey: [unclosed\n---\n# x\n")
    trainer = tiny.train_seq(out, callbacks=[CardCallback()], num_train_epochs=1, save_strategy="no")
    assert trainer.state.global_step > 0
    assert "could not write the model card" in capsys.readouterr().err
    assert (out / "README.md").read_bytes() == b"---\nkey: [unclosed\n---\n# x\n"
