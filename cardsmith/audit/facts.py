"""What a card's numbers imply: column roles, metric scale, averaging, and which rows the headline is.

The auditor's rules do not read raw column names; they read a :class:`CardFacts` built once per card
by :func:`analyze`. It knows, for the "Training results" table:

- which column is the training loss, the evaluation loss, the epoch and the step, which columns are
  bounded metrics (accuracy, precision, recall, F1, ROUGE, ...), which are error rates (WER, CER,
  MAE) and which are pseudo-metrics (runtimes, ``Gen Len``, ``Model Preparation Time``);
- the scale of every bounded metric (``fraction`` in [0, 1] or ``percent`` in [0, 100]);
- the averaging that the identities between precision, recall, F1 and accuracy imply:

  ========== ===================================================================================
  micro      precision = recall = F1 (= accuracy) in every row (single-label micro averaging)
  weighted   recall = accuracy in every row (weighted recall is accuracy), precision differs
  seqeval    F1 is the harmonic mean of precision and recall, accuracy differs, token classification
  binary     F1 is the harmonic mean of precision and recall, accuracy differs
  macro      F1 is not the harmonic mean of precision and recall in some row
  ========== ===================================================================================

Every comparison is between printed numbers: two printed values *agree* when the intervals that
their printed digits allow (``value +- half_ulp``) overlap. Nothing here ever raises on an odd card:
missing columns, text cells (``No log``) and ragged rows are simply absent from the facts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from cardsmith.card.metric_names import (
    METRIC_KINDS,
    VAL_LOSS_NAMES,
    Role,
    column_role,
    metric_kind,
    norm_name,
)
from cardsmith.card.numbers import EPS, Cell, agree, interval

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.card.model import Card, HeadlineMetric

Scale = Literal["fraction", "percent"]

_INF = math.inf
_NINF = -math.inf
_isnan = math.isnan


class Column:
    """One results-table column, classified."""

    __slots__ = ("index", "kind", "name", "role", "scale")

    def __init__(
        self, index: int, name: str, role: Role, kind: str = "other", scale: Scale | None = None
    ) -> None:
        self.index = index
        self.name = name
        self.role: Role = role
        self.kind = kind
        self.scale: Scale | None = scale

    def __repr__(self) -> str:
        return (
            f"Column(index={self.index!r}, name={self.name!r}, role={self.role!r}, kind={self.kind!r}, "
            f"scale={self.scale!r})"
        )

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """Lower and upper bound on this column's scale (``None``: unbounded)."""
        lo, hi, _ = METRIC_KINDS.get(self.kind, (None, None, None))
        if hi is not None and self.scale == "percent":
            hi = hi * 100.0
            lo = lo * 100.0 if lo is not None else None
        return lo, hi

    @property
    def higher_is_better(self) -> bool | None:
        if self.role in {"train_loss", "val_loss"}:
            return False
        if self.role != "metric":
            return None
        return METRIC_KINDS.get(self.kind, (None, None, None))[2]

    @property
    def is_bounded(self) -> bool:
        return (
            self.role in {"metric", "train_metric"}
            and METRIC_KINDS.get(self.kind, (None, None, None))[1] is not None
        )


class Row:
    """One table row: its 1-based number and its cells by column index."""

    __slots__ = ("cells", "number")

    def __init__(self, number: int, cells: list[Cell]) -> None:
        self.number = number
        self.cells = cells

    def __repr__(self) -> str:
        return f"Row(number={self.number!r}, cells=[{len(self.cells)} cells])"

    def cell(self, column: Column | None) -> Cell | None:
        if column is None or column.index >= len(self.cells):
            return None
        return self.cells[column.index]

    def num(self, column: Column | None) -> float | None:
        """The numeric value of a cell, ``None`` for text cells, NaN, or an absent column."""
        c = self.cell(column)
        if c is None or c.value is None or not math.isfinite(c.value):
            return None
        return c.value


