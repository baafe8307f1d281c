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
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from pathlib import Path

    from cardsmith.audit.report import AuditReport

# --------------------------------------------------------------------------------------------------
# Printed numbers
# --------------------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(
    r"""^\s*(?P<sign>[-+]?)\s*
        (?P<mant>(?:\d[\d_]*)?(?:\.\d*)?)
        (?:[eE](?P<exp>[-+]?\d+))?
        \s*(?P<pct>%)?\s*$""",
    re.VERBOSE,
)
_SPECIAL = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
            "infinity": math.inf, "-infinity": -math.inf}


class _Model(BaseModel):
    """Base of the card models: core schemas are built on first validation, not at import.

    The parser and the auditor build their models with ``model_construct`` (their data is already
    typed), so ``cardsmith audit`` never pays for building validators it does not use.
    """

    model_config = ConfigDict(defer_build=True)


_NONE_TYPE = type(None)
_PLAIN = (str, int, bool, _NONE_TYPE)


class _NotPlain(Exception):
    """A value :func:`plain_dump` does not convert itself (it falls back to ``model_dump``)."""


def _plain(value: Any, exclude_none: bool) -> Any:
    t = type(value)
    if t in _PLAIN:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if t is list or t is tuple:
        return [_plain(v, exclude_none) for v in value]
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _plain(v, exclude_none)
        return out
    if isinstance(value, BaseModel):
        return _plain_model(value, exclude_none)
    raise _NotPlain


def _plain_model(model: BaseModel, exclude_none: bool) -> dict[str, Any]:
    if not _is_plain_class(type(model)):
        raise _NotPlain
    out: dict[str, Any] = {}
    values = model.__dict__
    for name in type(model).__pydantic_fields__:
        v = values[name]
        if v is None and exclude_none:
            continue
        out[name] = _plain(v, exclude_none)
    extra = model.__pydantic_extra__
    if extra:
        for name, v in extra.items():
            if v is None and exclude_none:
                continue
            out[name] = _plain(v, exclude_none)
    return out


def plain_dump(model: BaseModel, *, exclude_none: bool = False) -> dict[str, Any]:
    """``model.model_dump(mode="json", exclude_none=...)``, without building pydantic's serializer.

    Handles the plain data cards and reports hold (strings, numbers, lists, dicts with string
    keys, nested models) in pure Python; anything else (bytes, sets, dates, custom serializers)
    falls back to ``model_dump``, so the result is always the same.
    """
    try:
        return _plain_model(model, exclude_none)
    except (_NotPlain, KeyError, AttributeError):
        return model.model_dump(mode="json", exclude_none=exclude_none)


_PLAIN_CLASSES: dict[type, bool] = {}


def _is_plain_class(cls: type[BaseModel]) -> bool:
    """No serializers, computed fields or aliases: ``model_dump`` is the fields (then the extras) as they are."""
    known = _PLAIN_CLASSES.get(cls)
    if known is None:
        dec = cls.__pydantic_decorators__
        known = not (dec.field_serializers or dec.model_serializers or dec.computed_fields) and all(
            f.alias is None and f.serialization_alias is None and f.exclude is None
            for f in cls.__pydantic_fields__.values()
        )
        _PLAIN_CLASSES[cls] = known
    return known


def _cell(cls: "type[Cell]", text: str, value: float | None = None, decimals: int | None = None,
          percent: bool = False, fields_set: frozenset[str] = frozenset({"text"})) -> "Cell":
    """A :class:`Cell` from already typed values, without running validation."""
    cell = object.__new__(cls)
    object.__setattr__(cell, "__dict__", {"text": text, "value": value, "decimals": decimals, "percent": percent})
    object.__setattr__(cell, "__pydantic_fields_set__", set(fields_set))
    object.__setattr__(cell, "__pydantic_extra__", None)
    object.__setattr__(cell, "__pydantic_private__", None)
    return cell


_HALF_ULPS = tuple(0.5 * 10.0 ** (-d) for d in range(32))
_ALL_CELL_FIELDS = frozenset({"text", "value", "decimals", "percent"})
_TEXT_VALUE_DECIMALS = frozenset({"text", "value", "decimals"})


