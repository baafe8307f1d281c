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

import ast
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cardsmith.card.numbers import Cell, printed
from cardsmith.card.plain import plain_dump

# --------------------------------------------------------------------------------------------------
# The Trainer's own lines, and the notes the parser leaves on a card (the rules read them)
# --------------------------------------------------------------------------------------------------

#: The note a card gets when its front matter opens with ``---`` on line 1 and never closes: like
#: huggingface_hub, the parser then reads no metadata and treats the whole file as the card's text.
FRONT_MATTER_UNCLOSED = "front matter opened with '---' on line 1 is never closed (no closing '---' line)"
#: The line the Trainer writes before the headline list.
HEADLINE_LEAD = "It achieves the following results on the evaluation set:"
#: The opening of a headline lead edited from the Trainer's (``... on the test set:``); the parser
#: reads only :data:`HEADLINE_LEAD` and notes such a headline as not read (``headline-not-read``).
HEADLINE_LEAD_OPENING = "it achieves the following results"
#: The start of the note for a headline under an edited lead.
HEADLINE_NOT_READ = "the headline is not read: its lead line is"
#: The line the Trainer writes before the hyperparameter list.
HYPERPARAMETERS_LEAD = "The following hyperparameters were used during training:"


#: The configuration of every card model: core schemas are built on first validation, not at import.
#: The parser and the auditor build their models with ``model_construct`` (their data is already
#: typed), so ``cardsmith audit`` never pays for validators it does not use. (A shared configuration
#: rather than a shared base class: each class created costs start-up time.)
DEFERRED = ConfigDict(defer_build=True)
#: A mapping from YAML that keeps unknown keys (``model_extra``) in their order: the model-index.
OPEN = ConfigDict(defer_build=True, extra="allow", populate_by_name=True)


# --------------------------------------------------------------------------------------------------
# Front matter
# --------------------------------------------------------------------------------------------------


class IndexTask(BaseModel):
    model_config = OPEN

    type: str | None = None
    name: str | None = None


class IndexDataset(BaseModel):
    model_config = OPEN

    type: str | None = None
    name: str | None = None
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    args: Any = None


class IndexMetric(BaseModel):
    model_config = OPEN

    type: str | None = None
    name: str | None = None
    value: Any = None
    config: str | None = None
    verified: bool | None = None


class IndexResult(BaseModel):
    model_config = OPEN

    task: IndexTask | None = None
    dataset: IndexDataset | None = None
    metrics: list[IndexMetric] = Field(default_factory=list)


class ModelIndexEntry(BaseModel):
    model_config = OPEN

    name: str | None = None
    results: list[IndexResult] = Field(default_factory=list)


class Metadata(BaseModel):
    """The YAML front matter.

    ``data`` is the whole mapping as loaded, every key in its original order, so nothing is lost;
    ``model_index`` is the typed view of ``model-index`` (or the old ``model_index`` key), and the
    other fields are typed views of the common keys. ``key`` says which spelling of model-index the
    card used. ``raw`` is the original YAML text (without the ``---`` fences), written back verbatim
    while ``data`` is unchanged.
    """

    model_config = DEFERRED

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


