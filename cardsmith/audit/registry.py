"""The auditor's rules, declared as units and registered in ONE list (:data:`RULES`).

Every rule has a stable kebab-case ``name`` (readable as "ignore <name>"), a stable ``code``
(``CS1xx`` contradictions, ``CS2xx`` training-dynamics warnings, ``CS3xx`` completeness and
information, ``CS4xx`` reproduction, ``CS9xx`` suppression comments), a ``severity`` and a docstring in
the form "What it does / Why is this bad / Example". ``cardsmith rules [NAME]`` and the README's rule
table are generated from this list.

Rules read a card through :class:`cardsmith.audit.facts.CardFacts` and compare printed numbers only
within what their printed digits allow (:func:`cardsmith.audit.facts.agree`): no rule fires on what
rounding alone explains. A rule never raises on an odd card: absent columns, text cells and ragged
rows are skipped.

Thresholds (documented, so that a corpus of real cards does not drown in warnings):

- :data:`MATERIAL_RISE` (10 %): a validation or training loss "rose materially" when its printed
  value, even at the most favourable end of its rounding, is at least 10 % above the reference.
- :data:`FROZEN_RUN` (3): a metric is "frozen" when it is identical in at least 3 consecutive
  evaluations while the loss moves.
- :data:`CHANCE_TOLERANCE` (1 %): a loss "is at chance level" within 1 % of ``ln(num_labels)``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from cardsmith.errors import UnknownRuleError
from cardsmith.audit.facts import (
    EPS,
    CardFacts,
    Column,
    Row,
    agree,
    analyze,
    distinct,
    harmonic_mean_agrees,
    metric_kind,
    norm_name,
    same_digits,
    value_scale,
)
from cardsmith.audit.report import Finding, Location, Severity
from cardsmith.card.model import Cell, ModelCard

#: Relative rise that counts as material (losses), see the module docstring.
MATERIAL_RISE = 0.10
#: Consecutive identical evaluations that make a metric frozen.
FROZEN_RUN = 3
#: Relative distance to ln(num_labels) that counts as chance level.
CHANCE_TOLERANCE = 0.01
#: Where the rules are documented (SARIF ``helpUri``): the README's rule table.
HELP_URI = "https://github.com/cardsmith/cardsmith/blob/main/README.md#rules"

TABLE = "Training results"
HEADLINE = "Headline"
HYPERPARAMETERS = "Training hyperparameters"
MODEL_INDEX = "model-index"
METADATA = "Metadata"

Hit = tuple[str, Location]

#: ``Location(...)`` without validation (the rules pass typed values): no validator is ever built.
_location = Location.model_construct


class AuditContext:
    """What a rule sees: the card, its facts, and where it came from (for ``config.json``)."""

    __slots__ = ("_num_labels", "card", "facts", "path")

    def __init__(self, card: ModelCard, facts: CardFacts, path: Path | None = None) -> None:
        self.card = card
        self.facts = facts
        self.path = path
        self._num_labels: int | None | bool = False

    def __repr__(self) -> str:
        return f"AuditContext(card={self.card!r}, facts={self.facts!r}, path={self.path!r})"

    @property
    def num_labels(self) -> int | None:
        """Number of labels from ``config.json`` beside the card (``id2label`` / ``num_labels``)."""
        if self._num_labels is False:
            self._num_labels = _read_num_labels(self.path)
        return self._num_labels  # type: ignore[return-value]


def _read_num_labels(path: Path | None) -> int | None:
    if path is None:
        return None
    config = path.parent / "config.json"
    try:
        if not config.is_file() or config.stat().st_size > 4 * 1024 * 1024:
            return None
        import json

        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    id2label = data.get("id2label")
    if isinstance(id2label, dict) and len(id2label) >= 2:
        return len(id2label)
    n = data.get("num_labels")
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 2 else None


class Rule:
    """One declared rule. ``check`` yields ``(message, location)`` pairs; ``None`` for rules that
    another part of cardsmith produces (the evaluator's reproduction rules, the engine's
    suppression rules). Immutable; equal when all fields are equal.

    (A plain class rather than a frozen dataclass: generating the dataclass's methods is a
    noticeable part of ``cardsmith audit``'s start-up.)
    """

    __slots__ = ("check", "code", "doc", "name", "produced_by", "severity", "summary")
    _FIELDS = ("name", "code", "severity", "summary", "check", "doc", "produced_by")

    name: str
    code: str
    severity: Severity
    summary: str
    check: Callable[[AuditContext], Iterable[Hit]] | None
    doc: str
    produced_by: str

    def __init__(self, name: str, code: str, severity: Severity, summary: str,
                 check: Callable[[AuditContext], Iterable[Hit]] | None, doc: str,
                 produced_by: str = "audit") -> None:
        for key, value in zip(self._FIELDS, (name, code, severity, summary, check, doc, produced_by)):
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {key!r}: Rule is immutable")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"cannot delete field {key!r}: Rule is immutable")

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Rule(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self._FIELDS) + ")"

    @property
    def help_uri(self) -> str:
        return HELP_URI

    @property
    def sections(self) -> dict[str, str]:
        """The docstring's parts: ``What it does``, ``Why is this bad``, ``Example``."""
        out: dict[str, str] = {}
        current: str | None = None
        for line in self.doc.splitlines():
            head = line.strip().rstrip(":")
            if head in {"What it does", "Why is this bad", "Example"}:
                current = head
                out[current] = ""
                continue
            if current is not None:
                out[current] += line + "\n"
        return {k: _dedent(v).strip("\n") for k, v in out.items()}


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(ln[cut:] for ln in lines)


def rule(name: str, code: str, severity: Severity, summary: str, *, produced_by: str = "audit") -> Callable[
    [Callable[[AuditContext], Iterable[Hit]]], Rule
]:
    """Declare a rule from its check function (whose docstring is the rule's documentation)."""

    def wrap(fn: Callable[[AuditContext], Iterable[Hit]]) -> Rule:
        return Rule(name=name, code=code, severity=severity, summary=summary,
                    check=None if produced_by != "audit" else fn, doc=_dedent(fn.__doc__ or "").strip(),
                    produced_by=produced_by)

    return wrap


def _loc(facts: CardFacts, row: Row | None, column: Column | str | None) -> Location:
    name = column.name if isinstance(column, Column) else column
    return _location(section=TABLE, row=row.number if row is not None else None, column=name)


def _t(cell: Cell | None) -> str:
    return cell.text.strip() if cell is not None else "?"


def _numeric(cell: Cell | None) -> bool:
    return cell is not None and cell.value is not None and math.isfinite(cell.value)


#: ``same_digits`` of two cells printed with at least 3 decimals needs their values this close.
_SAME_DIGITS_3 = 0.5e-3 + EPS + 1e-12


# ==================================================================================================
# CS1xx: contradictions (errors)
# ==================================================================================================


@rule("loss-equals-metric", "CS101", "error",
      "a loss cell equals a metric cell of the same row to every printed digit (copy or column shift)")
def _loss_equals_metric(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares, in every row of the results table, each loss cell (training and validation loss)
        with each metric cell of the same row. It fires when both texts denote the same number at
        the shorter of their two printed precisions (at least 3 decimals, and not zero).
    Why is this bad:
        A loss and an accuracy or F1 are different quantities; equal to four printed digits means a
        value was copied into the wrong column, or a row's cells were shifted by one column. Error
        measures that can legitimately equal the loss (MSE, MAE) are not compared.
    Example:
        | Training Loss | Epoch | Step | Validation Loss | F1     |
        | 0.4235        | 4.0   | 7168 | 0.9546          | 0.9546 |   <- Validation Loss = F1
    """
    f = ctx.facts
    metrics = [(c, f.cells(c)) for c in f.columns if c.role in {"metric", "train_metric"} and c.kind != "error"]
    losses = [(c, f.cells(c), f.values(c)) for c in f.losses]
    if not metrics or not losses:
        return
    for i, row in enumerate(f.rows):
        for lc, lcells, lvalues in losses:
            av = lvalues[i]
            if av is None or av == 0:
                continue
            a = lcells[i]
            if a is None or a.decimals is None:
                continue
            for mc, mcells in metrics:
                b = mcells[i]
                # same_digits needs the values within half a unit of the 3rd decimal at most
                if (b is None or b.value is None or abs(av - b.value) > _SAME_DIGITS_3  # type: ignore[operator]
                        or b.decimals is None or not _numeric(b) or min(a.decimals, b.decimals) < 3):
                    continue
                if same_digits(a, b):
                    yield (f"{lc.name} equals {mc.name} ({_t(a)}) in {f.row_label(row)}", _loc(f, row, lc))
                    break


@rule("headline-mismatch", "CS103", "error",
      "a headline result (\"It achieves the following results\") matches no row of the results table")
def _headline_mismatch(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Takes the headline results ("It achieves the following results on the evaluation set") that
        have a column in the results table (``Loss`` is the ``Validation Loss`` column) and looks for
        a row in which ALL of them agree with the row's cells within rounding. It fires when no row
        does. When a row matches with two values exchanged, the message says so.
    Why is this bad:
        The Trainer's headline is its last evaluation, or the best row after
        ``load_best_model_at_end``; a headline that is in no row was evaluated on something else
        (another split, a re-run, random masking) or edited by hand, and the card does not say which.
    Example:
        - Loss: 0.0880            <- the last row says Validation Loss 0.9822, Accuracy 0.0880
        - Accuracy: 0.9822
    """
    f = ctx.facts
    links = [ln for ln in f.headline_links if any(_numeric(c) for c in f.cells(ln.column))]
    if not links or not f.rows:
        return
    matching = [True] * len(f.rows)
    for ln in links:
        want = ln.metric.value
        for i, c in enumerate(f.cells(ln.column)):
            if matching[i] and (c is None or not agree(want, c)):
                matching[i] = False
    if any(matching):
        return
    shown = ", ".join(f"{ln.metric.name} {_t(ln.metric.value)}" for ln in links)
    # a row holding every headline value, but in other columns: exchanged cells
    for row in reversed(f.rows):
        moved = []
        ok = True
        for ln in links:
            here = row.cell(ln.column)
            if here is not None and agree(ln.metric.value, here):
                continue
            other = next((c for c in f.columns if c.role in {"metric", "val_loss", "train_loss"}
                          and c is not ln.column and (x := row.cell(c)) is not None
                          and agree(ln.metric.value, x)), None)
            if other is None:
                ok = False
                break
            if (other.name, ln.column.name) not in moved:
                moved.append((ln.column.name, other.name))
        if ok and moved:
            swaps = "; ".join(f"{a} <-> {b}" for a, b in moved)
            yield ((f"the headline ({shown}) matches {f.row_label(row)} only with cells exchanged "
                   f"({swaps}): the row or the headline has values in the wrong column"),
                   _loc(f, row, moved[0][0]))
            return
    best = max(f.rows, key=lambda r: (sum(1 for ln in links if (c := r.cell(ln.column)) is not None
                                          and agree(ln.metric.value, c)), r.number))
    diffs = ", ".join(f"{ln.column.name} {_t(best.cell(ln.column))}" for ln in links
                      if not ((c := best.cell(ln.column)) is not None and agree(ln.metric.value, c)))
    yield ((f"the headline ({shown}) matches no row of the results table; the closest, "
           f"{f.row_label(best)}, has {diffs}"), _location(section=HEADLINE, column=links[0].metric.name))


def _index_metrics(card: ModelCard) -> Iterator[tuple[str, str | None, float, Cell]]:
    """(display name, type, value, cell) of every numeric model-index metric."""
    for entry in card.metadata.model_index or []:
        for res in entry.results:
            for m in res.metrics:
                v = m.value
                if isinstance(v, bool) or v is None:
                    continue
                if isinstance(v, (int, float)):
                    cell = Cell.parse(repr(float(v)) if isinstance(v, float) else str(v))
                elif isinstance(v, str):
                    cell = Cell.parse(v)
                else:
                    continue
                if cell.value is None:
                    continue
                yield (m.name or m.type or "?", m.type, cell.value, cell)


def _same_metric(a: str, b: str) -> bool:
    na, nb = norm_name(a), norm_name(b)
    return bool(na == nb or na.replace(" ", "") == nb.replace(" ", ""))


@rule("model-index-mismatch", "CS104", "error",
      "a `model-index` metric value disagrees with the headline or the table")
def _model_index_mismatch(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares each numeric ``model-index`` metric with the headline metric of the same name (or
        type), at the headline's printed precision: ``0.9473684210526315`` agrees with ``0.9474``.
        A metric the headline does not show is compared with the results table's column of that
        name and must agree with some row.
    Why is this bad:
        The Hub shows ``model-index`` values in its evaluation widget and leaderboards; a value that
        differs from the card's own text was copied from another row or another run.
    Example:
        model-index: value: 29.0912      <- the headline says Wer: 29.1407 (the last row)
    """
    card, f = ctx.card, ctx.facts
    for name, typ, _value, cell in _index_metrics(card):
        keys = [k for k in (name, typ) if k]
        head = next((h for h in card.headline if any(_same_metric(h.name, k) for k in keys)), None)
        if head is not None and head.value.value is not None:
            if not agree(head.value, cell):
                yield (f"model-index {name} is {_t(cell)} but the headline says {head.name} {_t(head.value)}",
                       _location(section=MODEL_INDEX, column=name))
            continue
        col = next((c for c in f.columns if c.role in {"metric", "val_loss"}
                    and any(_same_metric(c.name, k) for k in keys)), None)
        if col is None:
            continue
        values = [c for c in f.cells(col) if _numeric(c)]
        if values and not any(agree(cell, c) for c in values):  # type: ignore[arg-type]
            yield (f"model-index {name} is {_t(cell)} but no row of the results table has that {col.name}",
                   _location(section=MODEL_INDEX, column=name))


@rule("steps-not-proportional", "CS106", "error",
      "steps per epoch differ between rows beyond what epoch rounding explains")
def _steps_not_proportional(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Every row with a positive epoch and step implies a number of optimizer steps per epoch,
        ``step / epoch``. Epochs are printed rounded (``1.0``, ``4.17``, ``0.1341``) and a step can sit
        up to one step off an exact multiple when the last accumulation of an epoch is partial, so each
        row allows an interval of ratios. It fires when the intervals of all rows have no common value.
    Why is this bad:
        One run has one number of steps per epoch; rows that disagree were pasted from different
        runs, edited, or belong to a resumed run with another batch size.
    Example:
        | 1.0 | 500  | ...
        | 2.0 | 1200 | ...    <- 500 steps per epoch, then 600
    """
    f = ctx.facts
    if f.epoch is None or f.step is None:
        return
    # each row allows ratios in [lo, hi]; keep the (first) row with the highest lo and the lowest hi
    count = 0
    lo_row: tuple[float, float, Row, float] | None = None
    hi_row: tuple[float, float, Row, float] | None = None
    for row, e, ev, sv in zip(f.rows, f.cells(f.epoch), f.values(f.epoch), f.values(f.step)):
        if ev is None or sv is None or ev <= 0 or sv <= 0:
            continue
        h = epoch_half_ulp(e)  # type: ignore[arg-type]
        lo = (sv - 1) / (ev + h)
        hi = (sv + 1) / (ev - h) if ev - h > 0 else math.inf
        count += 1
        if lo_row is None or lo > lo_row[0]:
            lo_row = (lo, hi, row, sv / ev)
        if hi_row is None or hi < hi_row[1]:
            hi_row = (lo, hi, row, sv / ev)
    if count < 2 or lo_row is None or hi_row is None:
        return
    if lo_row[0] > hi_row[1] * (1 + 1e-9):
        a, b = sorted([lo_row, hi_row], key=lambda x: x[2].number)
        yield ((f"steps per epoch are {a[3]:.4g} in {f.row_label(a[2])} but {b[3]:.4g} in "
               f"{f.row_label(b[2])}, more than the rounding of the epochs explains"),
               _loc(f, b[2], f.step))


@rule("progress-not-monotonic", "CS107", "error", "epochs or steps go backwards")
def _progress_not_monotonic(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Walks down the Epoch and Step columns and fires where a value is lower than the one above it
        by more than their rounding.
    Why is this bad:
        Training progress only goes forward; a table that goes back mixes two runs (a restart
        without ``resume_from_checkpoint``) or has rows out of order, so its last row is not the
        final result.
    Example:
        | 2.0 | 3584 | ...
        | 1.0 | 1792 | ...    <- epoch goes back
    """
    f = ctx.facts
    for col in (f.epoch, f.step):
        if col is None:
            continue
        prev: Cell | None = None
        floor = -math.inf  # prev.value - prev.half_ulp - EPS
        for row, c, v in zip(f.rows, f.cells(col), f.values(col)):
            if v is None:
                continue
            assert c is not None and c.value is not None
            if prev is not None and v < floor and v + c.half_ulp < floor:
                yield (f"{col.name} goes back from {_t(prev)} to {_t(c)} in {f.row_label(row)}", _loc(f, row, col))
            if c is not prev:
                floor = c.value - c.half_ulp - EPS
            prev = c


def epoch_half_ulp(cell: Cell) -> float:
    """Rounding of a printed epoch: the Trainer rounds epochs to 2 (older) or 4 decimals and drops
    trailing zeros, so ``1.0`` or ``20`` is known to +-0.005, not +-0.05 or +-0.5."""
    return min(cell.half_ulp, 0.005)


def _out_of_range(kind_lo: float | None, kind_hi: float | None, cell: Cell) -> str | None:
    v = cell.value
    if v is None:
        return None
    if math.isnan(v) or math.isinf(v):
        return "is not a finite number"
    if kind_lo is not None and v + cell.half_ulp < kind_lo - EPS:
        return f"is below {kind_lo:g}"
    if kind_hi is not None and v - cell.half_ulp > kind_hi + EPS:
        return f"is above {kind_hi:g}"
    return None


def _kind_bounds(kind: str, scale: str | None) -> tuple[float | None, float | None]:
    from cardsmith.audit.facts import _KINDS

    lo, hi, _ = _KINDS.get(kind, (None, None, None))
    if scale == "percent" and hi is not None:
        return (lo * 100 if lo is not None else None), hi * 100
    return lo, hi


@rule("metric-out-of-range", "CS108", "error",
      "a bounded metric lies outside [0, 1] (or [0, 100]), a loss is negative, a value is NaN or infinite")
def _metric_out_of_range(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Checks every printed metric (table, headline, model-index) against its range: accuracy,
        precision, recall, F1, ROUGE, BLEU, exact match, AUC in [0, 1], or [0, 100] where the card
        prints that metric as a percentage (its values are above 1; ``17.71%``); correlations
        (Matthews, Pearson, Spearman) in [-1, 1]; error rates (WER, CER) and losses at least 0. NaN
        and infinite values always fire. WER above 1 is possible (insertions) and is not flagged.
    Why is this bad:
        A value outside its range cannot be a result of that metric: a wrong column, a unit mix-up,
        or a diverged run (NaN loss) presented as a result.
    Example:
        - Accuracy: 1.0213
    """
    f, card = ctx.facts, ctx.card
    checks: list[tuple[Column, list[Cell | None], float | None, float | None, bool]] = []
    for col in f.columns:
        if col.role in {"train_loss", "val_loss"}:
            checks.append((col, f.cells(col), 0.0, None, True))
        elif col.role in {"metric", "train_metric"}:
            if col.is_bounded or col.kind != "other":
                checks.append((col, f.cells(col), *col.bounds, True))
            else:
                checks.append((col, f.cells(col), None, None, False))
    if checks and f.rows:
        isfinite = math.isfinite
        # a cell is out of range when its value (+- its rounding) is outside [lo, hi], or not finite
        flagged: list[tuple[int, int, str]] = []  # (row index, check index, why)
        for k, (col, cells, lo, hi, ranged) in enumerate(checks):
            floor = lo - EPS if lo is not None else None
            ceiling = hi + EPS if hi is not None else None
            for i, c in enumerate(cells):
                if c is None:
                    continue
                v = c.value
                if v is None:
                    continue
                if not isfinite(v):
                    flagged.append((i, k, "is not a finite number"))
                elif ranged and ((floor is not None and v < floor) or (ceiling is not None and v > ceiling)):
                    why = _out_of_range(lo, hi, c)
                    if why:
                        flagged.append((i, k, why))
        flagged.sort(key=lambda x: (x[0], x[1]))
        for i, k, why in flagged:
            col, cells = checks[k][0], checks[k][1]
            row = f.rows[i]
            yield (f"{col.name} {_t(cells[i])} {why} in {f.row_label(row)}", _loc(f, row, col))
    seen_links = {id(ln.metric): ln.column for ln in f.headline_links}
    for m in card.headline:
        c = m.value
        if c.value is None:
            continue
        n = norm_name(m.name)
        linked = seen_links.get(id(m))
        if n in {"loss", "validation loss", "train loss", "training loss"} or n.endswith(" loss"):
            why = _out_of_range(0.0, None, c)
        else:
            kind = metric_kind(m.name)
            if kind == "other":
                why = "is not a finite number" if not math.isfinite(c.value) else None
            else:
                scale = linked.scale if linked is not None and linked.scale else (f.scale or value_scale(c))
                why = _out_of_range(*_kind_bounds(kind, scale), c)
        if why:
            yield (f"headline {m.name} {_t(c)} {why}", _location(section=HEADLINE, column=m.name))
    for name, typ, _v, c in _index_metrics(card):
        kind = metric_kind(typ or name)
        if kind == "other" and typ:
            kind = metric_kind(name)
        if kind == "other":
            why = "is not a finite number" if not math.isfinite(c.value or 0.0) else None
        else:
            why = _out_of_range(*_kind_bounds(kind, f.scale or value_scale(c)), c)
        if why:
            yield (f"model-index {name} {_t(c)} {why}", _location(section=MODEL_INDEX, column=name))


@rule("f1-not-harmonic-mean", "CS109", "error",
      "precision, recall and F1 are micro/binary/seqeval-style (F1 is their harmonic mean in the other "
      "rows) but not in this row")
def _f1_not_harmonic_mean(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        With binary, micro or seqeval averaging, F1 is exactly the harmonic mean of precision and
        recall. From the rounding intervals of the printed precision and recall it computes the
        interval of possible F1 values, which must overlap the printed F1's interval. When that
        holds in the other rows (at least two of them with precision and recall clearly different,
        so that the identity is really tested) and fails in a minority of rows, those rows fire.
        Cards whose numbers imply weighted or macro averaging are not checked.
    Why is this bad:
        A row that breaks an identity every other row obeys has a mistyped or copied cell.
    Example:
        | Precision 0.9109 | Recall 0.9144 | F1 0.9321 |   <- harmonic mean is 0.9126
    """
    f = ctx.facts
    if f.averaging in {"weighted", "micro"}:
        return
    p, r, f1 = f.metric_of_kind("precision"), f.metric_of_kind("recall"), f.metric_of_kind("f1")
    if p is None or r is None or f1 is None:
        return
    passing_nontrivial = 0
    passing = 0
    failing: list[Row] = []
    for row, cp, cr, cf in zip(f.rows, f.cells(p), f.cells(r), f.cells(f1)):
        if not (_numeric(cp) and _numeric(cr) and _numeric(cf)):
            continue
        assert cp is not None and cr is not None and cf is not None
        if harmonic_mean_agrees(cp, cr, cf):
            passing += 1
            if distinct(cp, cr):
                passing_nontrivial += 1
        else:
            failing.append(row)
    if failing and passing_nontrivial >= 2 and len(failing) < passing:
        for row in failing:
            cp, cr, cf = row.cell(p), row.cell(r), row.cell(f1)
            assert cp is not None and cr is not None and cf is not None and cp.value is not None
            assert cr.value is not None
            hm = 2 * cp.value * cr.value / (cp.value + cr.value) if cp.value + cr.value else 0.0
            yield ((f"{f1.name} {_t(cf)} in {f.row_label(row)} is not the harmonic mean of {p.name} {_t(cp)} "
                   f"and {r.name} {_t(cr)} ({hm:.4f}), although it is in the other rows"), _loc(f, row, f1))


@rule("batch-size-inconsistent", "CS110", "error",
      "total_train_batch_size != train_batch_size x gradient_accumulation_steps x num_devices")
def _batch_size_inconsistent(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Checks ``total_train_batch_size = train_batch_size x gradient_accumulation_steps x
        num_devices`` and ``total_eval_batch_size = eval_batch_size x num_devices``. Without a
        ``num_devices`` line the Trainer ran on one device, unless a ``distributed_type`` is given
        (the IPU and other back ends do not print their replica count): then the total must be a
        whole multiple of the per-device product.
    Why is this bad:
        The effective batch size decides the learning-rate schedule and the steps per epoch; a card
        whose batch sizes do not multiply out cannot be reproduced from its hyperparameters.
    Example:
        - train_batch_size: 16
        - gradient_accumulation_steps: 2
        - total_train_batch_size: 64     <- 16 x 2 = 32 on one device
    """
    hp = ctx.card.hyperparameters
    if hp is None:
        return
    nd = hp.num_devices
    distributed = bool(hp.distributed_type) and str(hp.distributed_type).lower() not in {"no", "none"}
    checks = [("total_train_batch_size", hp.total_train_batch_size, hp.train_batch_size,
               hp.gradient_accumulation_steps or 1, "train_batch_size x gradient_accumulation_steps"),
              ("total_eval_batch_size", hp.total_eval_batch_size, hp.eval_batch_size, 1, "eval_batch_size")]
    for key, total, per, gas, what in checks:
        if total is None or per is None or per <= 0 or gas <= 0:
            continue
        if nd is not None and nd > 0:
            expected = per * gas * nd
            if total != expected:
                yield (f"{key} is {total} but {what} x num_devices = {per} x "
                       + (f"{gas} x " if gas != 1 or key.startswith("total_train") else "")
                       + f"{nd} = {expected}", _location(section=HYPERPARAMETERS, column=key))
        elif distributed:
            if total % (per * gas) != 0:
                yield ((f"{key} is {total}, not a whole multiple of {what} = {per * gas} "
                       f"(distributed_type {hp.distributed_type}, device count not stated)"),
                       _location(section=HYPERPARAMETERS, column=key))
        elif key == "total_train_batch_size" and total != per * gas:
            yield ((f"{key} is {total} but {what} = {per} x {gas} = {per * gas} on one device "
                   "(no num_devices or distributed_type is given)"),
                   _location(section=HYPERPARAMETERS, column=key))


@rule("epochs-exceed-config", "CS111", "error",
      "the table reaches an epoch past num_epochs, or a step past training_steps")
def _epochs_exceed_config(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares the largest epoch and step of the results table with the ``num_epochs`` and
        ``training_steps`` hyperparameters (the epoch allowing for its printed rounding).
    Why is this bad:
        Training stops at ``num_epochs`` (or ``max_steps``); a row beyond it comes from another run
        or the hyperparameters were edited after training.
    Example:
        - num_epochs: 3
        | ... | 4.0 | 1200 | ...
    """
    hp, f = ctx.card.hyperparameters, ctx.facts
    if hp is None:
        return
    limits = ((f.epoch, hp.num_epochs, "num_epochs"), (f.step, hp.training_steps, "training_steps"))
    for col, limit, key in limits:
        if col is None or limit is None or not isinstance(limit, (int, float)) or limit <= 0:
            continue
        is_epoch = col is f.epoch
        ceiling = float(limit) + EPS
        for row, c in zip(f.rows, f.cells(col)):
            if c is None or c.value is None or c.value <= ceiling:  # cannot be past it (or not a number)
                continue
            h = epoch_half_ulp(c) if is_epoch else c.half_ulp
            if _numeric(c) and c.value - h > ceiling:
                yield (f"{col.name} {_t(c)} in {f.row_label(row)} is past {key}: {limit:g}", _loc(f, row, col))
                break


# ==================================================================================================
# CS2xx: training dynamics (warnings)
# ==================================================================================================


@rule("shifted-cell", "CS102", "warning",
      "a loss value equals the other loss column's value in the adjacent row (a cell moved by one row)")
def _shifted_cell(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares each training-loss cell with the validation-loss cells of the rows just above and
        below, and the other way round. It fires when two such cells are equal to every printed
        digit (at least 3 decimals, not zero).
    Why is this bad:
        Training and validation losses of different epochs are different measurements; the same
        four digits in neighbouring rows mean a cell was moved by one row when the table was
        edited, so both rows are wrong.
    Example:
        | 0.3998 | 3.0 | 5376 | 0.4235 | ...
        | 0.4235 | 4.0 | 7168 | 0.9546 | ...    <- epoch 4's training loss is epoch 3's validation loss
    """
    f = ctx.facts
    tl, vl = f.train_loss, f.val_loss
    if tl is None or vl is None:
        return

    def eq(a: Cell | None, b: Cell | None) -> bool:
        if a is None or b is None or a.value is None or b.value is None:
            return False
        if abs(a.value - b.value) > _SAME_DIGITS_3:  # same_digits at 3 or more decimals cannot hold
            return False
        return (_numeric(a) and _numeric(b) and a.value != 0 and a.decimals is not None
                and b.decimals is not None and min(a.decimals, b.decimals) >= 3 and same_digits(a, b))

    tcells, vcells = f.cells(tl), f.cells(vl)
    for i in range(1, len(f.rows)):
        above, below = f.rows[i - 1], f.rows[i]
        if eq(tcells[i], vcells[i - 1]) and not eq(tcells[i], vcells[i]):
            yield ((f"{tl.name} in {f.row_label(below)} ({_t(tcells[i])}) equals the {vl.name} of "
                   f"{f.row_label(above)}: a cell moved by one row"), _loc(f, below, tl))
        if eq(vcells[i], tcells[i - 1]) and not eq(vcells[i], tcells[i]):
            yield ((f"{vl.name} in {f.row_label(below)} ({_t(vcells[i])}) equals the {tl.name} of "
                   f"{f.row_label(above)}: a cell moved by one row"), _loc(f, below, vl))


def _is_perfect(col: Column, cell: Cell) -> bool:
    """A value at the best end of its range (accuracy 1.0, WER 0): a plateau there is no defect."""
    v = cell.value
    if v is None:
        return True
    lo, hi = col.bounds
    if col.higher_is_better and hi is not None:
        return v + cell.half_ulp >= hi - EPS
    if col.higher_is_better is False and lo is not None:
        return v - cell.half_ulp <= lo + EPS
    return False


def _rounding_step(value: Cell, before: Cell | None, after: Cell | None) -> bool:
    """A run of ``value`` is one step of a slow trend: each neighbouring value in the column (the one
    before the run, the one after it) is the adjacent printed value, and they lie on opposite sides."""
    if before is None and after is None or value.decimals is None or value.value is None:
        return False
    unit = 2 * value.half_ulp
    sides = []
    for other in (before, after):
        if other is None:
            continue
        if other.decimals != value.decimals or other.value is None:
            return False
        step = other.value - value.value
        if abs(abs(step) - unit) > unit * 1e-6:
            return False
        sides.append(step > 0)
    return len(sides) < 2 or sides[0] != sides[1]


@rule("frozen-metric", "CS201", "warning",
      "a metric is identical in 3 or more consecutive evaluations while the loss moves")
def _frozen_metric(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Looks for a metric column (and the validation loss) whose printed value is identical in
        at least 3 consecutive evaluations while the loss moves in those rows (the validation loss,
        or the training loss for a frozen validation loss) by more than rounding: its highest and
        lowest printed values in the run are more than one unit of their last digit apart. A plateau
        at the best end of the range (accuracy 1.0, WER 0) is not reported, nor one printed with
        fewer than 3 decimals (``0.91`` three times is what rounding makes of a slowly improving
        metric), nor one that is a step of a slow trend: the values just before and after the run
        are the adjacent printed values, one below and one above (``0.5000``, then ``0.5001`` 25
        times, then ``0.5002``: a metric improving by less than its last digit per evaluation).
        Each run of identical values is one finding, naming its first and last row.
    Why is this bad:
        A model that predicts one class for every input scores the same accuracy or F1 after every
        epoch, whatever its loss does (F1 = 2p/(1+p) for the positive-class share p). The card's
        metric then says nothing about what the model learned. A frozen validation loss is a stale
        or skipped evaluation.
    Example:
        | 0.3803 | 1.0 | 1792 | 0.5110 | 0.9546 |
        | 0.4129 | 2.0 | 3584 | 0.5256 | 0.9546 |
        | 0.4804 | 3.0 | 5376 | 0.5305 | 0.9546 |
    """
    f = ctx.facts
    candidates = list(f.metrics)
    if f.val_loss is not None:
        candidates.append(f.val_loss)
    for col in candidates:
        mover = f.val_loss if col is not f.val_loss else f.train_loss
        if mover is None:
            mover = f.train_loss
        if mover is None or mover is col:
            continue
        cells, mover_cells = f.cells(col), f.cells(mover)
        numeric = [i for i, v in enumerate(f.values(col)) if v is not None]
        i = 0
        while i < len(numeric):
            first = cells[numeric[i]]
            assert first is not None
            j = i
            while j + 1 < len(numeric):
                nxt = cells[numeric[j + 1]]
                if nxt is not None and nxt.value == first.value and nxt.decimals == first.decimals:
                    j += 1
                else:
                    break
            run = numeric[i:j + 1]
            before = cells[numeric[i - 1]] if i > 0 else None
            after = cells[numeric[j + 1]] if j + 1 < len(numeric) else None
            if len(run) >= FROZEN_RUN and not _is_perfect(col, first) and (
                    first.decimals is None or first.decimals >= 3) and not _rounding_step(first, before, after):
                mover_values = f.values(mover)
                moving = [(c, v) for k in run
                          if (c := mover_cells[k]) is not None and (v := mover_values[k]) is not None]
                # the loss certainly moves: its highest and lowest printed values are more than one
                # unit of their last digit apart (adjacent values are what rounding makes of a slow trend)
                if moving and (max(v - c.half_ulp for c, v in moving)
                               - min(v + c.half_ulp for c, v in moving) > EPS):
                    lo = _t(min(moving, key=lambda cv: cv[1])[0])
                    hi = _t(max(moving, key=lambda cv: cv[1])[0])
                    start, end = f.rows[run[0]], f.rows[run[-1]]
                    yield (f"{col.name} is {_t(first)} in {len(run)} consecutive evaluations "
                           f"({f.row_label(start)} to {f.row_label(end).removeprefix('the row of ')}) while "
                           f"{mover.name} moves ({lo} to {hi}): the model may predict a single class"
                           if col is not f.val_loss else
                           f"{col.name} is {_t(first)} in {len(run)} consecutive evaluations "
                           f"({f.row_label(start)} to {f.row_label(end).removeprefix('the row of ')}) while "
                           f"{mover.name} moves ({lo} to {hi}): a stale or skipped evaluation",
                           _loc(f, start, col))
            i = j + 1


@rule("training-loss-rising", "CS202", "warning", "training loss rises across the run (divergence)")
def _training_loss_rising(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares the last printed training loss of the table with the first one (at least three
        numeric values). It fires when the run ends materially higher than it started: at least
        10 % above, even at the most favourable ends of both rounding intervals.
    Why is this bad:
        Training minimises the training loss; a loss that ends above where it started means the
        run diverged (learning rate too high, a broken schedule, fp16 overflow), and the
        checkpoint the card describes is worse than the one training began from.
    Example:
        Training Loss 0.3803, 0.4129, 0.4804, 0.6571, 0.6605
    """
    f = ctx.facts
    col = f.train_loss
    if col is None:
        return
    cells = [(r, c) for r, c, v in zip(f.rows, f.cells(col), f.values(col)) if v is not None]
    if len(cells) < 3:
        return
    (r0, c0), (r1, c1) = cells[0], cells[-1]
    assert c0 is not None and c1 is not None and c0.value is not None and c1.value is not None
    if c0.value <= 0:
        return
    if (c1.value - c1.half_ulp) >= (c0.value + c0.half_ulp) * (1 + MATERIAL_RISE):
        rise = (c1.value / c0.value - 1) * 100
        yield ((f"{col.name} rises from {_t(c0)} ({f.row_label(r0)}) to {_t(c1)} ({f.row_label(r1)}), "
               f"+{rise:.0f}%: the run diverged"), _loc(f, r1, col))


@rule("best-checkpoint-not-reported", "CS203", "warning",
      "the card reports the last checkpoint, but an earlier one was clearly better (validation loss rose "
      "materially from its minimum)")
def _best_checkpoint_not_reported(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        When the headline reports the last row, compares that row's validation loss with the
        lowest validation loss of the earlier rows. It fires when the last one is at least 10 %
        higher (allowing for rounding at both ends).
    Why is this bad:
        The validation loss rising well above its minimum is overfitting; the card publishes the
        final weights although an earlier checkpoint generalised better, and does not say so.
        ``load_best_model_at_end=True`` (with ``metric_for_best_model``) keeps the better one.
    Example:
        Validation Loss 1.0616, 1.0763, 1.1077, 1.1743, 1.2436; the headline reports 1.2436
    """
    f = ctx.facts
    col, last = f.val_loss, f.last_row
    if col is None or last is None or len(f.rows) < 2 or last not in f.headline_rows:
        return
    c_last = last.cell(col)
    if not _numeric(c_last):
        return
    earlier = [(r, c, v) for r, c, v in zip(f.rows[:-1], f.cells(col), f.values(col))
               if c is not None and v is not None]
    if not earlier:
        return
    best_row, best, _ = min(earlier, key=lambda rcv: rcv[2])
    assert best.value is not None and c_last is not None and c_last.value is not None
    if best.value <= 0:
        return
    if (c_last.value - c_last.half_ulp) >= (best.value + best.half_ulp) * (1 + MATERIAL_RISE):
        rise = (c_last.value / best.value - 1) * 100
        yield ((f"the card reports the last checkpoint ({f.row_label(last)}) although its {col.name} "
               f"{_t(c_last)} is {rise:.0f}% above the minimum {_t(best)} of {f.row_label(best_row)}; "
               "load_best_model_at_end would keep the better checkpoint"), _loc(f, last, col))


@rule("headline-not-final-or-best", "CS105", "warning",
      "the headline row is neither the last row nor the best one")
def _headline_not_final_or_best(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Finds the rows the headline matches (all its values within rounding) and fires when none
        of them is the last row or a best row: the lowest validation loss, or the best value of a
        headline metric (ties broken as the Trainer does: the earliest row wins).
    Why is this bad:
        The Trainer reports its last evaluation, or the best checkpoint with
        ``load_best_model_at_end``. A headline from some other row was picked by hand (or the table
        was edited), so the published numbers are neither what the final weights nor what the
        selected checkpoint score.
    Example:
        The headline (Loss 0.4235, F1 0.9546) is epoch 3's row; the last row is epoch 5 and the
        lowest validation loss is epoch 2's.
    """
    f = ctx.facts
    if not f.headline_rows or f.last_row is None:
        return
    if f.last_row in f.headline_rows:
        return
    best = f.best_rows()
    if any(r in f.headline_rows for r in best.values()):
        return
    best_text = ", ".join(f"best {name} in {f.row_label(r)}" for name, r in best.items())
    yield (f"the headline reports {f.row_label(f.headline_rows[0])}, which is neither the last row "
           f"({f.row_label(f.last_row).removeprefix('the row of ')})"
           + (f" nor the best one ({best_text})" if best_text else ""),
           _location(section=HEADLINE))


@rule("chance-level-loss", "CS204", "warning",
      "the reported loss is at ln(num_labels): the model learned nothing")
def _chance_level_loss(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reads the number of labels from ``config.json`` beside the card (``id2label`` or
        ``num_labels``) and compares the reported evaluation loss (the headline ``Loss``, else the
        last row's validation loss) with ``ln(num_labels)``, the cross-entropy of a uniform guess.
        It fires within 1 % of it.
    Why is this bad:
        A classifier whose loss equals ``ln(num_labels)`` assigns equal probability to every
        class: it learned nothing, whatever its accuracy says on an imbalanced evaluation set.
    Example:
        config.json: 2 labels; - Loss: 0.6932  (ln 2 = 0.6931)
    """
    k = ctx.num_labels
    if k is None or k < 2:
        return
    f = ctx.facts
    cell = next((m.value for m in ctx.card.headline if norm_name(m.name) in {"loss", "validation loss"}), None)
    where = _location(section=HEADLINE, column="Loss")
    if cell is None and f.val_loss is not None and f.last_row is not None:
        cell = f.last_row.cell(f.val_loss)
        where = _loc(f, f.last_row, f.val_loss)
    if not _numeric(cell):
        return
    assert cell is not None and cell.value is not None
    chance = math.log(k)
    if abs(cell.value - chance) <= max(CHANCE_TOLERANCE * chance, cell.half_ulp) + EPS:
        yield ((f"the reported loss {_t(cell)} is ln({k}) = {chance:.4f}, the loss of a uniform guess over "
               f"{k} labels: the model learned nothing"), where)


@rule("zero-metric", "CS205", "warning", "a reported F1/precision/recall is 0")
def _zero_metric(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when a reported F1, precision or recall (the headline, else the last row) is printed
        as zero.
    Why is this bad:
        Zero F1 means the model never predicts the positive class (or no entity): it is unusable
        for the task although it has a card with results.
    Example:
        - F1: 0.0
    """
    f = ctx.facts
    reported = [(m.name, m.value, _location(section=HEADLINE, column=m.name)) for m in ctx.card.headline]
    if not reported and f.last_row is not None:
        reported = [(c.name, x, _loc(f, f.last_row, c)) for c in f.metrics
                    if (x := f.last_row.cell(c)) is not None]
    for name, cell, where in reported:
        if metric_kind(name) in {"f1", "precision", "recall"} and cell.value == 0.0:
            yield (f"the reported {name} is {_t(cell)}: the model never predicts the positive class", where)


# ==================================================================================================
# CS3xx: completeness and information
# ==================================================================================================


@rule("table-truncated", "CS301", "info", "evaluations are missing from the table (gaps in epochs or steps)")
def _table_truncated(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Takes the evaluation interval of the table (the smallest distance between rows, or the
        first row's step) and, when every row sits on that regular schedule, reports the
        evaluations the schedule implies but the table does not show.
    Why is this bad:
        A table that shows the first and the last epoch hides how training went in between
        (overfitting, a collapse, the best checkpoint); the rules that need the whole curve
        cannot check it.
    Example:
        | 1  | 13  | ... |
        | 20 | 260 | ... |    <- 18 evaluations missing
    """
    f = ctx.facts
    col = f.step if f.step is not None else f.epoch
    if col is None:
        return
    pts = [(r, v) for r, v in zip(f.rows, f.values(col)) if v is not None]
    if len(pts) < 2:
        return
    xs = [x for _, x in pts]
    diffs = [b - a for a, b in itertools.pairwise(xs)]
    if any(d <= 0 for d in diffs):
        return
    base = min(diffs + ([xs[0]] if xs[0] > 0 else []))  # type: ignore[operator]
    if base <= 0:
        return
    tol = 0.05

    def multiple(d: float) -> float:
        return d / base

    # a regular schedule: every gap a whole multiple of the base (the last one may be shorter)
    for i, d in enumerate(diffs):
        m = multiple(d)
        if abs(m - round(m)) > tol and not (i == len(diffs) - 1 and m < 1):
            return
    missing = 0
    spans: list[str] = []
    for i, d in enumerate(diffs):
        k = round(multiple(d)) - 1
        if k >= 1:
            missing += k
            spans.append(f"{k} between {f.row_label(pts[i][0]).removeprefix('the row of ')} and "
                         f"{f.row_label(pts[i + 1][0]).removeprefix('the row of ')}")
    if missing:
        unit = "steps" if col is f.step else "epochs"
        yield (f"{missing} evaluation{'s are' if missing > 1 else ' is'} missing from the table "
               f"(evaluations every {base:g} {unit}): " + "; ".join(spans), _loc(f, None, col))


_PLACEHOLDERS = re.compile(r"^\s*\[?\s*more information needed\s*\]?\.?\s*$", re.IGNORECASE)


def card_source_lines(card: ModelCard) -> list[str]:
    """The card's body lines, from its blocks (front matter excluded)."""
    text = "".join(b.text for b in card.blocks if b.kind != "metadata")
    return text.splitlines()


_HEADING = re.compile(r"^#{1,6}\s")


def sections(card: ModelCard) -> list[tuple[str, str]]:
    """(heading, text under it) for every Markdown heading of the body, outside code fences."""
    out: list[tuple[str, list[str]]] = []
    fence = False
    for line in card_source_lines(card):
        s = line.strip()
        if s.startswith(("```", "~~~")):
            fence = not fence
        if not fence and s.startswith("#") and _HEADING.match(s):
            out.append((s.lstrip("#").strip(), []))
        elif out:
            out[-1][1].append(line)
    return [(h, "\n".join(body).strip()) for h, body in out]


@rule("placeholder-section", "CS305", "info", "a section still says \"More information needed\"")
def _placeholder_section(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Lists the sections whose whole text is the Trainer's placeholder "More information needed"
        (or the Hub template's "[More Information Needed]").
    Why is this bad:
        The Trainer writes these placeholders for the author to fill in; a published card that
        keeps them does not say what the model is for, its limits, or what data it saw.
    Example:
        ## Intended uses & limitations

        More information needed
    """
    names = [h for h, body in sections(ctx.card) if body and all(
        _PLACEHOLDERS.match(ln) for ln in body.splitlines() if ln.strip())]
    if names:
        yield (f"{len(names)} section{'s say' if len(names) > 1 else ' says'} \"More information needed\": "
               + ", ".join(names), _location(section=names[0]))


@rule("missing-base-model", "CS302", "info", "the card does not name its base model")
def _missing_base_model(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when neither the ``base_model`` metadata nor the "fine-tuned version of [X]" sentence
        names a base model.
    Why is this bad:
        The Hub links fine-tunes to their base model from ``base_model``; without it users cannot
        see where the model came from, its license or its known limits.
    Example:
        This model is a fine-tuned version of [](https://huggingface.co/) on ...
    """
    md = ctx.card.metadata
    body = (ctx.card.base_model or "").strip()
    if md.base_model is None and body.lower() in {"", "none", "null"}:
        yield ("the card names no base model (no base_model metadata, no \"fine-tuned version of\" link)",
               _location(section=METADATA, column="base_model"))


@rule("missing-dataset", "CS303", "info", "the card does not name its training/evaluation dataset")
def _missing_dataset(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the ``datasets`` metadata is empty and the body says "an unknown dataset" or
        "the None dataset" (or names none).
    Why is this bad:
        Results mean nothing without the data they were measured on; the dataset is also what
        ``cardsmith verify --rerun`` needs to reproduce them.
    Example:
        This model is a fine-tuned version of [bert-base-cased](...) on an unknown dataset.
    """
    md = ctx.card.metadata
    datasets = [d for d in md.datasets if d.strip().lower() not in {"none", "null", ""}]
    body = (ctx.card.dataset_name or "").strip().lower()
    if not datasets and body in {"", "none", "null", "unknown", "an unknown", "an unknown dataset"}:
        yield (("the card names no dataset (no datasets metadata; the text says "
               f"{'an unknown dataset' if body in {'', 'unknown', 'an unknown', 'an unknown dataset'} else 'None'})"),
               _location(section=METADATA, column="datasets"))


@rule("missing-license", "CS304", "info", "the metadata has no license")
def _missing_license(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the YAML front matter has no ``license`` key.
    Why is this bad:
        Without a license nobody may legally reuse the weights; the Hub shows the license from this
        key.
    Example:
        ---
        tags: [generated_from_trainer]
        ---
    """
    if ctx.card.metadata.license is None:
        yield ("the metadata has no license", _location(section=METADATA, column="license"))


@rule("empty-model-index", "CS306", "info", "the `model-index` has no results (`results: []`)")
def _empty_model_index(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the metadata has a ``model-index`` whose entries have no metric values
        (``results: []``, or results with a task but no metrics).
    Why is this bad:
        The Hub's evaluation widget and leaderboards read ``model-index``; the Trainer writes
        ``results: []`` when it had no dataset name, so the card's numbers are invisible there.
    Example:
        model-index:
        - name: my-model
          results: []
    """
    mi = ctx.card.metadata.model_index
    if mi is None:
        return
    if not any(m.value is not None for e in mi for r in e.results for m in r.metrics):
        yield ("the model-index has no metric values (results: [])",
               _location(section=MODEL_INDEX))


@rule("implied-metrics", "CS307", "info",
      "what the numbers imply: the metric scale (fraction or percent) and the averaging")
def _implied_metrics(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports the scale of the card's bounded metrics (fraction in [0, 1] or percent in
        [0, 100]) and the averaging that the identities between precision, recall, F1 and accuracy
        imply: micro (all four equal), weighted (recall equals accuracy in every row), binary or
        seqeval (F1 is the harmonic mean of precision and recall), macro (it is not).
    Why is this bad:
        It is not: it is information. The equalities of micro and weighted averaging look like
        copied cells but are identities, so the other rules take them into account; and the
        averaging is what a re-evaluation must use to reproduce the numbers.
    Example:
        Recall 0.5352, 0.5432, ... equal to Accuracy 0.5352, 0.5432, ...: weighted averaging
    """
    f = ctx.facts
    parts = []
    if f.scale is not None:
        parts.append(f"metrics on the {f.scale} scale ({'[0, 100]' if f.scale == 'percent' else '[0, 1]'})")
    if f.averaging is not None:
        parts.append(f"{f.averaging} averaging ({f.averaging_evidence})")
    if parts:
        yield ("the numbers imply " + "; ".join(parts), _location(section=TABLE if f.rows else HEADLINE))


# ==================================================================================================
# CS4xx: reproduction (produced by the evaluator) and CS9xx: suppression comments (the engine)
# ==================================================================================================


@rule("metric-not-reproduced", "CS401", "error",
      "(`--rerun`) a claimed metric differs from the rerun beyond the printed rounding",
      produced_by="evaluator")
def _metric_not_reproduced(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Produced by ``cardsmith verify --rerun``: the checkpoint is evaluated again on the card's
        evaluation data, and each claimed metric is compared with the rerun, allowing for the
        claimed value's printed rounding (and the numeric noise of the device).
    Why is this bad:
        A published number that the published weights do not score is a false claim, whatever
        the reason (another checkpoint, another split, a bug in the metric).
    Example:
        claimed F1 0.9126, reproduced 0.8712
    """
    return iter(())


@rule("loss-not-reproduced", "CS402", "error",
      "(`--rerun`) the claimed evaluation loss differs from the rerun", produced_by="evaluator")
def _loss_not_reproduced(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Produced by ``cardsmith verify --rerun``: the evaluation loss of the rerun is compared with
        the card's ``Loss``, allowing for its printed rounding.
    Why is this bad:
        The loss is computed from the same predictions as the metrics; a different loss means the
        weights, the data or the preprocessing differ from what the card describes.
    Example:
        claimed Loss 0.3165, reproduced 0.4410
    """
    return iter(())


@rule("unused-suppression", "CS901", "info",
      "an inline `<!-- cardsmith: disable=NAME -->` suppresses a rule that does not fire", produced_by="engine")
def _unused_suppression(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports each rule named in an inline ``<!-- cardsmith: disable=NAME[,NAME] -->`` comment
        that ran on the card and found nothing to suppress.
    Why is this bad:
        A stale suppression hides the rule for good: the day the card regresses, nobody is told.
        Remove the name from the comment.
    Example:
        <!-- cardsmith: disable=frozen-metric -->   (and no metric is frozen)
    """
    return iter(())


@rule("invalid-suppression", "CS902", "warning",
      "an inline `<!-- cardsmith: disable=... -->` names a rule that does not exist", produced_by="engine")
def _invalid_suppression(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports each name or code in an inline ``<!-- cardsmith: disable=... -->`` comment that no
        rule has.
    Why is this bad:
        A misspelt suppression suppresses nothing while looking as if it did.
    Example:
        <!-- cardsmith: disable=frozen-metrics -->   (the rule is frozen-metric)
    """
    return iter(())


# ==================================================================================================
# The registry
# ==================================================================================================

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_CODE_RE = re.compile(r"^CS\d{3}$")


def build_registry(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Check and freeze a rule list: kebab-case names, ``CSnnn`` codes, no duplicate name or code,
    and a docstring with all three parts."""
    names: set[str] = set()
    codes: set[str] = set()
    out = []
    for r in rules:
        if not _NAME_RE.match(r.name):
            raise ValueError(f"rule name {r.name!r} is not kebab-case")
        if not _CODE_RE.match(r.code):
            raise ValueError(f"rule code {r.code!r} of {r.name} is not CSnnn")
        if r.name in names:
            raise ValueError(f"duplicate rule name {r.name!r}")
        if r.code in codes:
            raise ValueError(f"duplicate rule code {r.code!r} ({r.name})")
        if set(r.sections) != {"What it does", "Why is this bad", "Example"}:
            raise ValueError(f"rule {r.name} needs a 'What it does / Why is this bad / Example' docstring")
        names.add(r.name)
        codes.add(r.code)
        out.append(r)
    return tuple(out)


#: Every rule, in the order ``cardsmith rules`` lists them.
RULES: tuple[Rule, ...] = build_registry([
    _loss_equals_metric,
    _shifted_cell,
    _headline_mismatch,
    _model_index_mismatch,
    _headline_not_final_or_best,
    _steps_not_proportional,
    _progress_not_monotonic,
    _metric_out_of_range,
    _f1_not_harmonic_mean,
    _batch_size_inconsistent,
    _epochs_exceed_config,
    _frozen_metric,
    _training_loss_rising,
    _best_checkpoint_not_reported,
    _chance_level_loss,
    _zero_metric,
    _table_truncated,
    _missing_base_model,
    _missing_dataset,
    _missing_license,
    _placeholder_section,
    _empty_model_index,
    _implied_metrics,
    _metric_not_reproduced,
    _loss_not_reproduced,
    _unused_suppression,
    _invalid_suppression,
])

_BY_KEY: dict[str, Rule] = {}
for _r in RULES:
    _BY_KEY[_r.name] = _r
    _BY_KEY[_r.code.lower()] = _r


def get_rule(name_or_code: str) -> Rule:
    """A rule by name or code (case-insensitive); :class:`UnknownRuleError` otherwise."""
    key = name_or_code.strip().lower()
    found = _BY_KEY.get(key)
    if found is None:
        import difflib

        close = difflib.get_close_matches(key, [r.name for r in RULES], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UnknownRuleError(f"unknown rule {name_or_code!r}{hint}; `cardsmith rules` lists them")
    return found


def resolve(names: Iterable[str] | None) -> set[str] | None:
    """Names or codes -> rule names; ``None`` stays ``None``. Unknown names raise."""
    if names is None:
        return None
    return {get_rule(n).name for n in names}


def finding(name: str, message: str, location: Location | None = None) -> Finding:
    """A finding of the registered rule ``name`` (or code), with its code and severity filled in."""
    r = get_rule(name)
    return Finding.model_construct(rule=r.code, name=r.name, severity=r.severity, message=message,
                                   location=location if location is not None else _location())


def run_rules(card: ModelCard, *, selected: set[str] | None = None, path: Path | None = None,
              facts: CardFacts | None = None) -> list[Finding]:
    """Run the audit rules (all, or the ``selected`` names) on a card; unsorted, unsuppressed."""
    ctx = AuditContext(card=card, facts=facts if facts is not None else analyze(card), path=path)
    out: list[Finding] = []
    for r in RULES:
        if r.check is None or (selected is not None and r.name not in selected):
            continue
        for message, location in r.check(ctx):
            out.append(Finding.model_construct(rule=r.code, name=r.name, severity=r.severity, message=message,
                                               location=location))
    return out


def rules_summary() -> list[dict[str, Any]]:
    """Name, code, severity and summary of every rule (for listings)."""
    return [{"name": r.name, "code": r.code, "severity": r.severity, "summary": r.summary} for r in RULES]
