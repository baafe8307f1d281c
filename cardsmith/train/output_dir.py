"""A card from a training output folder (``trainer_state.json``, ``config.json``, an existing README).

Nothing is unpickled: ``training_args.bin`` is never read. What the folder cannot prove (learning
rate, optimizer, the metric that selected the best checkpoint) is taken from an existing README or
left out, with a note.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cardsmith.card.model import (
    Card,
    Hyperparameters,
)
from cardsmith.card.parse import load_card
from cardsmith.errors import CardsmithError, ParseError
from cardsmith.train.record import (
    CHECKPOINT_RE,
    TYPED_HYPERPARAMETERS,
    DatasetRecord,
    TrainingRecord,
    build_card,
    labels_from_config,
    looks_like_hub_id,
    task_for_architecture,
)


def _read_json(path: Path) -> dict[str, Any]:
    from cardsmith.card.io import read_json

    data = read_json(path, within=path.parent)  # bounded size and nesting, regular files only
    if not isinstance(data, dict):
        raise ParseError(f"{path}: expected a JSON object")
    return data


def _checkpoint_dirs(folder: Path) -> list[Path]:
    found = []
    for child in folder.iterdir() if folder.is_dir() else []:
        m = re.fullmatch(r"checkpoint-(\d+)", child.name)
        if m and child.is_dir() and (child / "trainer_state.json").is_file():
            found.append((int(m.group(1)), child))
    return [p for _, p in sorted(found)]


def training_state(source: str | Path) -> dict[str, Any] | None:
    """The ``trainer_state.json`` behind a ``render`` source (an output folder or the file), else None."""
    path = Path(source)
    if path.is_dir():
        found = find_trainer_state(path)
    elif path.is_file() and path.suffix.lower() == ".json":
        found = path
    else:
        return None
    if found is None:
        return None
    data = _read_json(found)
    return data if isinstance(data.get("log_history"), list) else None


def find_trainer_state(folder: Path) -> Path | None:
    """``folder/trainer_state.json``, else the latest ``checkpoint-N/trainer_state.json``."""
    direct = folder / "trainer_state.json"
    if direct.is_file():
        return direct
    checkpoints = _checkpoint_dirs(folder)
    return checkpoints[-1] / "trainer_state.json" if checkpoints else None


def _record_from_state(state: dict[str, Any]) -> TrainingRecord | None:
    callbacks = state.get("stateful_callbacks")
    if not isinstance(callbacks, dict):
        return None
    stored = callbacks.get(RECORD_CALLBACK_NAME)
    if isinstance(stored, list):
        stored = stored[-1] if stored else None
    if not isinstance(stored, dict):
        return None
    data = (stored.get("attributes") or {}).get("record")
    if not isinstance(data, dict):
        return None
    try:
        return TrainingRecord.model_validate(data)
    except Exception:  # noqa: BLE001 - a foreign or damaged record: ignore it
        return None


def _steps_per_epoch(log: list[dict[str, Any]]) -> float | None:
    for entry in reversed(log):
        epoch, step = entry.get("epoch"), entry.get("step")
        if isinstance(epoch, (int, float)) and isinstance(step, (int, float)) and epoch > 0 and step > 0:
            return step / epoch
    return None


def _state_hyperparameters(state: dict[str, Any], notes: list[str]) -> list[tuple[str, Any]]:
    """What ``trainer_state.json`` itself tells about the hyperparameters (no training_args.bin)."""
    pairs: list[tuple[str, Any]] = []
    tbs = state.get("train_batch_size")
    if isinstance(tbs, int) and tbs > 0:
        pairs.append(("train_batch_size", tbs))
    max_steps = state.get("max_steps")
    epochs = state.get("num_train_epochs")
    spe = _steps_per_epoch(state.get("log_history") or [])
    if isinstance(max_steps, int) and max_steps > 0 and isinstance(epochs, (int, float)) and spe:
        # With num_train_epochs, max_steps = ceil(epochs * steps per epoch); with max_steps set,
        # num_train_epochs is derived from it and max_steps falls short of a whole number of epochs.
        if abs(max_steps - epochs * spe) <= max(1.0, 0.01 * max_steps):
            pairs.append(("num_epochs", epochs))
        else:
            pairs.append(("training_steps", max_steps))
    elif isinstance(epochs, (int, float)) and epochs > 0:
        pairs.append(("num_epochs", epochs))
    notes.append(
        "Some hyperparameters could not be recovered: trainer_state.json does not record the "
        "learning rate, evaluation batch size, seed, optimizer or scheduler, and training_args.bin is a "
        "pickle that cardsmith does not load."
    )
    return pairs


def card_from_output_dir(path: str | Path, **opts: Any) -> Card:
    """The card of a training output folder: ``trainer_state.json`` + ``config.json`` (+ README.md).

    ``path`` is the folder given as ``TrainingArguments(output_dir=...)``, a ``checkpoint-N``
    folder, or a ``trainer_state.json`` file. Without a ``trainer_state.json`` at the top, the
    latest checkpoint's is read. ``training_args.bin`` is never unpickled: hyperparameters come
    from the record :class:`cardsmith.CardCallback` leaves in ``trainer_state.json``, else from an
    existing README.md, else only what the state itself says (with a note).
    """
    target = Path(path)
    if target.is_file() and target.name.endswith(".json"):
        state_path: Path | None = target
        folder = target.parent
    elif target.is_dir():
        folder = target
        state_path = find_trainer_state(folder)
    else:
        raise CardsmithError(f"{target}: no such training output folder")
    if state_path is None:
        raise CardsmithError(f"{target}: no trainer_state.json (not a training output folder)")
    state = _read_json(state_path)
    if not isinstance(state.get("log_history", []), list):
        raise ParseError(f"{state_path}: log_history is not a list")

    config: dict[str, Any] = {}
    for candidate in (folder / "config.json", state_path.parent / "config.json"):
        if candidate.is_file():
            try:
                config = _read_json(candidate)
            except CardsmithError:  # unreadable, too large or deep, a link out of the folder: unused
                config = {}
            break

    existing = _existing_card(folder)
    record = _record_from_state(state)
    notes: list[str] = []
    if record is None:
        record = _record_from_files(folder, state, config, existing, notes, opts)
    else:
        if opts.get("model_name"):
            record.model_name = opts["model_name"]
    record.notes = notes + [n for n in record.notes if n not in notes]
    card = build_card(record, state)
    if existing is not None and not record.eval_key_order:
        _order_like(card, existing)
    return card


def _order_like(card: Card, existing: Card) -> None:
    """trainer_state.json sorts each entry's keys: take the column and headline order of the README."""
    table, old = card.results, existing.results
    if (
        table is not None
        and old is not None
        and set(table.columns) == set(old.columns)
        and table.columns != old.columns
    ):
        idx = [table.columns.index(c) for c in old.columns]
        table.columns = list(old.columns)
        table.rows = [[row[i] for i in idx] for row in table.rows]
    names = [h.name for h in existing.headline]
    if card.headline and set(names) == {h.name for h in card.headline}:
        card.headline.sort(key=lambda h: names.index(h.name))
        metrics = card.metadata.data.get("metrics")
        if isinstance(metrics, list):
            tags = [n.lower().replace(" ", "_") for n in names]
            metrics.sort(key=lambda m: tags.index(m) if m in tags else len(tags))
        for entry in card.metadata.model_index or []:
            for result in entry.results:
                result.metrics.sort(key=lambda m: names.index(m.name) if m.name in names else len(names))
        for entry in card.metadata.data.get("model-index") or []:
            for result in entry.get("results") or []:
                ms = result.get("metrics")
                if isinstance(ms, list):
                    ms.sort(
                        key=lambda m: names.index(m.get("name")) if m.get("name") in names else len(names)
                    )


