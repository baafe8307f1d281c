"""Accurate cards from training runs: a live ``Trainer``, or a training output folder.

Two sources, one card builder:

* :func:`card_from_trainer` reads ``trainer.state`` (the log), ``trainer.args``, the model's config
  and the ``datasets`` objects. It produces the same lines as ``transformers``' own card
  (``TrainingSummary.from_trainer``: ``parse_log_history`` for the table and the headline,
  ``extract_hyperparameters_from_trainer`` for the hyperparameters) plus what that card never
  records (precision, weight decay, gradient clipping, effective warmup, the optimizer class), and a
  sentence saying which checkpoint the headline reports when it is not the last evaluation.
* :func:`card_from_output_dir` rebuilds the card from ``trainer_state.json`` (its log, best
  checkpoint, batch size, epochs and steps), ``config.json`` and an existing ``README.md`` without
  unpickling ``training_args.bin``. When the run used :class:`cardsmith.CardCallback`, the
  callback's record (stored by the Trainer in ``trainer_state.json`` under ``stateful_callbacks``)
  restores every hyperparameter; otherwise what cannot be recovered is left out and said in
  ``card.notes``.

Both go through :class:`TrainingRecord` (what a run's card needs besides its log) and
:func:`build_card`. This module imports ``transformers``/``datasets`` only inside the functions that
receive their objects, so ``cardsmith render OUTPUT_DIR`` works on the light core.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

from pydantic import BaseModel, Field

from cardsmith.card.model import (
    Card,
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
    parse_optimizer,
)
from cardsmith.card.numbers import trainer_round
from cardsmith.card.render import layout
from cardsmith.errors import ParseError

TASK_TAG_TO_NAME: dict[str, str] = {
    "fill-mask": "Masked Language Modeling",
    "image-classification": "Image Classification",
    "image-segmentation": "Image Segmentation",
    "multiple-choice": "Multiple Choice",
    "object-detection": "Object Detection",
    "question-answering": "Question Answering",
    "table-question-answering": "Table Question Answering",
    "text-classification": "Text Classification",
    "text-generation": "Causal Language Modeling",
    "token-classification": "Token Classification",
    "zero-shot-classification": "Zero Shot Classification",
    "automatic-speech-recognition": "Automatic Speech Recognition",
    "audio-classification": "Audio Classification",
}


METRIC_TAGS = [
    "accuracy",
    "bleu",
    "f1",
    "matthews_correlation",
    "pearsonr",
    "precision",
    "recall",
    "rouge",
    "sacrebleu",
    "spearmanr",
    "wer",
]


#: Architecture-name suffixes -> pipeline task, used when transformers is not installed.
_SUFFIX_TASKS: list[tuple[str, str]] = [
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForMultipleChoice", "multiple-choice"),
    ("ForMaskedLM", "fill-mask"),
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("ForImageClassification", "image-classification"),
    ("ForAudioClassification", "audio-classification"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForObjectDetection", "object-detection"),
]


_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


CHECKPOINT_RE = re.compile(r"checkpoint-(\d+)\s*$")


_HEADLINE_SKIP = {"runtime", "samples_per_second", "steps_per_second", "epoch", "step"}


_ROW_SKIP = {
    "total_flos",
    "epoch",
    "step",
    "eval_runtime",
    "eval_samples_per_second",
    "eval_steps_per_second",
}


#: The sentence after the headline list that says which checkpoint the headline reports.
HEADLINE_NOTE_PREFIX = "The results above are"


class DatasetRecord(BaseModel):
    """The evaluation dataset as ``datasets`` names it (``info.dataset_name``, config, split)."""

    name: str
    type: str | None = None
    config: str | None = None
    split: str | None = None


class TrainingRecord(BaseModel):
    """Everything a run's card needs besides its log: JSON-serialisable, stored by :class:`CardCallback`.

    ``hyperparameters`` is the ordered list of ``[key, value]`` pairs as the installed transformers'
    ``extract_hyperparameters_from_trainer`` reports them, followed by cardsmith's extra keys.
    """

    model_name: str | None = None
    base_model: str | None = None
    task: str | None = None
    architecture: str | None = None
    labels: list[str] = Field(default_factory=list)
    dataset: DatasetRecord | None = None
    hyperparameters: list[tuple[str, Any]] = Field(default_factory=list)
    optimizer: dict[str, Any] | None = None
    load_best_model_at_end: bool | None = None
    metric_for_best_model: str | None = None
    greater_is_better: bool | None = None
    framework_versions: list[tuple[str, str]] = Field(default_factory=list)
    license: str | None = None
    language: list[str] | None = None
    tags: list[str] = Field(default_factory=lambda: ["generated_from_trainer"])
    eval_key_order: list[str] = Field(
        default_factory=list,
        description="Keys of an evaluation log entry in logging order (trainer_state.json sorts them).",
    )
    notes: list[str] = Field(default_factory=list)


class LogSummary(BaseModel):
    """The log, read as ``transformers.modelcard.parse_log_history`` reads it."""

    rows: list[dict[str, Any]] = Field(default_factory=list)
    row_steps: list[Any] = Field(default_factory=list)
    row_entries: list[dict[str, Any]] = Field(default_factory=list)
    train_summary: dict[str, Any] | None = None
    final_eval: dict[str, Any] | None = None
    last_eval: dict[str, Any] | None = None


def _metric_name(key: str) -> str:
    """``eval_overall_f1`` -> ``Overall F1`` (transformers' column naming)."""
    return " ".join(part.capitalize() for part in key.split("_")[1:])


def _headline_name(key: str) -> str:
    """``eval_loss`` -> ``Loss``, ``eval_f1`` -> ``F1`` (transformers' headline naming)."""
    key = key.removeprefix("eval_")
    return " ".join(part.capitalize() for part in key.split("_"))


def parse_log(log_history: list[dict[str, Any]]) -> LogSummary:
    """Split a Trainer log into table rows, the training summary and the evaluations.

    Like transformers, a row is made for each entry with ``eval_loss`` before the training summary
    (the entry with ``train_runtime``); its training loss is the last ``loss`` logged so far, or
    ``No log``. Unlike transformers, a log without a training summary (an intermediate checkpoint)
    still gets its table, and evaluations logged after training (``trainer.evaluate()``) are kept
    as ``final_eval`` for the headline.
    """
    entries = [e for e in log_history if isinstance(e, dict)]
    summary_idx = next((i for i, e in enumerate(entries) if "train_runtime" in e), None)
    stop = summary_idx if summary_idx is not None else len(entries)
    out = LogSummary()
    training_loss: Any = "No log"
    for entry in entries[:stop]:
        if "loss" in entry:
            training_loss = entry["loss"]
        if "eval_loss" in entry:
            metrics = dict(entry)
            for key in _ROW_SKIP:
                metrics.pop(key, None)
            values: dict[str, Any] = {
                "Training Loss": training_loss,
                "Epoch": entry.get("epoch"),
                "Step": entry.get("step"),
            }
            for key, value in metrics.items():
                values["Validation Loss" if key == "eval_loss" else _metric_name(key)] = value
            out.rows.append(values)
            out.row_steps.append(entry.get("step"))
            out.row_entries.append(entry)
    if summary_idx is not None:
        out.train_summary = entries[summary_idx]
        after = [e for e in entries[summary_idx + 1 :] if "eval_loss" in e]
        out.final_eval = after[-1] if after else None
    evals = [e for e in entries if "eval_loss" in e]
    out.last_eval = evals[-1] if evals else None
    return out


def headline_metrics(entry: dict[str, Any]) -> dict[str, Any]:
    """The headline of one evaluation entry: transformers' names, runtimes and progress left out."""
    result: dict[str, Any] = {}
    for key, value in entry.items():
        short = key.removeprefix("eval_")
        if short in _HEADLINE_SKIP:
            continue
        result[_headline_name(key)] = value
    return result


def _cell(value: Any) -> Cell:
    """A table/headline cell for a logged value (numbers keep full precision, text verbatim)."""
    if value is None:
        return Cell(text="")
    if isinstance(value, str):
        return Cell.parse(value)
    if isinstance(value, bool):
        return Cell(text=str(value))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return Cell(text=str(value), value=value)
        # Printed as transformers prints it (4 decimals), the exact logged value kept in ``value``.
        return Cell.of(value, text=trainer_round(value))
    return Cell(text=json.dumps(value, default=str))


def results_table(summary: LogSummary) -> ResultsTable | None:
    """The results table as transformers writes it (columns in first-seen order)."""
    if not summary.rows:
        return None
    columns: list[str] = []
    for row in summary.rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    rows = [[_cell(row[c]) if c in row else Cell(text="") for c in columns] for row in summary.rows]
    return ResultsTable(columns=columns, rows=rows)


class HeadlineChoice(BaseModel):
    entry: dict[str, Any] | None = None
    note: str | None = None
    row: int | None = None  # 1-based row of the table the headline equals, when it is one


def _best_step(state: dict[str, Any]) -> int | None:
    step = state.get("best_global_step")
    if isinstance(step, int) and step > 0:
        return step
    ckpt = state.get("best_model_checkpoint")
    if isinstance(ckpt, str):
        m = CHECKPOINT_RE.search(ckpt.replace("\\", "/"))
        if m:
            return int(m.group(1))
    return None


def choose_headline(summary: LogSummary, state: dict[str, Any], record: TrainingRecord) -> HeadlineChoice:
    """The evaluation the card reports, and a sentence saying why when it is not the last row.

    * an evaluation logged after training (``trainer.evaluate()``) is what the model in the folder
      scores: it is the headline (as in transformers' card);
    * otherwise, after ``load_best_model_at_end`` the model is the best checkpoint: its row is the
      headline, and the card says so;
    * otherwise the last evaluation.
    """
    rows = summary.row_entries
    best = _best_step(state)
    ckpt_name = f"checkpoint-{best}" if best is not None else None
    metric = record.metric_for_best_model
    if metric and not metric.startswith("eval_"):
        metric = f"eval_{metric}"
    direction = ""
    if record.greater_is_better is not None:
        direction = " (higher is better)" if record.greater_is_better else " (lower is better)"
    by = f" by `{metric}`{direction}" if metric else ""

    def row_of(step: Any) -> int | None:
        idx = [i for i, e in enumerate(rows) if e.get("step") == step]
        return idx[-1] + 1 if idx else None

    if summary.final_eval is not None:
        entry = summary.final_eval
        note = None
        if record.load_best_model_at_end and best is not None:
            r = row_of(best)
            where = f" (the row of step {best})" if r else ""
            note = (
                f"{HEADLINE_NOTE_PREFIX} the final evaluation of the best checkpoint, `{ckpt_name}`"
                f"{where}, selected{by} and restored by `load_best_model_at_end`."
            )
            return HeadlineChoice(entry=entry, note=note, row=r)
        return HeadlineChoice(entry=entry, note=None, row=None)

    load_best = record.load_best_model_at_end
    training_done = summary.train_summary is not None or _training_stopped(state)
    if load_best is None and training_done and best is not None:
        # An output folder without the run's arguments: a best checkpoint is tracked only with
        # metric_for_best_model, which load_best_model_at_end sets; assume it was restored.
        load_best = True
        if not by:
            # trainer_state.json records the best value, not which metric it is: say only that.
            value = state.get("best_metric")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                by = f" with `best_metric` {value:.6g} (trainer_state.json does not name the metric)"
        restored = "assumed restored by `load_best_model_at_end` (the run's arguments are not recorded)"
    else:
        restored = "restored by `load_best_model_at_end`"
    if load_best and training_done and best is not None:
        r = row_of(best)
        if r is not None:
            entry = rows[r - 1]
            last_step = rows[-1].get("step") if rows else None
            if r == len(rows):
                note = (
                    f"{HEADLINE_NOTE_PREFIX} those of the best checkpoint, `{ckpt_name}` (the last "
                    f"evaluation, step {best}), selected{by}; `load_best_model_at_end` kept it."
                )
            else:
                epoch = entry.get("epoch")
                at = f"epoch {trainer_round(epoch)}, step {best}" if epoch is not None else f"step {best}"
                note = (
                    f"{HEADLINE_NOTE_PREFIX} those of the best checkpoint, `{ckpt_name}` ({at}), "
                    f"selected{by} and {restored}; the last evaluation "
                    f"(step {last_step}) is the last row of the table."
                )
            return HeadlineChoice(entry=entry, note=note, row=r)
    if summary.last_eval is None:
        return HeadlineChoice()
    r = len(rows) if rows and rows[-1] is summary.last_eval else None
    return HeadlineChoice(entry=summary.last_eval, note=None, row=r)


def _training_stopped(state: dict[str, Any]) -> bool:
    """A checkpoint's state saved at the end of training: max_steps reached, or stopped early."""
    step, max_steps = state.get("global_step"), state.get("max_steps")
    if isinstance(step, int) and isinstance(max_steps, int) and max_steps > 0 and step >= max_steps:
        return True
    callbacks = state.get("stateful_callbacks")
    control = callbacks.get("TrainerControl") if isinstance(callbacks, dict) else None
    if isinstance(control, list):
        control = control[-1] if control else None
    args = control.get("args") if isinstance(control, dict) else None
    return bool(isinstance(args, dict) and args.get("should_training_stop"))


def looks_like_hub_id(name: Any) -> bool:
    """True for ``bert-base-uncased`` or ``org/name``; False for local paths, empty or odd strings."""
    if not isinstance(name, str) or not name or "\\" in name or name.startswith((".", "/", "~")):
        return False
    if not _HUB_ID_RE.match(name) or ".." in name or CHECKPOINT_RE.search(name):
        return False
    try:
        if os.path.isdir(name):
            return False
    except (OSError, ValueError):  # pragma: no cover - odd names
        return False
    return True


def task_for_architecture(arch: str | None) -> str | None:
    """The pipeline task of a model class name, as transformers' card infers it."""
    if not arch:
        return None
    task_mapping: dict[str, object] | None
    try:
        from transformers.modelcard import TASK_MAPPING as task_mapping
        from transformers.modelcard import _get_mapping_values
    except Exception:  # noqa: BLE001 - transformers absent or changed: use the suffix table
        task_mapping = None
    if task_mapping is not None:
        task = None
        for name, mapping in task_mapping.items():
            if arch in _get_mapping_values(mapping):
                task = name
        if task is not None:
            return task
    for suffix, name in _SUFFIX_TASKS:
        if arch.endswith(suffix):
            if name == "text-classification" and re.search(r"(Wav2Vec|Hubert|WavLM|Whisper|Audio)", arch):
                return "audio-classification"
            return name
    return None


TYPED_HYPERPARAMETERS = set(Hyperparameters.model_fields) - {"extra", "order", "optimizer"}


def _optimizer_of(text: str) -> Optimizer:
    """The typed optimizer line, read by the parser so that the renderer writes ``text`` back."""
    return parse_optimizer(text)


def hyperparameters_from_pairs(
    pairs: list[tuple[str, Any]], optimizer: dict[str, Any] | None = None
) -> Hyperparameters | None:
    """Typed :class:`Hyperparameters` from ordered ``(key, value)`` pairs."""
    if not pairs:
        return None
    hp = Hyperparameters()
    for key, value in pairs:
        if key == "optimizer":
            hp.optimizer = _optimizer_of(str(value))
        elif key in TYPED_HYPERPARAMETERS and value is not None and not isinstance(value, bool):
            try:
                typed = getattr(Hyperparameters.model_validate({key: value}), key)
            except Exception:  # noqa: BLE001 - pydantic ValidationError: keep it as text
                hp.extra[key] = str(value)
            else:
                setattr(hp, key, typed)
        else:
            hp.extra[key] = str(value)
        hp.order.append(key)
    return hp


def _state_dict(state: Any) -> dict[str, Any]:
    if isinstance(state, dict):
        return state
    return {
        "log_history": list(getattr(state, "log_history", []) or []),
        "best_model_checkpoint": getattr(state, "best_model_checkpoint", None),
        "best_metric": getattr(state, "best_metric", None),
        "best_global_step": getattr(state, "best_global_step", None),
        "global_step": getattr(state, "global_step", None),
        "max_steps": getattr(state, "max_steps", None),
        "num_train_epochs": getattr(state, "num_train_epochs", None),
        "train_batch_size": getattr(state, "train_batch_size", None),
    }


def _reorder(entry: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """``entry`` with the keys of ``order`` first, in that order (the rest after, as they were)."""
    out = {k: entry[k] for k in order if k in entry}
    out.update((k, v) for k, v in entry.items() if k not in out)
    return out


def eval_key_order(log_history: list[dict[str, Any]]) -> list[str]:
    """The key order of the last evaluation entry of a live log."""
    for entry in reversed(log_history):
        if isinstance(entry, dict) and "eval_loss" in entry:
            return list(entry)
    return []


def build_card(record: TrainingRecord, state: Any) -> Card:
    """The card of a run: metadata, headline (+ why), hyperparameters, results table, versions."""
    state_d = _state_dict(state)
    log = state_d.get("log_history") or []
    if not isinstance(log, list):
        raise ParseError("trainer_state.json: log_history is not a list")
    # trainer_state.json sorts keys; a live log puts eval_loss first: restore the logging order.
    order = record.eval_key_order or ["eval_loss"]
    log = [_reorder(e, order) if isinstance(e, dict) and "eval_loss" in e else e for e in log]
    summary = parse_log(log)
    choice = choose_headline(summary, state_d, record)
    headline_values = headline_metrics(choice.entry) if choice.entry is not None else {}
    headline = [HeadlineMetric(name=k, value=_cell(v)) for k, v in headline_values.items()]

    metadata = _metadata(record, headline_values)
    card = Card(
        metadata=metadata,
        title=record.model_name or record.base_model or "model",
        base_model=record.base_model,
        dataset_name=record.dataset.name if record.dataset else None,
        headline=headline,
        hyperparameters=hyperparameters_from_pairs(record.hyperparameters, record.optimizer),
        results=results_table(summary),
        framework_versions=[FrameworkVersion(name=n, version=v) for n, v in record.framework_versions],
        notes=list(record.notes),
    )
    if choice.note:
        card.notes.append(choice.note)
        card = attach_headline_note(card, choice.note)
    return card


def headline_note(card: Card) -> str | None:
    """The "The results above are ..." sentence of a card, from its blocks or its notes."""
    for block in card.blocks:
        if block.kind == "text":
            for line in block.text.splitlines():
                if line.startswith(HEADLINE_NOTE_PREFIX):
                    return line.strip()
    for note in card.notes:
        if note.startswith(HEADLINE_NOTE_PREFIX):
            return note
    return None


def attach_headline_note(card: Card, note: str | None) -> Card:
    """Put ``note`` (or nothing) as the paragraph right after the headline list, replacing an old one.

    A card without blocks is laid out as the Trainer's template first (:func:`cardsmith.card.render.layout`),
    so the sentence becomes an ordinary text block that renders verbatim: stable on re-render.
    """
    card = layout(card)
    blocks = list(card.blocks)
    card.blocks = blocks
    found = _find_note(blocks)
    if found is not None:
        # Replace the sentence where it stands, keeping the lines around it byte for byte (the
        # blank line after it belongs to the same block); without a new sentence, drop it and the
        # line break that introduced it.
        idx, line = found
        text = blocks[idx].text
        if note:
            text = text.replace(line, note, 1)
        else:
            start = text.index(line)
            end = start + len(line)
            if text.startswith("\r\n", end):
                end += 2
            elif text.startswith("\n", end):
                end += 1
            if text[:start].endswith(("\n", "\r\n")) and start > 0:
                start -= 2 if text[:start].endswith("\r\n") else 1
            text = text[:start] + text[end:]
        if text:
            blocks[idx] = blocks[idx].model_copy(update={"text": text})
        else:
            del blocks[idx]
        for extra in range(len(blocks) - 1, idx, -1):  # older duplicates of the sentence
            if blocks[extra].kind == "text" and _is_note_block(blocks[extra].text):
                del blocks[extra]
        return card
    if note:
        from cardsmith.card.model import Block

        idx = next((i for i, b in enumerate(blocks) if b.kind == "headline"), None)
        if idx is None:
            idx = next((i for i, b in enumerate(blocks) if b.kind == "intro"), None)
        if idx is not None:
            nl = card.newline
            blocks.insert(idx + 1, Block(kind="text", text=f"{nl}{note}{nl}"))
    return card


def _find_note(blocks: list[Any]) -> tuple[int, str] | None:
    """The first text block holding a "The results above are ..." line, and that line."""
    for i, block in enumerate(blocks):
        if block.kind != "text":
            continue
        for line in block.text.splitlines():
            if line.startswith(HEADLINE_NOTE_PREFIX):
                return i, line
    return None


def _is_note_block(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) == 1 and lines[0].startswith(HEADLINE_NOTE_PREFIX)


def _metadata(record: TrainingRecord, headline: dict[str, Any]) -> Metadata:
    """Front matter in transformers' key order: library_name, language, license, base_model, tags,
    datasets, metrics, model-index."""
    metric_tags: dict[str, str] = {}
    for key in headline:
        tag = key.lower().replace(" ", "_")
        if tag in METRIC_TAGS:
            metric_tags[tag] = key
        elif key.lower() == "rouge1":
            metric_tags["rouge"] = key
    data: dict[str, Any] = {"library_name": "transformers"}
    if record.language:
        data["language"] = list(record.language)
    if record.license:
        data["license"] = record.license
    if record.base_model:
        data["base_model"] = record.base_model
    if record.tags:
        data["tags"] = list(record.tags)
    if record.dataset and record.dataset.type:
        data["datasets"] = [record.dataset.type]
    if metric_tags:
        data["metrics"] = list(metric_tags)
    entry: dict[str, Any] = {"name": record.model_name or record.base_model, "results": []}
    task_name = TASK_TAG_TO_NAME.get(record.task or "")
    if task_name and record.dataset and metric_tags:
        ds: dict[str, Any] = {"name": record.dataset.name, "type": record.dataset.type}
        if record.dataset.config is not None:
            ds["config"] = record.dataset.config
        if record.dataset.split is not None:
            ds["split"] = record.dataset.split
        if record.dataset.config is not None:
            ds["args"] = record.dataset.config
        entry["results"].append(
            {
                "task": {"name": task_name, "type": record.task},
                "dataset": ds,
                "metrics": [
                    {"name": key, "type": tag, "value": headline[key]} for tag, key in metric_tags.items()
                ],
            }
        )
    data["model-index"] = [entry]
    typed = [
        ModelIndexEntry(
            name=entry["name"],
            results=[
                IndexResult(
                    task=IndexTask(**r["task"]),
                    dataset=IndexDataset(**r["dataset"]),
                    metrics=[IndexMetric(**m) for m in r["metrics"]],
                )
                for r in entry["results"]
            ],
        )
    ]
    return Metadata(data=data, model_index=typed)


def labels_from_config(config: Any) -> list[str]:
    id2label = getattr(config, "id2label", None) if not isinstance(config, dict) else config.get("id2label")
    if not isinstance(id2label, dict):
        return []
    pairs = []
    for key, value in id2label.items():
        try:
            pairs.append((int(key), str(value)))
        except (TypeError, ValueError):
            continue
    return [v for _, v in sorted(pairs)]
