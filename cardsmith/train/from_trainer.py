"""A card from a live ``transformers.Trainer``: what it trained, on what, with which arguments."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cardsmith.card.model import (
    Card,
)
from cardsmith.errors import CardsmithError
from cardsmith.train.record import (
    DatasetRecord,
    TrainingRecord,
    build_card,
    eval_key_order,
    labels_from_config,
    looks_like_hub_id,
    task_for_architecture,
)


def dataset_record(dataset: Any) -> DatasetRecord | None:
    """Name/config/split of a ``datasets.Dataset`` (``info.dataset_name`` first, then the builder)."""
    if dataset is None:
        return None
    try:
        import datasets as hf_datasets
    except ImportError:  # pragma: no cover - only called with datasets objects
        return None
    if not isinstance(dataset, (hf_datasets.Dataset, hf_datasets.IterableDataset)):
        inner = getattr(dataset, "dataset", None)  # a torch Subset or wrapper around a Dataset
        if inner is not None and inner is not dataset:
            return dataset_record(inner)
        return None
    info = getattr(dataset, "info", None)
    name = getattr(info, "dataset_name", None) if info is not None else None
    builder = getattr(info, "builder_name", None) if info is not None else None
    if not name and builder and builder not in _NOT_HUB_BUILDERS:
        name = builder
    if not name:
        return None
    config = getattr(info, "config_name", None) if info is not None else None
    split = getattr(dataset, "split", None)
    return DatasetRecord(
        name=str(name),
        type=str(name),
        config=str(config) if config else None,
        split=str(split) if split is not None else None,
    )


def _versions() -> list[tuple[str, str]]:
    """Framework versions in transformers' order (Transformers, Pytorch, Datasets, Tokenizers)."""
    out: list[tuple[str, str]] = []
    for label, module in (
        ("Transformers", "transformers"),
        ("Pytorch", "torch"),
        ("Datasets", "datasets"),
        ("Tokenizers", "tokenizers"),
    ):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        version = getattr(mod, "__version__", None)
        if version:
            out.append((label, str(version)))
    return out


def _trainer_hyperparameters(args: Any) -> list[tuple[str, Any]]:
    """``extract_hyperparameters_from_trainer`` of the installed transformers, on ``args``."""
    from transformers.modelcard import extract_hyperparameters_from_trainer

    values = extract_hyperparameters_from_trainer(SimpleNamespace(args=args))
    return [(str(k), _jsonable(v)) for k, v in values.items()]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    inner = getattr(value, "value", None)  # enums
    if isinstance(inner, (int, float, str)):
        return inner
    return str(value)


def _precision(args: Any) -> str:
    if getattr(args, "bf16", False):
        return "bf16 mixed precision"
    if getattr(args, "fp16", False):
        return "fp16 mixed precision"
    if getattr(args, "bf16_full_eval", False) or getattr(args, "fp16_full_eval", False):
        return "fp32 (half-precision evaluation)"
    return "fp32"


def _optimizer_class(optimizer: Any) -> str | None:
    if optimizer is None:
        return None
    inner = getattr(optimizer, "optimizer", None)  # accelerate's AcceleratedOptimizer
    opt = inner if inner is not None and inner is not optimizer else optimizer
    cls = type(opt)
    name = f"{cls.__module__}.{cls.__qualname__}"
    defaults = getattr(opt, "defaults", None)
    if isinstance(defaults, dict) and defaults.get("fused"):
        name += " (fused)"
    return name


def _extra_hyperparameters(args: Any, state: Any, optimizer: Any) -> list[tuple[str, Any]]:
    """What the Trainer's card never records."""
    extra: list[tuple[str, Any]] = [("training_precision", _precision(args))]
    wd = getattr(args, "weight_decay", None)
    if wd is not None:
        extra.append(("weight_decay", _jsonable(wd)))
    mgn = getattr(args, "max_grad_norm", None)
    if mgn is not None:
        extra.append(("max_grad_norm", _jsonable(mgn)))
    max_steps = getattr(state, "max_steps", 0) if state is not None else 0
    get_warmup = getattr(args, "get_warmup_steps", None)
    if callable(get_warmup) and isinstance(max_steps, int) and max_steps > 0:
        try:
            warmup = int(get_warmup(max_steps))
        except Exception:  # noqa: BLE001 - an API change must not break the card
            warmup = None
        if warmup is not None:
            extra.append(("warmup_steps_effective", warmup))
    cls = _optimizer_class(optimizer)
    if cls:
        extra.append(("optimizer_class", cls))
    return extra