class HeadlineLink:
    """A headline metric and the table column it reports (``Loss`` <-> ``Validation Loss``)."""

    __slots__ = ("column", "metric")

    def __init__(self, metric: HeadlineMetric, column: Column) -> None:
        self.metric = metric
        self.column = column

    def __repr__(self) -> str:
        return f"HeadlineLink(metric={self.metric!r}, column={self.column!r})"


class CardFacts:
    """Everything the rules need to know about a card's numbers, computed once.

    ``cells(column)`` is a column's cells, one per row of ``rows``, computed once per column: the
    rules walk columns, and long tables (100,000 rows) stay fast.
    """

    def __init__(
        self,
        card: Card,
        columns: list[Column] | None = None,
        rows: list[Row] | None = None,
        headline_links: list[HeadlineLink] | None = None,
        headline_rows: list[Row] | None = None,
        scale: Scale | None = None,
        averaging: str | None = None,
        averaging_evidence: str | None = None,
        token_classification: bool = False,
    ) -> None:
        self.card = card
        self.columns: list[Column] = columns if columns is not None else []
        self.rows: list[Row] = rows if rows is not None else []
        self.headline_links: list[HeadlineLink] = headline_links if headline_links is not None else []
        self.headline_rows: list[Row] = headline_rows if headline_rows is not None else []
        self.scale: Scale | None = scale
        self.averaging = averaging
        self.averaging_evidence = averaging_evidence
        self.token_classification = token_classification
        # per column index: (number of rows when cached, the column's cells / finite values)
        self._cells: dict[int, tuple[int, list[Cell | None]]] = {}
        self._values: dict[int, tuple[int, list[float | None]]] = {}

    def __repr__(self) -> str:
        return (
            f"CardFacts(columns={self.columns!r}, rows=[{len(self.rows)} rows], scale={self.scale!r}, "
            f"averaging={self.averaging!r})"
        )

    # -- columns -----------------------------------------------------------------------------------

    def first(self, role: Role) -> Column | None:
        for c in self.columns:
            if c.role == role:
                return c
        return None

    @property
    def train_loss(self) -> Column | None:
        return self.first("train_loss")

    @property
    def val_loss(self) -> Column | None:
        return self.first("val_loss")

    @property
    def epoch(self) -> Column | None:
        return self.first("epoch")

    @property
    def step(self) -> Column | None:
        return self.first("step")

    @property
    def metrics(self) -> list[Column]:
        return [c for c in self.columns if c.role == "metric"]

    @property
    def losses(self) -> list[Column]:
        return [c for c in self.columns if c.role in {"train_loss", "val_loss"}]

    def metric_of_kind(self, kind: str) -> Column | None:
        """The evaluation metric column of a kind; seqeval's ``Overall`` columns win."""
        found = [c for c in self.metrics if c.kind == kind]
        if not found:
            return None
        overall = [c for c in found if norm_name(c.name).startswith("overall")]
        return (overall or found)[0]

    def cells(self, column: Column | None) -> list[Cell | None]:
        """The column's cells, one per row of :attr:`rows` (``None`` where a row is too short, and
        for every row when ``column`` is None)."""
        if column is None:
            return [None] * len(self.rows)
        i = column.index
        cached = self._cells.get(i)
        if cached is not None and cached[0] == len(self.rows):
            return cached[1]
        cells = [r.cells[i] if i < len(r.cells) else None for r in self.rows]
        self._cells[i] = (len(self.rows), cells)
        return cells

    def values(self, column: Column | None) -> list[float | None]:
        """The column's finite values, one per row of :attr:`rows` (``None`` for text, NaN, infinite
        or absent cells): ``values(col)[i] is not None`` exactly when ``cells(col)[i]`` is numeric."""
        if column is None:
            return [None] * len(self.rows)
        cached = self._values.get(column.index)
        if cached is not None and cached[0] == len(self.rows):
            return cached[1]
        isfinite = math.isfinite
        values = [
            v if c is not None and (v := c.value) is not None and isfinite(v) else None
            for c in self.cells(column)
        ]
        self._values[column.index] = (len(self.rows), values)
        return values

    # -- rows --------------------------------------------------------------------------------------

    def row_label(self, row: Row) -> str:
        """``the row of epoch 4.0`` (or of step N, or row N) for messages."""
        for col, word in ((self.epoch, "epoch"), (self.step, "step")):
            c = row.cell(col)
            if c is not None and c.value is not None:
                return f"the row of {word} {c.text.strip()}"
        return f"row {row.number}"

    @property
    def last_row(self) -> Row | None:
        return self.rows[-1] if self.rows else None

    def best_rows(self) -> dict[str, Row]:
        """The best row per criterion (validation loss, each headline metric), as the Trainer picks it.

        The Trainer keeps the first checkpoint that is strictly better than all earlier ones, so among
        rows whose printed values tie, the earliest wins.
        """
        out: dict[str, Row] = {}
        criteria: list[Column] = []
        if self.val_loss is not None:
            criteria.append(self.val_loss)
        for link in self.headline_links:
            col = link.column
            if col.role == "metric" and col.higher_is_better is not None and col not in criteria:
                criteria.append(col)
        isfinite = math.isfinite
        for col in criteria:
            higher = col.higher_is_better
            best: Row | None = None
            best_value = 0.0
            for row, c in zip(self.rows, self.cells(col)):
                if c is None:
                    continue
                v = c.value
                if v is None or not isfinite(v):
                    continue
                if best is None or (v > best_value if higher else v < best_value):
                    best, best_value = row, v
            if best is not None:
                out[col.name] = best
        return out