def _coerce_index_node(node: Any, scalar_fields: tuple[str, ...]) -> Any:
    """Turn scalar fields that are not strings (``name: 3``) into strings so the typed view validates."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for field in scalar_fields:
        value = out.get(field)
        if value is not None and not isinstance(value, str):
            if isinstance(value, (dict, list)):
                import json

                out[field] = json.dumps(jsonable(value))
            else:
                out[field] = str(value)
    return out


def typed_model_index(value: Any, notes: list[str] | None = None) -> list[ModelIndexEntry] | None:
    """The typed view of a ``model-index`` value, lenient about the old and hand-edited forms.

    The old ``model_index`` layout (a singular ``metric:`` mapping, ``metrics:`` as a mapping) is read
    as a ``metrics`` list. Entries that cannot be typed are left out (with a note); ``data`` still
    holds them.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        if notes is not None:
            notes.append("model-index is not a list; its typed view is empty")
        return []
    entries: list[ModelIndexEntry] = []
    for i, raw_entry in enumerate(value):
        if not isinstance(raw_entry, dict):
            if notes is not None:
                notes.append(f"model-index entry {i + 1} is not a mapping; skipped in the typed view")
            continue
        entry = {str(k): v for k, v in raw_entry.items()}
        results = entry.get("results")
        if results is None and "results" in entry:
            entry["results"] = []
        elif isinstance(results, dict):
            entry["results"] = [results]
        elif results is not None and not isinstance(results, list):
            entry["results"] = []
        fixed_results = []
        for res in entry.get("results") or []:
            if not isinstance(res, dict):
                continue
            res = {str(k): v for k, v in res.items()}
            if "metrics" not in res and isinstance(res.get("metric"), (dict, list)):
                res["metrics"] = res.pop("metric")
            metrics = res.get("metrics")
            if isinstance(metrics, dict):
                metrics = [metrics]
            if metrics is None and "metrics" in res:
                metrics = []
            if metrics is not None:
                if not isinstance(metrics, list):
                    metrics = []
                res["metrics"] = [
                    _coerce_index_node({str(k): v for k, v in m.items()}, ("type", "name", "config"))
                    for m in metrics
                    if isinstance(m, dict)
                ]
            for sub, fields in (
                ("task", ("type", "name")),
                ("dataset", ("type", "name", "config", "split", "revision")),
            ):
                node = res.get(sub)
                if node is not None and not isinstance(node, dict):
                    res[sub] = {"name": str(node)}
                elif isinstance(node, dict):
                    res[sub] = _coerce_index_node({str(k): v for k, v in node.items()}, fields)
            fixed_results.append(res)
        if "results" in entry:
            entry["results"] = fixed_results
        entry = _coerce_index_node(entry, ("name",))
        try:
            entries.append(_index_entry(entry))
        except ValidationError as exc:
            if notes is not None:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                notes.append(f"model-index entry {i + 1} could not be typed ({where}: {first.get('msg')})")
    return entries


_NONE = type(None)
_STR_OR_NONE = (str, _NONE)


def _open_node(cls: type[BaseModel], node: Any, scalars: tuple[str, ...], flags: tuple[str, ...] = ()) -> Any:
    """``cls.model_construct(**node)`` when validation would keep ``node``'s values as they are, else None.

    That is: ``node`` is a mapping of string keys (none starting with ``_``) whose ``scalars`` are
    strings or None and whose ``flags`` are booleans or None; every other key of these models is
    typed ``Any`` or is an extra, which validation keeps as it is.
    """
    if type(node) is not dict:
        return None
    for key in node:
        if key[:1] == "_":
            return None
    for key in scalars:
        if type(node.get(key)) not in _STR_OR_NONE:
            return None
    for key in flags:
        if type(node.get(key)) not in (bool, _NONE):
            return None
    return cls.model_construct(set(node), **node)  # validation counts extras as set too


def _index_entry(entry: dict[str, Any]) -> ModelIndexEntry:
    """The typed model-index entry: built directly when its data is already well-typed (the usual
    case, and the same result as validation), else validated (which may raise ValidationError)."""
    fast = _index_entry_fast(entry)
    return fast if fast is not None else ModelIndexEntry.model_validate(entry)