def record_from_training(
    args: Any,
    model: Any,
    *,
    state: Any = None,
    eval_dataset: Any = None,
    train_dataset: Any = None,
    optimizer: Any = None,
    **opts: Any,
) -> TrainingRecord:
    """The record of a run from its ``TrainingArguments``, model and datasets (no trainer needed)."""
    config = getattr(model, "config", None)
    arch = None
    if model is not None:
        unwrapped = getattr(model, "module", model)  # DDP / DataParallel
        arch = type(unwrapped).__name__
        config = getattr(unwrapped, "config", config)
    name_or_path = getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
    base = opts.get("finetuned_from") or (name_or_path if looks_like_hub_id(name_or_path) else None)
    task = opts.get("tasks") or task_for_architecture(arch)
    if isinstance(task, list):
        task = task[0] if task else None
    model_name = opts.get("model_name") or Path(str(getattr(args, "output_dir", "") or "")).name or base
    ds = dataset_record(eval_dataset if eval_dataset is not None else train_dataset)
    if opts.get("dataset"):
        name = opts["dataset"] if isinstance(opts["dataset"], str) else opts["dataset"][0]
        ds = DatasetRecord(
            name=name,
            type=ds.type if ds else name,
            config=ds.config if ds else None,
            split=ds.split if ds else None,
        )
    hps = _trainer_hyperparameters(args) + _extra_hyperparameters(args, state, optimizer)
    optim_value = getattr(args, "optim", None)
    optimizer_info = {
        "name": _jsonable(optim_value),
        "betas": [getattr(args, "adam_beta1", None), getattr(args, "adam_beta2", None)],
        "epsilon": getattr(args, "adam_epsilon", None),
        "args": getattr(args, "optim_args", None) or None,
    }
    tags = ["generated_from_trainer"]
    user_tags = opts.get("tags")
    if isinstance(user_tags, str):
        user_tags = [user_tags]
    for tag in user_tags or []:
        if tag not in tags:
            tags.insert(len(tags) - 1, tag)
    language = opts.get("language")
    return TrainingRecord(
        model_name=model_name or None,
        base_model=base,
        task=task,
        architecture=arch,
        labels=labels_from_config(config) if config is not None else [],
        dataset=ds,
        hyperparameters=hps,
        optimizer=optimizer_info,
        load_best_model_at_end=bool(getattr(args, "load_best_model_at_end", False)),
        metric_for_best_model=getattr(args, "metric_for_best_model", None),
        greater_is_better=getattr(args, "greater_is_better", None),
        framework_versions=_versions(),
        license=opts.get("license"),
        language=[language] if isinstance(language, str) else language,
        tags=tags,
        eval_key_order=eval_key_order(list(getattr(state, "log_history", []) or [])),
    )


def card_from_trainer(trainer: Any, **opts: Any) -> Card:
    """An accurate card from a ``transformers.Trainer`` after ``trainer.train()``.

    ``opts`` take the keywords of ``Trainer.create_model_card``: ``language``, ``license``,
    ``tags``, ``model_name``, ``finetuned_from``, ``tasks``, ``dataset``.
    """
    args = getattr(trainer, "args", None)
    state = getattr(trainer, "state", None)
    if args is None or state is None:
        raise CardsmithError("card_from_trainer needs a transformers.Trainer (with .args and .state)")
    record = record_from_training(
        args,
        getattr(trainer, "model", None),
        state=state,
        eval_dataset=_first_dataset(getattr(trainer, "eval_dataset", None)),
        train_dataset=getattr(trainer, "train_dataset", None),
        optimizer=getattr(trainer, "optimizer", None),
        **opts,
    )
    return build_card(record, state)


def _first_dataset(dataset: Any) -> Any:
    if isinstance(dataset, dict):  # eval_dataset={"a": ds, "b": ds}: the card reports the first
        return next(iter(dataset.values()), None)
    return dataset


_NOT_HUB_BUILDERS = {
    "csv",
    "json",
    "pandas",
    "parquet",
    "text",
    "arrow",
    "generator",
    "imagefolder",
    "audiofolder",
    "webdataset",
    "sql",
    "videofolder",
}


def live_num_labels(model: Any) -> int | None:
    """The number of labels of a live classification model (``id2label``, else ``num_labels``).

    Only models with a classification head count (their class name says ``Classification``): every
    ``PretrainedConfig`` has ``num_labels`` (2 by default), which means nothing for a language model.
    """
    seen = 0
    while model is not None and seen < 4:  # DDP / PEFT wrappers keep the model in .module / .base_model
        name = type(model).__name__
        config = getattr(model, "config", None)
        if "Classification" in name and config is not None:
            id2label = getattr(config, "id2label", None)
            if isinstance(id2label, dict) and len(id2label) >= 2:
                return len(id2label)
            n = getattr(config, "num_labels", None)
            return n if isinstance(n, int) and not isinstance(n, bool) and n >= 2 else None
        model = getattr(model, "module", None) or getattr(model, "base_model", None)
        seen += 1
    return None