# --------------------------------------------------------------------------------------------------
# Comparisons of printed numbers
# --------------------------------------------------------------------------------------------------


def harmonic_mean_agrees(p: Cell, r: Cell, f1: Cell) -> bool:
    """F1 could be the harmonic mean of precision and recall, given the printed rounding of all three.

    The harmonic mean grows with both arguments, so the F1 values that the printed precision and
    recall allow form the interval ``[HM(p_lo, r_lo), HM(p_hi, r_hi)]``; it must overlap F1's own.
    """
    if p.value is None or r.value is None or f1.value is None:
        return True
    p_lo, p_hi = interval(p)
    r_lo, r_hi = interval(r)
    f_lo, f_hi = interval(f1)

    def hm(x: float, y: float) -> float:
        x, y = max(x, 0.0), max(y, 0.0)
        return 0.0 if x + y <= 0 else 2 * x * y / (x + y)

    lo, hi = hm(p_lo, r_lo), hm(p_hi, r_hi)
    return lo <= f_hi + EPS and f_lo <= hi + EPS


# --------------------------------------------------------------------------------------------------
# Building the facts
# --------------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


#: A value above 1 but below this is no evidence of a percent scale: ``1.0213`` is far more likely a
#: fraction out of range than an accuracy of 1.02 %.
PERCENT_EVIDENCE = 2.0
#: Scores that are printed on 0-100 by their usual libraries (sacrebleu, the summarization scripts'
#: ROUGE x 100), where a weak model's 1.13 is a percent value: any value above 1 is percent.
_PERCENT_NATIVE_KINDS = frozenset({"bleu", "rouge"})


def _percent_evidence(kind: str | None) -> float:
    return 1.0 + 1e-9 if kind in _PERCENT_NATIVE_KINDS else PERCENT_EVIDENCE


def _column_scale(cells: list[Cell], kind: str | None = None) -> Scale | None:
    """``percent`` when a cell prints ``%``, or when most values are above 1 and some clearly are
    (a median above 1 alone is not enough: the column 0.9, 1.5 is a fraction with a bad cell)."""
    values = [c.value for c in cells if c.value is not None and math.isfinite(c.value)]
    if any(c.percent for c in cells):
        return "percent"
    if not values:
        return None
    magnitudes = [abs(v) for v in values]
    if _median(magnitudes) > 1.0 + 1e-9 and max(magnitudes) >= _percent_evidence(kind):
        return "percent"
    return "fraction"


