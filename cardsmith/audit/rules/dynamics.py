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

from cardsmith.audit.evidence import implied_denominator, logging_interval_explains, slow_drift
from cardsmith.audit.facts import (
    CardFacts,
    Column,
    metric_kind,
    norm_name,
)
from cardsmith.audit.registry import (
    HEADLINE,
    HYPERPARAMETERS,
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


#: Metric kinds for which a frozen value suggests a model predicting one class.
_CLASS_KINDS = {"accuracy", "precision", "recall", "f1", "correlation", "auc"}


def _printed(f: CardFacts, col: Column) -> tuple[list[float], float] | None:
    """The column's numeric values and the unit of its finest printed digit."""
    cells = [c for c in f.cells(col) if c is not None and c.value is not None and c.decimals is not None]
    if len(cells) < 2:
        return None
    decimals = max(c.decimals for c in cells)  # type: ignore[type-var]
    return [c.value for c in cells], 10.0 ** (-decimals)  # type: ignore[misc]


def small_evaluation_set(f: CardFacts) -> int | None:
    """The evaluation-set size that an accuracy column implies (its values are all ``k/n``), if small."""
    for col in f.metrics:
        if col.kind not in {"accuracy", "exact"}:
            continue
        printed = _printed(f, col)
        if printed is None:
            continue
        values, unit = printed
        scale = 100.0 if col.scale == "percent" else 1.0
        n = implied_denominator([v / scale for v in values], unit / 2 / scale)
        if n is not None:
            return n
    return None


def _repeats_expected(f: CardFacts, col: Column, small_set: int | None) -> bool:
    """Repeated values are what this column does anyway: the evaluation set is small (an accuracy
    column only takes the values ``k/n`` with ``n <= 500``: the same predictions give the same numbers),
    or the column drifts by about one printed unit between evaluations (a slowly converging metric
    that repeats whenever it moves less)."""
    printed = _printed(f, col)
    if printed is not None and slow_drift(*printed):
        return True
    return col is not f.val_loss and small_set is not None


def _exact_zero(col: Column, cell: Cell) -> bool:
    """A correlation, F1, precision or recall printed as zero (``0.0``): the Trainer prints an exact
    zero so, and it is the value of a model that predicts one class, not a coarse rounding."""
    return cell.value == 0 and col.kind in {"correlation", "f1", "precision", "recall"}


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
        times, then ``0.5002``: a metric improving by less than its last digit per evaluation), nor a
        column that drifts by about one printed unit between evaluations anyway, nor a metric whose
        printed values are all ``k/n`` for a small evaluation set (``n <= 500``: accuracy over 48
        images takes 49 values, so repeats are expected). The message claims a single class only
        for classification metrics.
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
    memo: list[int | None] = []

    def small_set() -> int | None:  # computed once, and only when some run needs it
        if not memo:
            memo.append(small_evaluation_set(f))
        return memo[0]

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
                and (first.decimals is None or first.decimals >= 3 or _exact_zero(col, first))
                and not _rounding_step(first, before, after)
                and not _repeats_expected(f, col, small_set())
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
                    what = (
                        f"{col.name} is {cell_text(first)} in {len(run)} consecutive evaluations "
                        f"({f.row_label(start)} to {f.row_label(end).removeprefix('the row of ')}) while "
                        f"{mover.name} moves ({lo} to {hi})"
                    )
                    if col is f.val_loss:
                        why = (
                            "the evaluated model did not change between these evaluations (skipped optimizer "
                            "steps, such as fp16 loss-scale overflows, or a learning rate near zero), or the "
                            "evaluation is stale"
                        )
                    elif col.kind in _CLASS_KINDS:
                        why = "the model may predict a single class"
                    else:
                        why = "the model's outputs may not have changed between these evaluations"
                    yield (f"{what}: {why}", table_location(f, start, col))
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


#: An earlier checkpoint is "clearly better" on a bounded metric by this much (on the fraction scale) ...
BETTER_POINTS = 0.01
#: ... and on an unbounded one (WER, MSE, perplexity) by this relative margin.
BETTER_RELATIVE = 0.02


def task_metric(f: CardFacts) -> Column | None:
    """The metric a checkpoint would be chosen by (``metric_for_best_model``): the table's F1, else its
    first task metric (accuracy, WER, ROUGE, BLEU, a correlation, ...), else precision or recall, else
    an error measure (MSE)."""
    ranked = [c for c in f.metrics if c.higher_is_better is not None]
    for kinds in (
        {"f1"},
        {
            "accuracy",
            "error_rate",
            "rouge",
            "bleu",
            "correlation",
            "exact",
            "chrf",
            "meteor",
            "auc",
            "map",
            "iou",
            "jaccard",
        },
        {"precision", "recall"},
    ):
        found = next((c for c in ranked if c.kind in kinds), None)
        if found is not None:
            return found
    return ranked[0] if ranked else None


