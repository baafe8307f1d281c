"""The model card as data: Pydantic v2 models for every part cardsmith reads, checks or writes.

Layout of a card, as the Trainer writes it and people edit it::

    ---                       <- ``metadata`` (YAML front matter, ``model-index`` typed, every key kept)
    ...
    ---
    # title                   <- ``title``
    ... fine-tuned version of [base](...) on the X dataset.   <- ``base_model`` / ``dataset_name``
    It achieves the following results on the evaluation set:
    - Loss: 0.3165            <- ``headline`` (list of printed metrics)
    ...
    - learning_rate: 2e-05    <- ``hyperparameters``
    | Training Loss | ... |   <- ``results`` (every cell keeps the text as printed)
    - Transformers 4.18.0     <- ``framework_versions``

Every line of the document is also kept, in order, in ``blocks``: free text verbatim, and for each
generated part a placeholder that remembers its original text. The renderer writes a part's original
text back when the part is unchanged, so a parse followed by a render loses nothing.
"""

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cardsmith.card.numbers import Cell


class _Model(BaseModel):
    """Base of the card models: core schemas are built on first validation, not at import.

    The parser and the auditor build their models with ``model_construct`` (their data is already
    typed), so ``cardsmith audit`` never pays for building validators it does not use.
    """

    model_config = ConfigDict(defer_build=True)


# --------------------------------------------------------------------------------------------------
# Front matter
# --------------------------------------------------------------------------------------------------