def value_scale(cell: Cell, kind: str | None = None) -> Scale | None:
    """Scale of a lone printed value (a headline without a table): ``%``, or at least
    :data:`PERCENT_EVIDENCE`, means percent; ``1.0213`` is a fraction (out of range)."""
    if cell.percent:
        return "percent"
    if cell.value is None or not math.isfinite(cell.value):
        return None
    if kind in _PERCENT_NATIVE_KINDS:
        return "percent" if abs(cell.value) > 1.0 + cell.half_ulp + EPS else "fraction"
    return "percent" if abs(cell.value) >= PERCENT_EVIDENCE else "fraction"


def link_name(name: str, facts: CardFacts) -> Column | None:
    """The table column a headline (or model-index) metric name reports."""
    n = norm_name(name)
    if not facts.columns:
        return None
    for col in facts.columns:
        if norm_name(col.name) == n and col.role not in {"epoch", "step", "pseudo"}:
            return col
    if n in {"loss", "validation loss", "val loss", "eval loss"}:
        return facts.val_loss
    if n in {"train loss", "training loss"}:
        return facts.train_loss
    kind = metric_kind(name)
    if kind == "other":
        return None
    same = [c for c in facts.metrics if c.kind == kind]
    if len(same) == 1:
        return same[0]
    return None


def _is_token_classification(card: Card, columns: list[Column]) -> bool:
    if any(norm_name(c.name).startswith("overall") for c in columns):
        return True
    md = card.metadata.data if card.metadata is not None else {}
    tags = md.get("tags")
    tag_list = (
        [str(t).lower() for t in tags] if isinstance(tags, list) else [str(tags).lower()] if tags else []
    )
    if md.get("pipeline_tag") == "token-classification" or "token-classification" in tag_list:
        return True
    for entry in card.metadata.model_index or []:
        for res in entry.results:
            if res.task is not None and (res.task.type or "") == "token-classification":
                return True
    title = (card.title or "").lower()
    return bool(re.search(r"(\bner\b|[-_]ner\b|token[-_ ]?classification|pos[-_]tag)", title))


def analyze(card: Card) -> CardFacts:
    """Classify the results table, link the headline to it, and infer scale and averaging."""
    facts = CardFacts(card=card)
    table = card.results
    if table is not None and table.columns:
        names = list(table.columns)
        has_val = any(norm_name(n) in VAL_LOSS_NAMES - {"loss"} for n in names)
        for i, name in enumerate(names):
            role = column_role(name, has_val_loss_column=has_val)
            kind = metric_kind(name) if role in {"metric", "train_metric"} else "other"
            facts.columns.append(Column(index=i, name=name, role=role, kind=kind))
        rows = facts.rows
        for number, cells in enumerate(table.rows, start=1):
            for c in cells:
                if c.text.strip():
                    rows.append(Row(number, list(cells)))
                    break
        for col in facts.columns:
            if col.is_bounded:
                col.scale = _column_scale([c for c in facts.cells(col) if c is not None], col.kind)
    facts.token_classification = _is_token_classification(card, facts.columns)

    # headline <-> columns, and the rows the headline reports
    for metric in card.headline:
        if metric.value.value is None:
            continue
        linked = link_name(metric.name, facts)
        if (
            linked is not None
            and linked.role in {"metric", "val_loss", "train_loss", "train_metric"}
            and all(link.column is not linked for link in facts.headline_links)
        ):
            facts.headline_links.append(HeadlineLink(metric=metric, column=linked))
    if facts.headline_links:
        matching = [True] * len(facts.rows)
        for link in facts.headline_links:
            want = link.metric.value
            for i, cell in enumerate(facts.cells(link.column)):
                if matching[i] and (cell is None or not agree(want, cell)):
                    matching[i] = False
        facts.headline_rows.extend(row for row, ok in zip(facts.rows, matching) if ok)

    # scale of the card: the scale of its bounded metrics (table first, else the headline)
    scales = [c.scale for c in facts.columns if c.is_bounded and c.role == "metric" and c.scale]
    if not scales:
        scales = [
            s
            for m in card.headline
            if METRIC_KINDS.get(metric_kind(m.name), (None, None, None))[1] is not None
            and (s := value_scale(m.value, metric_kind(m.name))) is not None
        ]
    if scales:
        facts.scale = "percent" if scales.count("percent") > scales.count("fraction") else "fraction"
    _infer_averaging(facts)
    return facts


