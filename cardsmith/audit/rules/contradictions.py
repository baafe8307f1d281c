"""CS1xx: contradictions. Numbers of the card that cannot all be true (errors, and two warnings).

Each compares printed numbers only within what their printed digits allow
(:mod:`cardsmith.card.numbers`): no rule fires on what rounding alone explains.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from cardsmith.audit.facts import (
    Column,
    Row,
    harmonic_mean_agrees,
    metric_kind,
    norm_name,
    value_scale,
)
from cardsmith.audit.registry import (
    HEADLINE,
    HYPERPARAMETERS,
    MODEL_INDEX,
    AuditContext,
    Hit,
    cell_text,
    is_finite_number,
    place,
    rule,
    table_location,
)
from cardsmith.card.metric_names import kind_bounds
from cardsmith.card.model import Card
from cardsmith.card.numbers import EPS, Cell, agree, distinct, same_digits

#: ``same_digits`` of two cells printed with at least 3 decimals needs their values this close.
_SAME_DIGITS_3 = 0.5e-3 + EPS + 1e-12


@rule(
    "loss-equals-metric",
    "CS101",
    "error",
    "a loss cell equals a metric cell of the same row to every printed digit (copy or column shift)",
)
def loss_equals_metric(ctx: AuditContext) -> Iterator[Hit]:
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
    metrics = [
        (c, f.cells(c)) for c in f.columns if c.role in {"metric", "train_metric"} and c.kind != "error"
    ]
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
                if (
                    b is None
                    or b.value is None
                    or abs(av - b.value) > _SAME_DIGITS_3  # type: ignore[operator]
                    or b.decimals is None
                    or not is_finite_number(b)
                    or min(a.decimals, b.decimals) < 3
                ):
                    continue
                if same_digits(a, b):
                    yield (
                        f"{lc.name} equals {mc.name} ({cell_text(a)}) in {f.row_label(row)}",
                        table_location(f, row, lc),
                    )
                    break


@rule(
    "headline-mismatch",
    "CS103",
    "error",
    'a headline result ("It achieves the following results") matches no row of the results table',
)
def headline_mismatch(ctx: AuditContext) -> Iterator[Hit]:
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
    links = [ln for ln in f.headline_links if any(is_finite_number(c) for c in f.cells(ln.column))]
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
    shown = ", ".join(f"{ln.metric.name} {cell_text(ln.metric.value)}" for ln in links)
    # a row holding every headline value, but in other columns: exchanged cells
    for row in reversed(f.rows):
        moved = []
        ok = True
        for ln in links:
            here = row.cell(ln.column)
            if here is not None and agree(ln.metric.value, here):
                continue
            other = next(
                (
                    c
                    for c in f.columns
                    if c.role in {"metric", "val_loss", "train_loss"}
                    and c is not ln.column
                    and (x := row.cell(c)) is not None
                    and agree(ln.metric.value, x)
                ),
                None,
            )
            if other is None:
                ok = False
                break
            if (other.name, ln.column.name) not in moved:
                moved.append((ln.column.name, other.name))
        if ok and moved:
            swaps = "; ".join(f"{a} <-> {b}" for a, b in moved)
            yield (
                (
                    f"the headline ({shown}) matches {f.row_label(row)} only with cells exchanged "
                    f"({swaps}): the row or the headline has values in the wrong column"
                ),
                table_location(f, row, moved[0][0]),
            )
            return
    best = max(
        f.rows,
        key=lambda r: (
            sum(1 for ln in links if (c := r.cell(ln.column)) is not None and agree(ln.metric.value, c)),
            r.number,
        ),
    )
    diffs = ", ".join(
        f"{ln.column.name} {cell_text(best.cell(ln.column))}"
        for ln in links
        if not ((c := best.cell(ln.column)) is not None and agree(ln.metric.value, c))
    )
    yield (
        (
            f"the headline ({shown}) matches no row of the results table; the closest, "
            f"{f.row_label(best)}, has {diffs}"
        ),
        place(section=HEADLINE, column=links[0].metric.name),
    )


def _index_metrics(card: Card) -> Iterator[tuple[str, str | None, float, Cell]]:
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


@rule(
    "model-index-mismatch",
    "CS104",
    "error",
    "a `model-index` metric value disagrees with the headline or the table",
)
def model_index_mismatch(ctx: AuditContext) -> Iterator[Hit]:
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
                yield (
                    f"model-index {name} is {cell_text(cell)} but the headline says {head.name} {cell_text(head.value)}",
                    place(section=MODEL_INDEX, column=name),
                )
            continue
        col = next(
            (
                c
                for c in f.columns
                if c.role in {"metric", "val_loss"} and any(_same_metric(c.name, k) for k in keys)
            ),
            None,
        )
        if col is None:
            continue
        values = [c for c in f.cells(col) if is_finite_number(c)]
        if values and not any(agree(cell, c) for c in values):  # type: ignore[arg-type]
            yield (
                f"model-index {name} is {cell_text(cell)} but no row of the results table has that {col.name}",
                place(section=MODEL_INDEX, column=name),
            )


@rule(
    "steps-not-proportional",
    "CS106",
    "error",
    "steps per epoch differ between rows beyond what epoch rounding explains",
)
def steps_not_proportional(ctx: AuditContext) -> Iterator[Hit]:
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
        yield (
            (
                f"steps per epoch are {a[3]:.4g} in {f.row_label(a[2])} but {b[3]:.4g} in "
                f"{f.row_label(b[2])}, more than the rounding of the epochs explains"
            ),
            table_location(f, b[2], f.step),
        )


@rule("progress-not-monotonic", "CS107", "error", "epochs or steps go backwards")
def progress_not_monotonic(ctx: AuditContext) -> Iterator[Hit]:
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
                yield (
                    f"{col.name} goes back from {cell_text(prev)} to {cell_text(c)} in {f.row_label(row)}",
                    table_location(f, row, col),
                )
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


@rule(
    "metric-out-of-range",
    "CS108",
    "error",
    "a bounded metric lies outside [0, 1] (or [0, 100]), a loss is negative, a value is NaN or infinite",
)
def metric_out_of_range(ctx: AuditContext) -> Iterator[Hit]:
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
            yield (
                f"{col.name} {cell_text(cells[i])} {why} in {f.row_label(row)}",
                table_location(f, row, col),
            )
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
                why = _out_of_range(*kind_bounds(kind, scale), c)
        if why:
            yield (f"headline {m.name} {cell_text(c)} {why}", place(section=HEADLINE, column=m.name))
    for name, typ, _v, c in _index_metrics(card):
        kind = metric_kind(typ or name)
        if kind == "other" and typ:
            kind = metric_kind(name)
        if kind == "other":
            why = "is not a finite number" if not math.isfinite(c.value or 0.0) else None
        else:
            why = _out_of_range(*kind_bounds(kind, f.scale or value_scale(c)), c)
        if why:
            yield (f"model-index {name} {cell_text(c)} {why}", place(section=MODEL_INDEX, column=name))


@rule(
    "f1-not-harmonic-mean",
    "CS109",
    "error",
    "precision, recall and F1 are micro/binary/seqeval-style (F1 is their harmonic mean in the other "
    "rows) but not in this row",
)
def f1_not_harmonic_mean(ctx: AuditContext) -> Iterator[Hit]:
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
        if not (is_finite_number(cp) and is_finite_number(cr) and is_finite_number(cf)):
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
            yield (
                (
                    f"{f1.name} {cell_text(cf)} in {f.row_label(row)} is not the harmonic mean of {p.name} {cell_text(cp)} "
                    f"and {r.name} {cell_text(cr)} ({hm:.4f}), although it is in the other rows"
                ),
                table_location(f, row, f1),
            )


@rule(
    "batch-size-inconsistent",
    "CS110",
    "error",
    "total_train_batch_size != train_batch_size x gradient_accumulation_steps x num_devices",
)
def batch_size_inconsistent(ctx: AuditContext) -> Iterator[Hit]:
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
    checks = [
        (
            "total_train_batch_size",
            hp.total_train_batch_size,
            hp.train_batch_size,
            hp.gradient_accumulation_steps or 1,
            "train_batch_size x gradient_accumulation_steps",
        ),
        ("total_eval_batch_size", hp.total_eval_batch_size, hp.eval_batch_size, 1, "eval_batch_size"),
    ]
    for key, total, per, gas, what in checks:
        if total is None or per is None or per <= 0 or gas <= 0:
            continue
        if nd is not None and nd > 0:
            expected = per * gas * nd
            if total != expected:
                yield (
                    f"{key} is {total} but {what} x num_devices = {per} x "
                    + (f"{gas} x " if gas != 1 or key.startswith("total_train") else "")
                    + f"{nd} = {expected}",
                    place(section=HYPERPARAMETERS, column=key),
                )
        elif distributed:
            if total % (per * gas) != 0:
                yield (
                    (
                        f"{key} is {total}, not a whole multiple of {what} = {per * gas} "
                        f"(distributed_type {hp.distributed_type}, device count not stated)"
                    ),
                    place(section=HYPERPARAMETERS, column=key),
                )
        elif key == "total_train_batch_size" and total != per * gas:
            yield (
                (
                    f"{key} is {total} but {what} = {per} x {gas} = {per * gas} on one device "
                    "(no num_devices or distributed_type is given)"
                ),
                place(section=HYPERPARAMETERS, column=key),
            )


@rule(
    "epochs-exceed-config",
    "CS111",
    "error",
    "the table reaches an epoch past num_epochs, or a step past training_steps",
)
def epochs_exceed_config(ctx: AuditContext) -> Iterator[Hit]:
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
            if is_finite_number(c) and c.value - h > ceiling:
                yield (
                    f"{col.name} {cell_text(c)} in {f.row_label(row)} is past {key}: {limit:g}",
                    table_location(f, row, col),
                )
                break


@rule(
    "shifted-cell",
    "CS102",
    "warning",
    "a loss value equals the other loss column's value in the adjacent row (a cell moved by one row)",
)
def shifted_cell(ctx: AuditContext) -> Iterator[Hit]:
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
        return (
            is_finite_number(a)
            and is_finite_number(b)
            and a.value != 0
            and a.decimals is not None
            and b.decimals is not None
            and min(a.decimals, b.decimals) >= 3
            and same_digits(a, b)
        )

    tcells, vcells = f.cells(tl), f.cells(vl)
    for i in range(1, len(f.rows)):
        above, below = f.rows[i - 1], f.rows[i]
        if eq(tcells[i], vcells[i - 1]) and not eq(tcells[i], vcells[i]):
            yield (
                (
                    f"{tl.name} in {f.row_label(below)} ({cell_text(tcells[i])}) equals the {vl.name} of "
                    f"{f.row_label(above)}: a cell moved by one row"
                ),
                table_location(f, below, tl),
            )
        if eq(vcells[i], tcells[i - 1]) and not eq(vcells[i], tcells[i]):
            yield (
                (
                    f"{vl.name} in {f.row_label(below)} ({cell_text(vcells[i])}) equals the {tl.name} of "
                    f"{f.row_label(above)}: a cell moved by one row"
                ),
                table_location(f, below, vl),
            )


@rule(
    "headline-not-final-or-best",
    "CS105",
    "warning",
    "the headline row is neither the last row nor the best one",
)
def headline_not_final_or_best(ctx: AuditContext) -> Iterator[Hit]:
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
    yield (
        f"the headline reports {f.row_label(f.headline_rows[0])}, which is neither the last row "
        f"({f.row_label(f.last_row).removeprefix('the row of ')})"
        + (f" nor the best one ({best_text})" if best_text else ""),
        place(section=HEADLINE),
    )