def _existing_card(folder: Path) -> Card | None:
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    try:
        return load_card(folder)
    except CardsmithError:
        return None


def _record_from_files(
    folder: Path,
    state: dict[str, Any],
    config: dict[str, Any],
    existing: Card | None,
    notes: list[str],
    opts: dict[str, Any],
) -> TrainingRecord:
    archs = config.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None
    name_or_path = config.get("_name_or_path")
    base = opts.get("finetuned_from") or (name_or_path if looks_like_hub_id(name_or_path) else None)
    title_folder = folder.parent if CHECKPOINT_RE.fullmatch(folder.name) else folder
    model_name = opts.get("model_name") or title_folder.resolve().name or None
    dataset: DatasetRecord | None = None
    license_ = None
    language = None
    tags = ["generated_from_trainer"]
    versions: list[tuple[str, str]] = []
    hp_pairs: list[tuple[str, Any]] = []
    optimizer_info: dict[str, Any] | None = None

    if existing is not None:
        md = existing.metadata
        if base is None:
            b = md.base_model if isinstance(md.base_model, str) else existing.base_model
            base = b if looks_like_hub_id(b) else None
        license_ = md.license
        lang = md.get("language")
        language = [lang] if isinstance(lang, str) else lang if isinstance(lang, list) else None
        mtags = md.get("tags")
        if isinstance(mtags, list) and mtags:
            tags = [str(t) for t in mtags]
        dataset = _dataset_from_card(existing)
        versions = [(fv.name, fv.version) for fv in existing.framework_versions]
        if existing.title and not opts.get("model_name"):
            model_name = existing.title
        if existing.hyperparameters is not None:
            hp_pairs, optimizer_info = _pairs_from_hyperparameters(existing.hyperparameters)
    if not hp_pairs:
        hp_pairs = _state_hyperparameters(state, notes)
    else:
        notes.append(
            "Hyperparameters were taken from the existing README.md (training_args.bin is a "
            "pickle that cardsmith does not load)."
        )
    if not versions:
        tv = config.get("transformers_version")
        if isinstance(tv, str) and tv:
            versions = [("Transformers", tv)]
        notes.append(
            "Framework versions other than Transformers (from config.json) are not recorded "
            "in a training output folder."
        )
    if base is None:
        notes.append(
            "The base model is unknown: config.json does not record the model it was fine-tuned from."
        )
    if dataset is None:
        notes.append("The dataset is unknown: trainer_state.json does not record it.")
    return TrainingRecord(
        model_name=model_name,
        base_model=base,
        task=task_for_architecture(arch),
        architecture=arch,
        labels=labels_from_config(config),
        dataset=dataset,
        hyperparameters=hp_pairs,
        optimizer=optimizer_info,
        load_best_model_at_end=_load_best_from_state(state),
        metric_for_best_model=None,
        greater_is_better=None,
        framework_versions=versions,
        license=license_,
        language=language,
        tags=tags,
    )