_EVIDENCE_KINDS = ("precision", "recall", "f1", "accuracy")


def _evidence(facts: CardFacts) -> tuple[int, dict[str, list[Cell | None]]]:
    """precision/recall/F1/accuracy cells (``None`` where absent), aligned over the evidence rows:
    the table's rows that have at least one of them, else the headline as one row."""
    if facts.rows:
        columns = {k: facts.cells(facts.metric_of_kind(k)) for k in _EVIDENCE_KINDS}
        for k, cells in columns.items():
            columns[k] = [c if c is not None and c.value is not None else None for c in cells]
        keep = [i for i, present in enumerate(zip(*columns.values())) if any(c is not None for c in present)]
        if len(keep) == len(facts.rows):
            return len(keep), columns
        return len(keep), {k: [cells[i] for i in keep] for k, cells in columns.items()}
    entry: dict[str, Cell] = {}
    for m in facts.card.headline:
        k = metric_kind(m.name)
        if k in _EVIDENCE_KINDS and k not in entry and m.value.value is not None:
            entry[k] = m.value
    if not entry:
        return 0, {}
    return 1, {k: [entry.get(k)] for k in _EVIDENCE_KINDS}


def _infer_averaging(facts: CardFacts) -> None:
    n, ev = _evidence(facts)
    if not n:
        return
    where = (
        "in every row" if facts.rows and n > 1 else ("in the only row" if facts.rows else "in the headline")
    )
    overall = any(norm_name(c.name).startswith("overall") for c in facts.metrics)

    def all_rows(keys: tuple[str, ...], test: Callable[..., bool]) -> bool:
        """Some evidence row has all ``keys``, and ``test(*cells)`` holds in every such row."""
        any_row = False
        for cells in zip(*(ev[k] for k in keys)):
            if None in cells:
                continue
            if not test(*cells):
                return False
            any_row = True
        return any_row

    has = {k: any(c is not None for c in ev[k]) for k in _EVIDENCE_KINDS}
    if overall:
        facts.averaging = "seqeval"
        facts.averaging_evidence = "seqeval's Overall precision/recall/F1/accuracy columns"
        return
    if has["precision"] and has["recall"] and has["f1"]:
        if has["accuracy"] and all_rows(
            ("precision", "recall", "f1", "accuracy"),
            lambda p, r, f1, acc: agree(p, r) and agree(r, f1) and agree(f1, acc),
        ):
            facts.averaging = "micro"
            facts.averaging_evidence = f"precision, recall, F1 and accuracy are equal {where}"
            return
        if (
            has["accuracy"]
            and all_rows(("recall", "accuracy"), agree)
            and not all_rows(("precision", "accuracy"), agree)
        ):
            facts.averaging = "weighted"
            facts.averaging_evidence = f"recall equals accuracy {where} (weighted recall is accuracy)"
            return
        if all_rows(("precision", "recall", "f1"), harmonic_mean_agrees):
            if facts.token_classification and has["accuracy"]:
                facts.averaging = "seqeval"
                facts.averaging_evidence = (
                    f"F1 is the harmonic mean of precision and recall {where}; accuracy is token accuracy"
                )
            else:
                facts.averaging = "binary"
                facts.averaging_evidence = f"F1 is the harmonic mean of precision and recall {where}" + (
                    "" if not has["accuracy"] else ", accuracy differs (binary, or entity-level seqeval)"
                )
            return
        facts.averaging = "macro"
        facts.averaging_evidence = "F1 is not the harmonic mean of precision and recall (per-class averaging)"
        return
    if has["f1"] and has["accuracy"] and all_rows(("f1", "accuracy"), agree):
        facts.averaging = "micro"
        facts.averaging_evidence = f"F1 equals accuracy {where}"
        return
    if has["recall"] and has["accuracy"] and all_rows(("recall", "accuracy"), agree):
        facts.averaging = "weighted"
        facts.averaging_evidence = f"recall equals accuracy {where} (weighted recall is accuracy)"