def _index_entry_fast(entry: dict[str, Any]) -> ModelIndexEntry | None:
    results = entry.get("results", [])
    if type(results) is not list:
        return None
    typed_results = []
    for res in results:
        if type(res) is not dict:
            return None
        node = dict(res)
        for sub, cls, fields in (
            ("task", IndexTask, ("type", "name")),
            ("dataset", IndexDataset, ("type", "name", "config", "split", "revision")),
        ):
            value = node.get(sub)
            if value is not None:
                typed = _open_node(cls, value, fields)
                if typed is None:
                    return None
                node[sub] = typed
        metrics = node.get("metrics", [])
        if type(metrics) is not list:
            return None
        typed_metrics = []
        for m in metrics:
            typed = _open_node(IndexMetric, m, ("type", "name", "config"), ("verified",))
            if typed is None:
                return None
            typed_metrics.append(typed)
        if "metrics" in node:
            node["metrics"] = typed_metrics
        built = _open_node(IndexResult, node, ())
        if built is None:
            return None
        typed_results.append(built)
    node = dict(entry)
    if "results" in node:
        node["results"] = typed_results
    return _open_node(ModelIndexEntry, node, ("name",))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------
# Generated parts of the body
# --------------------------------------------------------------------------------------------------


class HeadlineMetric(BaseModel):
    """One line of "It achieves the following results on the evaluation set": ``- F1: 0.9126``."""

    model_config = DEFERRED

    name: str
    value: Cell


class Optimizer(BaseModel):
    """The optimizer line, parsed.

    Reads ``Adam with betas=(0.9,0.999) and epsilon=1e-08``, the transformers 5 form
    ``Use OptimizerNames.ADAMW_TORCH_FUSED with betas=(0.9,0.999) and epsilon=1e-08 and
    optimizer_args=No additional optimizer arguments``, and Keras dicts. ``text`` is the line as
    printed (without the ``optimizer:`` key).
    """

    model_config = DEFERRED

    text: str
    name: str | None = None
    betas: tuple[float, float] | None = None
    epsilon: float | None = None
    args: str | None = None


# -- the optimizer line, as every Trainer version words it --------------------------------------------------------------------------
_OPT_ARGS_ARE_RE = re.compile(r"^Use\s+(?P<name>\S+)\s+and the args are:\s*(?P<args>.*)$", re.DOTALL)
_OPT_RE = re.compile(
    r"^(?:Use\s+)?(?P<name>[A-Za-z_][\w.\-]*)"
    r"(?:\s+with\s+betas=\(\s*(?P<b1>[^,()\s]+)\s*,\s*(?P<b2>[^,()\s]+)\s*\))?"
    r"(?:\s+and\s+epsilon=(?P<eps>\S+?))?"
    r"(?:\s+and\s+optimizer_args=(?P<args>.*))?\s*$",
    re.DOTALL,
)


def parse_optimizer(text: str) -> Optimizer:
    """Read the value of an ``optimizer:`` hyperparameter (every Trainer wording, and Keras dicts)."""
    stripped = text.strip()
    # Runs of whitespace become one space: the patterns' optional groups each open with \s+, which
    # on a long run would be tried from every position of it (quadratic).
    stripped = " ".join(stripped.split())
    m = _OPT_ARGS_ARE_RE.match(stripped)
    if m:
        args = m.group("args").strip()
        return Optimizer.model_construct(text=text, name=m.group("name"), args=args or None)
    if stripped.startswith("{") and len(stripped) <= 20_000:
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            value = None
        if isinstance(value, dict):
            name = value.get("name") or value.get("class_name")
            b1, b2, eps = (_real(value.get(k)) for k in ("beta_1", "beta_2", "epsilon"))
            betas = (b1, b2) if b1 is not None and b2 is not None else None
            return Optimizer.model_construct(
                text=text, name=str(name) if name is not None else None, betas=betas, epsilon=eps
            )
    m = _OPT_RE.match(stripped)
    if m:
        betas = None
        if m.group("b1") is not None:
            try:
                betas = (float(m.group("b1")), float(m.group("b2")))
            except ValueError:
                betas = None
        eps = None
        if m.group("eps") is not None:
            try:
                eps = float(m.group("eps"))
            except ValueError:
                eps = None
        args = m.group("args")
        return Optimizer.model_construct(
            text=text,
            name=m.group("name"),
            betas=betas,
            epsilon=eps,
            args=args.strip() if args is not None else None,
        )
    return Optimizer.model_construct(text=text)