def _clearly_better(col: Column, a: Cell, b: Cell) -> bool:
    """``a`` is better than ``b`` on ``col`` beyond rounding and by a material margin."""
    if a.value is None or b.value is None:
        return False
    gain = (a.value - b.value) if col.higher_is_better else (b.value - a.value)
    if gain <= a.half_ulp + b.half_ulp + EPS:
        return False
    if col.is_bounded:
        return gain >= BETTER_POINTS * (100.0 if col.scale == "percent" else 1.0) - EPS
    return gain >= BETTER_RELATIVE * abs(b.value)


@rule(
    "best-checkpoint-not-reported",
    "CS203",
    "warning",
    "the card reports the last checkpoint although its validation loss rose materially from its minimum "
    "(overfitting); an earlier checkpoint is named only when the task metric was clearly better there",
)
def best_checkpoint_not_reported(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        When the headline reports the last row, compares that row's validation loss with the lowest
        validation loss of the earlier rows; the loss must have risen at least 10 % (allowing for
        rounding at both ends). Then, when the table has a task metric (accuracy, F1, WER, ROUGE,
        ...), which is what ``metric_for_best_model`` usually is, the message claims a better earlier
        checkpoint only when an earlier row is clearly better on it (1 point on a bounded metric, 2 %
        on an unbounded one), and names that row; when the metric kept improving or stayed within
        that margin, it says what is true: the loss overfits, and no earlier checkpoint is clearly
        better on the metric. Without a task metric, the lower loss is the better checkpoint (the
        default ``metric_for_best_model``).
    Why is this bad:
        The card publishes the final weights although an earlier checkpoint scored better, and does
        not say so. ``load_best_model_at_end=True`` (with ``metric_for_best_model``) keeps the better one.
    Example:
        Validation Loss 0.4424 (epoch 11), ..., 0.5122 (epoch 15, reported);
        Matthews Correlation 0.5078 (epoch 11), ..., 0.4661 (epoch 15)
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
    if best.value <= 0 or (c_last.value - c_last.half_ulp) < (best.value + best.half_ulp) * (
        1 + MATERIAL_RISE
    ):
        return
    rise = (c_last.value / best.value - 1) * 100
    loss_text = f"{col.name} rose {rise:.0f}% above its minimum {cell_text(best)} ({f.row_label(best_row)})"
    metric = task_metric(f)
    if metric is None:
        yield (
            (
                f"the card reports the last checkpoint ({f.row_label(last)}), whose {col.name} {cell_text(c_last)} "
                f"is {rise:.0f}% above the minimum {cell_text(best)} of {f.row_label(best_row)}; the table has no task "
                "metric, so that earlier checkpoint is the better one, and load_best_model_at_end (whose default "
                "metric is the loss) would keep it"
            ),
            table_location(f, last, col),
        )
        return
    m_last = last.cell(metric)
    if not is_finite_number(m_last):
        return
    assert m_last is not None
    candidates = [(r, c) for r, c in zip(f.rows[:-1], f.cells(metric)) if is_finite_number(c)]
    if not candidates:
        return
    sign = 1.0 if metric.higher_is_better else -1.0
    better_row, better = max(candidates, key=lambda rc: sign * rc[1].value)  # type: ignore[operator, union-attr]
    assert better is not None and better.value is not None and m_last.value is not None
    if not _clearly_better(metric, better, m_last):
        if sign * m_last.value >= sign * better.value:
            state = f"{metric.name} is best in the reported row ({cell_text(m_last)})"
        else:
            state = (
                f"{metric.name} {cell_text(m_last)} is within {abs(better.value - m_last.value):.4g} of its best "
                f"{cell_text(better)} ({f.row_label(better_row)})"
            )
        yield (
            (
                f"the {loss_text} to {cell_text(c_last)} in the reported last checkpoint ({f.row_label(last)}) while "
                f"{state}: the model overfits the loss, but no earlier checkpoint is clearly better on {metric.name}"
            ),
            table_location(f, last, col),
        )
        return
    yield (
        (
            f"the card reports the last checkpoint ({f.row_label(last)}: {metric.name} {cell_text(m_last)}), but "
            f"{f.row_label(better_row)} was better ({metric.name} {cell_text(better)}) and the {loss_text}; "
            "load_best_model_at_end with metric_for_best_model would keep the better checkpoint"
        ),
        table_location(f, last, metric),
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


#: A training loss repeated in this many consecutive rows (two repeats) is not a coincidence of four digits.
REPEATED_RUN = 3


@rule(
    "training-loss-repeated",
    "CS250",
    "warning",
    "the training loss is identical in consecutive rows while the validation loss moves, and no logging "
    "interval explains it",
)
def training_loss_repeated(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Looks for a training loss printed identically in at least 3 consecutive rows while the
        validation loss moves in those rows. The Trainer's table shows the last *logged* training
        loss, so a value repeats whenever no log happened between two evaluations
        (``logging_steps`` longer than ``eval_steps``): the rule tries the logging intervals that
        could have produced the table (the common ones, every step and every gap) and fires only
        when none explains which rows repeat and which change. A training loss that moves by about
        one printed unit per row repeats by rounding alone and is not reported.
    Why is this bad:
        Training loss is an average over the steps since the last log; when logs did happen, the same
        four digits three times over means the cells were copied or filled in by hand, and the
        training curve the card shows is not the run's.
    Example:
        | 0.4807 | 0.75 | 300 | 0.4811 |
        | 0.4807 | 1.0  | 400 | 0.4502 |    <- every other 100-step gap shows a new training loss
        | 0.4807 | 1.25 | 500 | 0.4318 |
    """
    f = ctx.facts
    tl, vl, st = f.train_loss, f.val_loss, f.step
    if tl is None or vl is None or st is None:
        return
    tcells, vvalues = f.cells(tl), f.values(vl)
    steps = [int(v) if v is not None and v == int(v) else None for v in f.values(st)]
    texts = [
        None
        if c is None
        else (
            "no log"
            if c.value is None and c.text.strip().lower() == "no log"
            else (c.text.strip() if c.value is not None else None)
        )
        for c in tcells
    ]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(texts):
        j = i
        while (
            j + 1 < len(texts) and texts[i] is not None and texts[i] != "no log" and texts[j + 1] == texts[i]
        ):
            j += 1
        if j - i + 1 >= REPEATED_RUN:
            moving = {v for v in vvalues[i : j + 1] if v is not None}
            if len(moving) >= 2:
                runs.append((i, j))
        i = j + 1
    printed = _printed(f, tl)
    if not runs or (printed is not None and slow_drift(*printed)) or logging_interval_explains(steps, texts):
        return
    for i, j in runs:
        start, end = f.rows[i], f.rows[j]
        yield (
            (
                f"{tl.name} is {cell_text(tcells[i])} in {j - i + 1} consecutive rows ({f.row_label(start)} to "
                f"{f.row_label(end).removeprefix('the row of ')}) while {vl.name} moves, and no logging interval "
                "explains the table's repeats: copied or hand-filled cells"
            ),
            table_location(f, start, tl),
        )


@rule(
    "warmup-spans-run",
    "CS251",
    "warning",
    "the learning-rate warmup lasts the whole run (warmup steps reach the training steps, or a ratio of 1)",
)
def warmup_spans_run(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares ``lr_scheduler_warmup_steps`` with the run's length: ``training_steps`` when the
        card gives it, else the last step of a results table that reaches ``num_epochs``. It fires
        when the warmup is at least that long, or when ``lr_scheduler_warmup_ratio`` is 1 or more.
        A fractional ``warmup_steps`` (``0.1``, a ratio written in the wrong field) is not compared.
    Why is this bad:
        During warmup the learning rate climbs from zero; a warmup as long as the run means the
        scheduler the card names (linear, cosine) never decays it, so the run is not the one the
        hyperparameters describe, and usually undertrained.
    Example:
        - lr_scheduler_warmup_steps: 500
        - training_steps: 500
    """
    hp, f = ctx.card.hyperparameters, ctx.facts
    if hp is None:
        return
    ratio = hp.lr_scheduler_warmup_ratio
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio >= 1:
        message = f"lr_scheduler_warmup_ratio is {ratio:g}: the warmup lasts the whole run and the learning rate never decays"
        yield (message, place(section=HYPERPARAMETERS, column="lr_scheduler_warmup_ratio"))
        return
    warmup = hp.lr_scheduler_warmup_steps
    if (
        not isinstance(warmup, (int, float))
        or isinstance(warmup, bool)
        or warmup < 1
        or warmup != int(warmup)
    ):
        return
    total, what = None, ""
    if hp.training_steps:
        total, what = hp.training_steps, f"training_steps {hp.training_steps}"
    elif hp.num_epochs and f.epoch is not None and f.step is not None and f.last_row is not None:
        e, s = f.last_row.cell(f.epoch), f.last_row.cell(f.step)
        if (
            e is not None
            and s is not None
            and e.value is not None
            and s.value is not None
            and abs(e.value - float(hp.num_epochs)) <= max(e.half_ulp, 0.005) + 1e-9
        ):
            total, what = int(s.value), f"the last step of the run ({int(s.value)}, epoch {cell_text(e)})"
    if total and warmup >= total:
        yield (
            (
                f"lr_scheduler_warmup_steps {int(warmup)} reaches {what}: the warmup lasts the whole run and "
                f"the {hp.lr_scheduler_type or 'scheduled'} decay never starts"
            ),
            place(section=HYPERPARAMETERS, column="lr_scheduler_warmup_steps"),
        )