class Cell(_Model):
    """One printed value: the text exactly as it appears and, when it is a number, its value.

    ``decimals`` is the number of digits printed after the decimal point (``0.904`` -> 3,
    ``0.9546`` -> 4, ``5`` -> 0), which bounds what the printed text can tell: the true value lies
    within ``half_ulp`` of ``value``. ``None`` for text cells such as ``No log``.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    value: float | None = None
    decimals: int | None = None
    percent: bool = False

    @classmethod
    def parse(cls, text: str) -> "Cell":
        """Read a printed cell: ``0.9546``, ``1e-08``, ``17.71%``, ``**0.5**``, ``No log``, ``nan``."""
        raw = text
        core = text.strip().strip("*_`").strip()
        low = core.lower()
        if type(raw) is not str:  # validation coerces (or refuses) odd input
            return cls(text=raw)
        if low in _SPECIAL:
            return _cell(cls, raw, _SPECIAL[low], None, fields_set=_TEXT_VALUE_DECIMALS)
        m = _NUMBER_RE.match(core)
        if not m or not m.group("mant") or m.group("mant") in {".", ""}:
            return _cell(cls, raw)
        mant = m.group("mant").replace("_", "")
        if not any(ch.isdigit() for ch in mant):
            return _cell(cls, raw)
        exp = int(m.group("exp")) if m.group("exp") else 0
        frac = mant.split(".", 1)[1] if "." in mant else ""
        decimals = max(len(frac) - exp, 0)
        try:
            value = float(f"{m.group('sign')}{mant}e{exp}")
        except ValueError:  # pragma: no cover - the regex only admits valid floats
            return _cell(cls, raw)
        return _cell(cls, raw, value, decimals, bool(m.group("pct")), _ALL_CELL_FIELDS)

    @classmethod
    def of(cls, value: float | None, text: str | None = None) -> "Cell":
        """A cell for a value known exactly (from a training log).

        ``value`` keeps full precision; ``text`` defaults to how the Trainer prints the value
        (transformers' ``_maybe_round``: ``0.30459123`` -> ``0.3046``, ``878`` -> ``878``,
        ``1.0`` -> ``1.0``), which is what the rendered card shows.
        """
        if value is None:
            return cls(text=text if text is not None else "No log")
        if text is None:
            text = str(value)
            if isinstance(value, float) and len(text.split(".")) > 1 and len(text.split(".")[1]) > 4:
                text = f"{value:.4f}"
        parsed = cls.parse(text)
        return cls(text=text, value=float(value), decimals=parsed.decimals, percent=parsed.percent)

    @property
    def is_number(self) -> bool:
        return self.value is not None

    @property
    def half_ulp(self) -> float:
        """Half a unit in the last printed place: the rounding uncertainty of ``value``."""
        d = self.decimals
        if d is None:
            return 0.0
        if 0 <= d < 32:
            return _HALF_ULPS[d]
        return 0.5 * 10.0 ** (-d)

    def agrees(self, other: float, *, extra: float = 0.0) -> bool:
        """True when ``other`` rounds to (or could have produced) this printed value."""
        if self.value is None or math.isnan(self.value) or math.isnan(other):
            return False
        return abs(self.value - other) <= self.half_ulp + extra + 1e-12


# --------------------------------------------------------------------------------------------------
# Front matter
# --------------------------------------------------------------------------------------------------


class _Open(_Model):
    """A mapping from YAML that keeps unknown keys (``model_extra``) in their order."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class IndexTask(_Open):
    type: str | None = None
    name: str | None = None


class IndexDataset(_Open):
    type: str | None = None
    name: str | None = None
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    args: Any = None


class IndexMetric(_Open):
    type: str | None = None
    name: str | None = None
    value: Any = None
    config: str | None = None
    verified: bool | None = None


class IndexResult(_Open):
    task: IndexTask | None = None
    dataset: IndexDataset | None = None
    metrics: list[IndexMetric] = Field(default_factory=list)


class ModelIndexEntry(_Open):
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
        return [row[idx] if idx < len(row) else _cell(Cell, "") for row in self.rows]


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
    the card (the field of the same name on :class:`ModelCard`); ``text`` is that part's original
    source, written back while the part is unchanged since parsing (``snapshot``). A ``metadata``
    block is the front matter with its ``---`` fences (snapshot: ``{"data", "model_index"}`` as JSON).
    """

    kind: BlockKind = "text"
    text: str
    snapshot: Any = None


# --------------------------------------------------------------------------------------------------
# The card
# --------------------------------------------------------------------------------------------------


class ModelCard(_Model):
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

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def from_markdown(cls, text: str) -> "ModelCard":
        """Parse a model card's Markdown (with optional YAML front matter)."""
        from cardsmith.card.parse import parse_card

        return parse_card(text)

    @classmethod
    def load(cls, path: "str | Path") -> "ModelCard":
        """Read a card file, a model folder (its README.md) or a card JSON file."""
        from cardsmith.card.parse import load_card

        return load_card(path)

    @classmethod
    def from_trainer(cls, trainer: Any, **kwargs: Any) -> "ModelCard":
        """Build an accurate card from a ``transformers.Trainer`` after ``trainer.train()``."""
        from cardsmith.train.record import card_from_trainer

        return card_from_trainer(trainer, **kwargs)

    @classmethod
    def from_output_dir(cls, path: "str | Path", **kwargs: Any) -> "ModelCard":
        """Build a card from a training output folder (trainer_state.json, config.json); no pickle."""
        from cardsmith.train.record import card_from_output_dir

        return card_from_output_dir(path, **kwargs)

    # -- use ---------------------------------------------------------------------------------------

    def to_markdown(self) -> str:
        """Render the card: generated parts in the Trainer's layout, everything else as written."""
        from cardsmith.card.render import render_card

        return render_card(self)

    def audit(self, *, select: list[str] | None = None, ignore: list[str] | None = None) -> "AuditReport":
        """Run the auditor's rules on this card."""
        from cardsmith.audit.engine import audit_card

        return audit_card(self, select=select, ignore=ignore)

    def section_text(self, title: str) -> str | None:
        """The free text under a heading (case-insensitive title match), up to the next heading."""
        from cardsmith.card.parse import section_text

        return section_text(self, title)