def _real(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Hyperparameters(BaseModel):
    """The "Training hyperparameters" list, typed where the Trainer's keys are known.

    ``order`` lists the keys as the card printed them; ``extra`` keeps every key cardsmith has no
    typed field for (``weight_decay``, ``training precision``, ...) with its text. Numbers keep
    their printed type: ``num_epochs: 3`` stays ``3``, ``num_epochs: 3.0`` stays ``3.0``.
    """

    model_config = DEFERRED

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


class ResultsTable(BaseModel):
    """The "Training results" table: header names and rows of printed cells.

    Column names are kept exactly (``Validation Loss``, ``Overall F1``, ``Wer``, ``Gen Len``); every
    row has one cell per column (missing cells are empty text cells).
    """

    model_config = DEFERRED

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


class FrameworkVersion(BaseModel):
    """``- Transformers 4.18.0``: a library name and its version string as printed."""

    model_config = DEFERRED

    name: str
    version: str


BlockKind = Literal[
    "text", "metadata", "title", "intro", "headline", "hyperparameters", "results", "framework_versions"
]


class Block(BaseModel):
    """A run of source lines, in document order.

    ``kind == "text"`` blocks are written back verbatim. Other kinds stand for a generated part of
    the card (the field of the same name on :class:`Card`); ``text`` is that part's original
    source, written back while the part is unchanged since parsing (``snapshot``). A ``metadata``
    block is the front matter with its ``---`` fences (snapshot: ``{"data", "model_index"}`` as JSON).
    """

    model_config = DEFERRED

    kind: BlockKind = "text"
    text: str
    snapshot: Any = None


# --------------------------------------------------------------------------------------------------
# The card
# --------------------------------------------------------------------------------------------------


class Card(BaseModel):
    """A model card: metadata, the Trainer-generated parts, and every line a person wrote."""

    model_config = ConfigDict(defer_build=True, validate_assignment=False)

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


# --------------------------------------------------------------------------------------------------
# Snapshots: what the renderer compares against to decide whether a part changed
# --------------------------------------------------------------------------------------------------


def part_snapshot(card: Card, kind: str) -> Any:
    """A JSON-able dump of one generated part of ``card`` (the renderer compares it to the block's).

    ``kind`` is a :data:`~cardsmith.card.model.BlockKind` other than ``text``. Cells are dumped as what
    they print (:func:`printed`): the rendered text of a part depends on nothing else, and long
    tables stay fast.
    """
    if kind == "title":
        return card.title
    if kind == "intro":
        return {"base_model": card.base_model, "dataset_name": card.dataset_name}
    if kind == "headline":
        return [[h.name, printed(h.value)] for h in card.headline]
    if kind == "hyperparameters":
        return plain_dump(card.hyperparameters) if card.hyperparameters is not None else None
    if kind == "results":
        table = card.results
        if table is None:
            return None
        rows = [[printed(c) for c in row] for row in table.rows]
        return {"columns": list(table.columns), "rows": rows}
    if kind == "framework_versions":
        return [[fv.name, fv.version] for fv in card.framework_versions]
    if kind == "metadata":
        return metadata_snapshot(card.metadata)
    raise ValueError(f"no snapshot for block kind {kind!r}")


def index_dump(entries: list[ModelIndexEntry] | None) -> Any:
    """The typed model-index as JSON (``None`` stays ``None``): what change detection compares."""
    if entries is None:
        return None
    return [plain_dump(e, exclude_none=True) for e in entries]


def metadata_snapshot(metadata: Metadata) -> dict[str, Any]:
    """``{"data": ..., "model_index": ...}``: the front matter as JSON, for change detection."""
    return {"data": jsonable(metadata.data), "model_index": index_dump(metadata.model_index)}


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
