"""CS2xx: training dynamics. What the table says about the run itself (warnings).

Thresholds (documented, so that a corpus of real cards does not drown in warnings):

- :data:`MATERIAL_RISE` (10 %): a validation or training loss "rose materially" when its printed
  value, even at the most favourable end of its rounding, is at least 10 % above the reference.
- :data:`FROZEN_RUN` (3): a metric is "frozen" when it is identical in at least 3 consecutive
  evaluations while the loss moves.
- :data:`CHANCE_TOLERANCE` (1 %): a loss "is at chance level" within 1 % of ``ln(num_labels)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from cardsmith.audit.facts import (
    Column,
    metric_kind,
    norm_name,
)
from cardsmith.audit.registry import (
    HEADLINE,
    AuditContext,
    Hit,
    cell_text,
    is_finite_number,
    place,
    rule,
    table_location,
)
from cardsmith.card.numbers import EPS, Cell

#: Relative rise that counts as material (losses), see the module docstring.
MATERIAL_RISE = 0.10
#: Consecutive identical evaluations that make a metric frozen.
FROZEN_RUN = 3
#: Relative distance to ln(num_labels) that counts as chance level.
CHANCE_TOLERANCE = 0.01


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


@rule(
    "frozen-metric",
    "CS201",
    "warning",
    "a metric is identical in 3 or more consecutive evaluations while the loss moves",
)
def frozen_metric(ctx: AuditContext) -> Iterator[Hit]:
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
            run = numeric[i : j + 1]
            before = cells[numeric[i - 1]] if i > 0 else None
            after = cells[numeric[j + 1]] if j + 1 < len(numeric) else None
            if (
                len(run) >= FROZEN_RUN
                and not _is_perfect(col, first)
                and (first.decimals is None or first.decimals >= 3)
                and not _rounding_step(first, before, after)
            ):
                mover_values = f.values(mover)
                moving = [
                    (c, v)
                    for k in run
                    if (c := mover_cells[k]) is not None and (v := mover_values[k]) is not None
                ]
                # the loss certainly moves: its highest and lowest printed values are more than one
                # unit of their last digit apart (adjacent values are what rounding makes of a slow trend)
                if moving and (
                    max(v - c.half_ulp for c, v in moving) - min(v + c.half_ulp for c, v in moving) > EPS
                ):
                    lo = cell_text(min(moving, key=lambda cv: cv[1])[0])
                    hi = cell_text(max(moving, key=lambda cv: cv[1])[0])
                    start, end = f.rows[run[0]], f.rows[run[-1]]
                    yield (
                        f"{col.name} is {cell_text(first)} in {len(run)} consecutive evaluations "
                        f"({f.row_label(start)} to {f.row_label(end).removeprefix('the row of ')}) while "
                        f"{mover.name} moves ({lo} to {hi}): the model may predict a single class"
                        if col is not f.val_loss
                        else f"{col.name} is {cell_text(first)} in {len(run)} consecutive evaluations "
                        f"({f.row_label(start)} to {f.row_label(end).removeprefix('the row of ')}) while "
                        f"{mover.name} moves ({lo} to {hi}): a stale or skipped evaluation",
                        table_location(f, start, col),
                    )
            i = j + 1


@rule("training-loss-rising", "CS202", "warning", "training loss rises across the run (divergence)")
def training_loss_rising(ctx: AuditContext) -> Iterator[Hit]:
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
        yield (
            (
                f"{col.name} rises from {cell_text(c0)} ({f.row_label(r0)}) to {cell_text(c1)} ({f.row_label(r1)}), "
                f"+{rise:.0f}%: the run diverged"
            ),
            table_location(f, r1, col),
        )


@rule(
    "best-checkpoint-not-reported",
    "CS203",
    "warning",
    "the card reports the last checkpoint, but an earlier one was clearly better (validation loss rose "
    "materially from its minimum)",
)
def best_checkpoint_not_reported(ctx: AuditContext) -> Iterator[Hit]:
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
    if not is_finite_number(c_last):
        return
    earlier = [
        (r, c, v)
        for r, c, v in zip(f.rows[:-1], f.cells(col), f.values(col))
        if c is not None and v is not None
    ]
    if not earlier:
        return
    best_row, best, _ = min(earlier, key=lambda rcv: rcv[2])
    assert best.value is not None and c_last is not None and c_last.value is not None
    if best.value <= 0:
        return
    if (c_last.value - c_last.half_ulp) >= (best.value + best.half_ulp) * (1 + MATERIAL_RISE):
        rise = (c_last.value / best.value - 1) * 100
        yield (
            (
                f"the card reports the last checkpoint ({f.row_label(last)}) although its {col.name} "
                f"{cell_text(c_last)} is {rise:.0f}% above the minimum {cell_text(best)} of {f.row_label(best_row)}; "
                "load_best_model_at_end would keep the better checkpoint"
            ),
            table_location(f, last, col),
        )


@rule(
    "chance-level-loss",
    "CS204",
    "warning",
    "the reported loss is at ln(num_labels): the model learned nothing",
)
def chance_level_loss(ctx: AuditContext) -> Iterator[Hit]:
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
    cell = next(
        (m.value for m in ctx.card.headline if norm_name(m.name) in {"loss", "validation loss"}), None
    )
    where = place(section=HEADLINE, column="Loss")
    if cell is None and f.val_loss is not None and f.last_row is not None:
        cell = f.last_row.cell(f.val_loss)
        where = table_location(f, f.last_row, f.val_loss)
    if not is_finite_number(cell):
        return
    assert cell is not None and cell.value is not None
    chance = math.log(k)
    if abs(cell.value - chance) <= max(CHANCE_TOLERANCE * chance, cell.half_ulp) + EPS:
        yield (
            (
                f"the reported loss {cell_text(cell)} is ln({k}) = {chance:.4f}, the loss of a uniform guess over "
                f"{k} labels: the model learned nothing"
            ),
            where,
        )


@rule("zero-metric", "CS205", "warning", "a reported F1/precision/recall is 0")
def zero_metric(ctx: AuditContext) -> Iterator[Hit]:
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
    reported = [(m.name, m.value, place(section=HEADLINE, column=m.name)) for m in ctx.card.headline]
    if not reported and f.last_row is not None:
        reported = [
            (c.name, x, table_location(f, f.last_row, c))
            for c in f.metrics
            if (x := f.last_row.cell(c)) is not None
        ]
    for name, cell, where in reported:
        if metric_kind(name) in {"f1", "precision", "recall"} and cell.value == 0.0:
            yield (
                f"the reported {name} is {cell_text(cell)}: the model never predicts the positive class",
                where,
            )