def _load_best_from_state(state: dict[str, Any]) -> bool | None:
    callbacks = state.get("stateful_callbacks")
    if isinstance(callbacks, dict) and "EarlyStoppingCallback" in callbacks:
        return True  # early stopping requires load_best_model_at_end
    return None


def _dataset_from_card(card: Card) -> DatasetRecord | None:
    for entry in card.metadata.model_index or []:
        for result in entry.results:
            ds = result.dataset
            if ds is not None and (ds.name or ds.type):
                return DatasetRecord(
                    name=str(ds.name or ds.type), type=ds.type, config=ds.config, split=ds.split
                )
    names = card.metadata.datasets
    if names:
        return DatasetRecord(name=names[0], type=names[0])
    if card.dataset_name:
        return DatasetRecord(name=card.dataset_name, type=None)
    return None


def _pairs_from_hyperparameters(hp: Hyperparameters) -> tuple[list[tuple[str, Any]], dict[str, Any] | None]:
    pairs: list[tuple[str, Any]] = []
    optimizer_info = None
    keys = list(hp.order) or [k for k in TYPED_HYPERPARAMETERS if getattr(hp, k) is not None] + list(hp.extra)
    for key in keys:
        if key == "optimizer" and hp.optimizer is not None:
            pairs.append((key, hp.optimizer.text))
            optimizer_info = {
                "name": hp.optimizer.name,
                "betas": list(hp.optimizer.betas or []) or None,
                "epsilon": hp.optimizer.epsilon,
                "args": hp.optimizer.args,
            }
        elif key in TYPED_HYPERPARAMETERS and getattr(hp, key, None) is not None:
            pairs.append((key, getattr(hp, key)))
        elif key in hp.extra:
            pairs.append((key, hp.extra[key]))
    return pairs, optimizer_info


def load_source(source: str) -> Card:
    """What ``cardsmith render`` reads: a card file, a training output folder, or a card JSON file."""
    path = Path(source)
    if not path.exists():
        raise CardsmithError(f"{source}: no such file or folder")
    if path.is_dir():
        if find_trainer_state(path) is not None:
            return card_from_output_dir(path)
        if (path / "README.md").is_file():
            return load_card(path)  # the folder's card: a README.md linking out of it is refused
        raise CardsmithError(
            f"{source}: neither a training output folder (trainer_state.json) nor a model folder (README.md)"
        )
    if path.suffix.lower() == ".json":
        data = _read_json(path)
        if "log_history" in data:
            return card_from_output_dir(path)
        try:
            return Card.model_validate(data)
        except Exception as exc:  # noqa: BLE001 - pydantic ValidationError: bad input
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ParseError(f"{source}: not a card JSON ({first})") from None
    return load_card(path)


#: Where the callback's record lives inside ``trainer_state.json``.
RECORD_CALLBACK_NAME = "CardCallback"
