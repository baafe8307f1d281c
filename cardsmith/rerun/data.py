"""Resolve the evaluation data: which dataset, which split, which columns, which label ids.

The dataset is ``--dataset`` (a Hub id through ``datasets.load_dataset``, which respects
``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE``; a ``save_to_disk`` folder; or a ``.json``/``.jsonl``/
``.csv``/``.parquet`` file), else the card's ``model-index`` dataset (type, config, split), else its
``datasets`` metadata. The split is ``--split``, else the card's, else ``validation``, else ``test``.

Columns are detected by the names the GLUE/CoNLL-style datasets use (``text``, ``sentence``,
``sentence1``/``sentence2``, ``question1``/``question2``, ``premise``/``hypothesis``, ``tokens``,
``label``, ``labels``, ``ner_tags``), or given (``--text-column a,b``). Labels are mapped to the
model's ids by *name* when the dataset has ``ClassLabel`` names and the config has real
``id2label`` names; names that disagree are a :class:`DatasetError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardsmith.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.card.model import Card

SEQUENCE = "sequence-classification"
TOKEN = "token-classification"

PAIR_COLUMNS: list[tuple[str, str]] = [
    ("sentence1", "sentence2"),
    ("question1", "question2"),
    ("premise", "hypothesis"),
    ("question", "sentence"),
    ("sentence", "question"),
    ("question", "passage"),
    ("text1", "text2"),
    ("text_a", "text_b"),
]
TEXT_COLUMNS: list[str] = [
    "text",
    "sentence",
    "content",
    "review",
    "document",
    "question",
    "utterance",
    "tweet",
]
TOKENS_COLUMNS: list[str] = ["tokens", "words"]
SEQ_LABEL_COLUMNS: list[str] = ["label", "labels", "label_id", "class", "target"]
TOK_LABEL_COLUMNS: list[str] = ["ner_tags", "labels", "tags", "label", "pos_tags", "chunk_tags"]

DATA_FILE_BUILDERS: dict[str, str] = {
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
}
DEFAULT_SPLITS: tuple[str, ...] = ("validation", "test")

_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


@dataclass
class DatasetSource:
    """Where the evaluation data comes from, before loading."""

    name: str
    config: str | None = None
    split: str | None = None
    origin: str = "argument"  # "argument", "model-index", "datasets"


@dataclass
class EvalData:
    """The evaluation split, its input columns, and every reference label as a model label id."""

    dataset: Any
    name: str
    split: str | None
    task: str
    text_columns: list[str]
    label_column: str
    references: list[Any]
    id2name: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def examples(self) -> int:
        return len(self.references)


# --------------------------------------------------------------------------------------------------
# Which dataset
# --------------------------------------------------------------------------------------------------


def card_dataset(card: Card | None) -> DatasetSource | None:
    """The dataset a card says it was evaluated on: model-index first, then ``datasets`` metadata."""
    if card is None:
        return None
    for entry in card.metadata.model_index or []:
        for result in entry.results:
            ds = result.dataset
            if ds is None:
                continue
            name = ds.type or ds.name
            if not name or str(name).strip().lower() in {"none", "null", "unknown"}:
                continue
            config = ds.config
            if config is None and isinstance(ds.args, str) and ds.args.strip():
                config = ds.args.strip()
            return DatasetSource(name=str(name), config=config, split=ds.split, origin="model-index")
    names = card.metadata.datasets
    if names:
        return DatasetSource(name=names[0], origin="datasets")
    return None


def load_split(
    dataset: str | None,
    *,
    card: Card | None = None,
    config: str | None = None,
    split: str | None = None,
) -> tuple[Any, DatasetSource]:
    """Load the evaluation split; returns ``(datasets.Dataset, source)`` with the split chosen."""
    if dataset:
        source = DatasetSource(name=dataset, config=config, split=split)
        from_card = card_dataset(card)
        if from_card is not None and from_card.name == dataset:
            source.config = config or from_card.config
            source.split = split or from_card.split
    else:
        found = card_dataset(card)
        if found is None:
            raise DatasetError("the card names no evaluation dataset; pass --dataset")
        source = found
        if config:
            source.config = config
        if split:
            source.split = split
    if not dataset:
        _check_card_dataset_id(source.name)
        return _load_hub(source), source  # a card names Hub datasets only, never local files
    path = Path(source.name).expanduser()
    if path.is_dir():
        return _load_disk(path, source), source
    if path.is_file():
        return _load_file(path, source), source
    if path.suffix.lower() in DATA_FILE_BUILDERS or source.name.startswith((".", "/", "~")):
        raise DatasetError(f"{source.name}: no such file or folder")
    return _load_hub(source), source


def _check_card_dataset_id(name: str) -> None:
    """A dataset named by a card (a stranger) must be a Hub repo id, by huggingface_hub's rules, and
    no local path: only the user's own ``--dataset`` may name local files."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    shown = name if len(name) <= 200 else name[:200] + "..."
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise DatasetError(
            f"the card's dataset {shown!r} is not a Hub dataset id; a card never names local files "
            "(pass --dataset to use one)"
        ) from None
    if Path(name).exists():
        raise DatasetError(
            f"the card's dataset {shown!r} is also a local path here; a card never chooses local files "
            "(pass --dataset to use it)"
        )