class OpenModel(_Model):
    """A mapping from YAML that keeps unknown keys (``model_extra``) in their order."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class IndexTask(OpenModel):
    type: str | None = None
    name: str | None = None


class IndexDataset(OpenModel):
    type: str | None = None
    name: str | None = None
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    args: Any = None


class IndexMetric(OpenModel):
    type: str | None = None
    name: str | None = None
    value: Any = None
    config: str | None = None
    verified: bool | None = None


class IndexResult(OpenModel):
    task: IndexTask | None = None
    dataset: IndexDataset | None = None
    metrics: list[IndexMetric] = Field(default_factory=list)


class ModelIndexEntry(OpenModel):
    name: str | None = None
    results: list[IndexResult] = Field(default_factory=list)


class Metadata(_Model):
    """The YAML front matter.

    ``data`` is the whole mapping as loaded, every key in its original order, so nothing is lost;
    ``model_index`` is the typed view of ``model-index`` (or the old ``model_index`` key), and the
    other fields are typed views of the common keys. ``key`` says which spelling of model-index the
    card used. ``raw`` is the original YAML text (without the ``---`` fences), written back verbatim
    while ``data`` is unchanged.
    """

    data: dict[str, Any] = Field(default_factory=dict)
    model_index: list[ModelIndexEntry] | None = None
    model_index_key: str = "model-index"
    raw: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def license(self) -> str | None:
        value = self.data.get("license")
        return str(value) if value not in (None, "") else None

    @property
    def base_model(self) -> str | list[str] | None:
        value = self.data.get("base_model")
        return value if isinstance(value, (str, list)) and value else None

    @property
    def datasets(self) -> list[str]:
        value = self.data.get("datasets")
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(v) for v in value if v not in (None, "")]
        return []


# --------------------------------------------------------------------------------------------------
# Generated parts of the body
# --------------------------------------------------------------------------------------------------


class HeadlineMetric(_Model):
    """One line of "It achieves the following results on the evaluation set": ``- F1: 0.9126``."""

    name: str
    value: Cell


class Optimizer(_Model):
    """The optimizer line, parsed.

    Reads ``Adam with betas=(0.9,0.999) and epsilon=1e-08``, the transformers 5 form
    ``Use OptimizerNames.ADAMW_TORCH_FUSED with betas=(0.9,0.999) and epsilon=1e-08 and
    optimizer_args=No additional optimizer arguments``, and Keras dicts. ``text`` is the line as
    printed (without the ``optimizer:`` key).
    """

    text: str
    name: str | None = None
    betas: tuple[float, float] | None = None
    epsilon: float | None = None
    args: str | None = None


class Hyperparameters(_Model):
    """The "Training hyperparameters" list, typed where the Trainer's keys are known.

    ``order`` lists the keys as the card printed them; ``extra`` keeps every key cardsmith has no
    typed field for (``weight_decay``, ``training precision``, ...) with its text. Numbers keep
    their printed type: ``num_epochs: 3`` stays ``3``, ``num_epochs: 3.0`` stays ``3.0``.
    """

    learning_rate: float | None = None
    train_batch_size: int | None = None
    eval_batch_size: int | None = None
    seed: int | None = None
    distributed_type: str | None = None
    num_devices: int | None = None
    gradient_accumulation_steps: int | None = None
    total_train_batch_size: int | None = None
    total_eval_batch_size: int | None = None
    optimizer: Optimizer | None = None
    lr_scheduler_type: str | None = None
    lr_scheduler_warmup_ratio: float | None = None
    lr_scheduler_warmup_steps: int | float | None = None
    num_epochs: int | float | None = None
    training_steps: int | None = None
    mixed_precision_training: str | None = None
    label_smoothing_factor: float | None = None
    extra: dict[str, str] = Field(default_factory=dict)
    order: list[str] = Field(default_factory=list)


class ResultsTable(_Model):
    """The "Training results" table: header names and rows of printed cells.

    Column names are kept exactly (``Validation Loss``, ``Overall F1``, ``Wer``, ``Gen Len``); every
    row has one cell per column (missing cells are empty text cells).
    """

    columns: list[str] = Field(default_factory=list)
    rows: list[list[Cell]] = Field(default_factory=list)

    def column_index(self, name: str) -> int | None:
        """Index of a column by exact name, then case-insensitive; ``None`` when absent."""
        if name in self.columns:
            return self.columns.index(name)
        low = name.lower()
        for i, col in enumerate(self.columns):
            if col.strip().lower() == low:
                return i
        return None

    def column(self, name: str) -> list[Cell] | None:
        idx = self.column_index(name)
        if idx is None:
            return None
        return [row[idx] if idx < len(row) else Cell.parse("") for row in self.rows]


class FrameworkVersion(_Model):
    """``- Transformers 4.18.0``: a library name and its version string as printed."""

    name: str
    version: str


BlockKind = Literal[
    "text", "metadata", "title", "intro", "headline", "hyperparameters", "results", "framework_versions"
]


class Block(_Model):
    """A run of source lines, in document order.

    ``kind == "text"`` blocks are written back verbatim. Other kinds stand for a generated part of
    the card (the field of the same name on :class:`Card`); ``text`` is that part's original
    source, written back while the part is unchanged since parsing (``snapshot``). A ``metadata``
    block is the front matter with its ``---`` fences (snapshot: ``{"data", "model_index"}`` as JSON).
    """

    kind: BlockKind = "text"
    text: str
    snapshot: Any = None


# --------------------------------------------------------------------------------------------------
# The card
# --------------------------------------------------------------------------------------------------


class Card(_Model):
    """A model card: metadata, the Trainer-generated parts, and every line a person wrote."""

    model_config = ConfigDict(validate_assignment=False)

    metadata: Metadata = Field(default_factory=Metadata)
    title: str | None = None
    base_model: str | None = Field(
        default=None, description="Base model as the body names it (link text of 'fine-tuned version of')."
    )
    dataset_name: str | None = Field(
        default=None, description="Dataset as the body names it ('on the X dataset'); None when unknown."
    )
    headline: list[HeadlineMetric] = Field(default_factory=list)
    hyperparameters: Hyperparameters | None = None
    results: ResultsTable | None = None
    framework_versions: list[FrameworkVersion] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    newline: str = Field(default="\n", description="Line ending of the source ('\\n' or '\\r\\n').")
    trailing_newline: bool = True
    notes: list[str] = Field(
        default_factory=list,
        description="What cardsmith could not recover when building the card (shown as info).",
    )


def jsonable(value: Any) -> Any:
    """A JSON-compatible copy of YAML data (keys as strings, odd scalars as strings)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    return str(value)