#: Leading bytes of compressed files and archives, which ``datasets`` would extract.
_ARCHIVE_MAGIC = {
    b"PK\x03\x04": "zip archive",
    b"PK\x05\x06": "zip archive",
    b"\x1f\x8b": "gzip file",
    b"BZh": "bzip2 file",
    b"\xfd7zXZ\x00": "xz file",
    b"\x28\xb5\x2f\xfd": "zstd file",
    b"7z\xbc\xaf\x27\x1c": "7z archive",
    b"\x04\x22\x4d\x18": "lz4 file",
}


def _check_data_file(path: Path) -> None:
    """A ``.json/.jsonl/.csv`` data file must be text: an archive is never extracted (a 1 MB zip can
    become 1 GB), and NUL bytes (a huge sparse file) are refused at once, not parsed for minutes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for magic, kind in _ARCHIVE_MAGIC.items():
        if head.startswith(magic):
            raise DatasetError(f"{path} is a {kind}, not a {path.suffix} file; archives are not extracted")
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise DatasetError(f"{path} is a tar archive, not a {path.suffix} file; archives are not extracted")
    if b"\x00" in head:
        raise DatasetError(f"{path} holds binary data (NUL bytes), not {path.suffix} text")


def _pick_split(splits: list[str], wanted: str | None, where: str) -> str:
    if wanted:
        if wanted in splits:
            return wanted
        raise DatasetError(f"{where} has no split {wanted!r} (splits: {', '.join(splits)})")
    for name in DEFAULT_SPLITS:
        if name in splits:
            return name
    raise DatasetError(f"{where} has no validation or test split (splits: {', '.join(splits)}); pass --split")


def _load_disk(path: Path, source: DatasetSource) -> Any:
    from datasets import Dataset, DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise DatasetError(f"{path}: not a dataset saved with save_to_disk ({exc})") from None
    if isinstance(loaded, DatasetDict):
        source.split = _pick_split(list(loaded.keys()), source.split, str(path))
        return loaded[source.split]
    if isinstance(loaded, Dataset):
        source.split = source.split or (str(loaded.split) if loaded.split is not None else None)
        return loaded
    raise DatasetError(f"{path}: unexpected dataset type {type(loaded).__name__}")


def _load_file(path: Path, source: DatasetSource) -> Any:
    from datasets import load_dataset

    builder = DATA_FILE_BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise DatasetError(
            f"{path}: unknown data file type; use .json, .jsonl, .csv, .parquet or a save_to_disk folder"
        )
    if builder != "parquet":
        _check_data_file(path)
    kwargs: dict[str, Any] = {}
    if path.suffix.lower() == ".tsv":
        kwargs["delimiter"] = "\t"
    try:
        ds = load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # noqa: BLE001 - any parse failure of a user file: one clear line
        raise DatasetError(
            f"{path}: cannot be read as {builder} ({type(exc).__name__}: {_short(exc)})"
        ) from None
    source.split = None  # a data file is one split
    return ds


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""


def _load_hub(source: DatasetSource) -> Any:
    from datasets import load_dataset

    where = source.name + (f" ({source.config})" if source.config else "")
    candidates = [source.split] if source.split else list(DEFAULT_SPLITS)
    last: Exception | None = None
    for split in candidates:
        try:
            ds = load_dataset(source.name, source.config, split=split)
        except ValueError as exc:
            if "split" in str(exc).lower() or "Unknown split" in str(exc):
                last = exc
                continue
            raise DatasetError(f"{where}: cannot be loaded ({_short(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - not found, offline, gated: one clear line
            raise DatasetError(
                f"{where}: cannot be loaded ({type(exc).__name__}: {_short(exc)}); pass --dataset"
            ) from None
        source.split = split
        return ds
    if source.split:
        raise DatasetError(f"{where} has no split {source.split!r} ({_short(last) if last else ''})")
    raise DatasetError(f"{where} has no validation or test split; pass --split")


# --------------------------------------------------------------------------------------------------
# Columns and labels
# --------------------------------------------------------------------------------------------------


def _split_names(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def detect_columns(
    columns: list[str], task: str, *, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], str]:
    """The input column(s) and the label column for ``task``; overrides win, then known names."""
    present = set(columns)
    texts = _split_names(text_column)
    for col in texts:
        if col not in present:
            raise DatasetError(f"no column {col!r} in the dataset (columns: {', '.join(columns)})")
    if len(texts) > (1 if task == TOKEN else 2):
        raise DatasetError(f"--text-column takes at most {1 if task == TOKEN else 2} column(s)")
    if not texts:
        if task == TOKEN:
            texts = [c for c in TOKENS_COLUMNS if c in present][:1]
        else:
            for a, b in PAIR_COLUMNS:
                if a in present and b in present:
                    texts = [a, b]
                    break
            else:
                texts = [c for c in TEXT_COLUMNS if c in present][:1]
        if not texts:
            raise DatasetError(
                f"cannot tell the input column (columns: {', '.join(columns)}); pass --text-column"
            )
    if label_column:
        if label_column not in present:
            raise DatasetError(f"no column {label_column!r} in the dataset (columns: {', '.join(columns)})")
        label = label_column
    else:
        names = TOK_LABEL_COLUMNS if task == TOKEN else SEQ_LABEL_COLUMNS
        found = [c for c in names if c in present and c not in texts]
        if not found:
            raise DatasetError(
                f"cannot tell the label column (columns: {', '.join(columns)}); pass --label-column"
            )
        label = found[0]
    return texts, label


def _class_names(feature: Any) -> list[str] | None:
    """ClassLabel names of a label feature (or of a sequence-of-labels feature)."""
    from datasets import ClassLabel

    if isinstance(feature, ClassLabel):
        return list(feature.names)
    inner = getattr(feature, "feature", None)  # Sequence / List
    if isinstance(inner, ClassLabel):
        return list(inner.names)
    if isinstance(feature, list) and feature and isinstance(feature[0], ClassLabel):
        return list(feature[0].names)
    return None


def model_labels(config: dict[str, Any]) -> tuple[dict[int, str], bool]:
    """``id2label`` from a config dict with int keys, and whether its names are real (not LABEL_i)."""
    raw = config.get("id2label") or {}
    id2label: dict[int, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            try:
                id2label[int(key)] = str(value)
            except (TypeError, ValueError):
                continue
    if not id2label:
        n = int(config.get("num_labels") or 0) or 2
        id2label = {i: f"LABEL_{i}" for i in range(n)}
    real = not all(_GENERIC_LABEL.match(name) for name in id2label.values())
    return id2label, real


def _norm(name: str) -> str:
    return name.strip().lower()


def label_mapping(
    dataset_names: list[str] | None, id2label: dict[int, str], real: bool, where: str
) -> dict[Any, int] | None:
    """How dataset label values become model ids: ``None`` = unchanged ints; else value -> id.

    With ClassLabel names and real model names, every dataset name must be a model label name
    (compared case-insensitively); with generic model names the dataset's ids are used as they are.
    """
    if dataset_names is None or not real:
        return None
    by_name = {_norm(name): idx for idx, name in id2label.items()}
    unknown = [name for name in dataset_names if _norm(name) not in by_name]
    if unknown:
        raise DatasetError(
            f"{where}: dataset labels {dataset_names} disagree with the model's id2label "
            f"{[id2label[i] for i in sorted(id2label)]} (not in the model: {unknown})"
        )
    return {i: by_name[_norm(name)] for i, name in enumerate(dataset_names)}


def _to_id(
    value: Any, mapping: dict[Any, int] | None, label2id: dict[str, int], num_labels: int, where: str
) -> int:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, str):
        key = _norm(value)
        if key in label2id:
            return label2id[key]
        if value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        else:
            raise DatasetError(
                f"{where}: label {value!r} is not one of the model's labels {sorted(label2id)}"
            )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise DatasetError(f"{where}: label {value!r} is not a class id or name")
    if value == -1:
        raise DatasetError(
            f"{where}: the split has unlabelled examples (label -1, as GLUE test splits do); "
            "choose a labelled split with --split"
        )
    if mapping is not None:
        if value not in mapping:
            raise DatasetError(f"{where}: label id {value} is outside the dataset's ClassLabel names")
        return mapping[value]
    if not 0 <= value < num_labels:
        raise DatasetError(f"{where}: label id {value} is outside the model's {num_labels} labels")
    return value


def prepare(
    ds: Any,
    source: DatasetSource,
    task: str,
    config: dict[str, Any],
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    max_examples: int | None = None,
) -> EvalData:
    """Pick columns and map every reference label to a model id (nested lists for token tasks)."""
    if max_examples is not None and max_examples < len(ds):
        ds = ds.select(range(max_examples))
    if len(ds) == 0:
        raise DatasetError(f"{source.name}: the evaluation split is empty")
    texts, label = detect_columns(
        list(ds.column_names), task, text_column=text_column, label_column=label_column
    )
    id2label, real = model_labels(config)
    num_labels = max(id2label) + 1
    names = _class_names(ds.features.get(label))
    where = source.name
    mapping = label_mapping(names, id2label, real, where)
    label2id = {_norm(name): idx for idx, name in id2label.items()}
    if names is not None and not real and len(names) > num_labels:
        raise DatasetError(f"{where}: the dataset has {len(names)} labels, the model {num_labels}")
    values = list(ds[label])
    notes: list[str] = []
    if task == TOKEN:
        refs: list[Any] = []
        for row in values:
            if not isinstance(row, (list, tuple)):
                raise DatasetError(f"{where}: column {label!r} is not a list of tags per example")
            refs.append([_to_id(v, mapping, label2id, num_labels, where) for v in row])
        tokens = list(ds[texts[0]])
        for i, (words, tags) in enumerate(zip(tokens, refs)):
            if not isinstance(words, (list, tuple)):
                raise DatasetError(f"{where}: column {texts[0]!r} is not a list of words (example {i})")
            if len(words) != len(tags):
                raise DatasetError(f"{where}: example {i} has {len(words)} words but {len(tags)} tags")
        if real:
            id2name = dict(id2label)
        elif names is not None:
            id2name = dict(enumerate(names))
        else:
            raise DatasetError(
                f"{where}: neither the model (id2label) nor the dataset (ClassLabel) names the tags; "
                "seqeval needs tag names"
            )
    else:
        refs = [_to_id(v, mapping, label2id, num_labels, where) for v in values]
        id2name = dict(id2label)
    return EvalData(
        dataset=ds,
        name=source.name,
        split=source.split,
        task=task,
        text_columns=texts,
        label_column=label,
        references=refs,
        id2name=id2name,
        notes=notes,
    )


def label_ids(ds: Any, label_column: str, config: dict[str, Any], where: str) -> list[int]:
    """Every example's single label as a model label id (names mapped as :func:`prepare` maps them)."""
    id2label, real = model_labels(config)
    num_labels = max(id2label) + 1
    names = _class_names(ds.features.get(label_column))
    mapping = label_mapping(names, id2label, real, where)
    if names is not None and not real and len(names) > num_labels:
        raise DatasetError(f"{where}: the dataset has {len(names)} labels, the model {num_labels}")
    label2id = {_norm(name): idx for idx, name in id2label.items()}
    return [_to_id(v, mapping, label2id, num_labels, where) for v in ds[label_column]]
