"""CS1xx: contradictions. Numbers of the card that cannot all be true (errors, and two warnings).

Each compares printed numbers only within what their printed digits allow
(:mod:`cardsmith.card.numbers`): no rule fires on what rounding alone explains.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from cardsmith.audit.evidence import streaming_pass_length
from cardsmith.audit.facts import (
    CardFacts,
    Column,
    Row,
    harmonic_mean_agrees,
    metric_kind,
    norm_name,
    value_scale,
)
from cardsmith.audit.findings import Location
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


def column_decimals(cells: list[Cell | None]) -> int | None:
    """The finest printed precision of a column: the Trainer rounds to 4 decimals and drops trailing
    zeros, so in a column that prints ``0.0374`` the cell ``0.037`` is ``0.0370``, not ``0.037 +- 0.0005``."""
    ds = [c.decimals for c in cells if c is not None and c.decimals is not None and c.value is not None]
    return max(ds) if ds else None


def _equal_at_own_precision(a: Cell, da: int | None, b: Cell, db: int | None) -> bool:
    """Both cells print the same number (at least 3 decimals, neither zero) both as printed and at
    what each really allows: its column's precision, since the Trainer drops trailing zeros
    (``0.037`` in a column of 4-decimal values is ``0.0370``, which ``0.0374`` is not)."""
    if a.value is None or b.value is None or a.decimals is None or b.decimals is None or a.value == 0:
        return False
    if abs(a.value - b.value) > _SAME_DIGITS_3 or not (is_finite_number(a) and is_finite_number(b)):
        return False
    if min(a.decimals, b.decimals) < 3 or not same_digits(a, b):
        return False
    d = min(max(a.decimals, da or 0), max(b.decimals, db or 0))
    return round(a.value, d) == round(b.value, d) and abs(a.value - b.value) <= 0.5 * 10.0 ** (-d) + EPS


def _loss_metric_equalities(ctx: AuditContext) -> list[tuple[Row, Column, Column, Cell]]:
    """Every (row, loss column, metric column, cell) where a loss cell equals a metric cell of its row."""
    f = ctx.facts
    metrics = [
        (c, f.cells(c)) for c in f.columns if c.role in {"metric", "train_metric"} and c.kind != "error"
    ]
    losses = [(c, f.cells(c)) for c in f.losses]
    out: list[tuple[Row, Column, Column, Cell]] = []
    if not metrics or not losses:
        return out
    mdec = {c.index: column_decimals(cells) for c, cells in metrics}
    for lc, lcells in losses:
        ldec = column_decimals(lcells)
        for i, row in enumerate(f.rows):
            a = lcells[i]
            if a is None or a.value is None:
                continue
            for mc, mcells in metrics:
                b = mcells[i]
                if b is not None and _equal_at_own_precision(a, ldec, b, mdec[mc.index]):
                    out.append((row, lc, mc, a))
                    break
    return out


def _out_of_line(f: CardFacts, col: Column, row: Row) -> bool:
    """The cell of ``row`` in ``col`` does not belong to its column's progression: it is farther from
    its neighbours' level than a quarter of that level and three times the column's typical step."""
    pts = [(r, v) for r, v in zip(f.rows, f.values(col)) if v is not None]
    idx = next((k for k, (r, _) in enumerate(pts) if r is row), None)
    if idx is None or len(pts) < 2:
        return False
    v = pts[idx][1]
    near = [pts[k][1] for k in (idx - 1, idx + 1) if 0 <= k < len(pts)]
    level = sum(near) / len(near)
    others = [b for k, (_, b) in enumerate(pts) if k != idx]
    steps = sorted(abs(b - a) for a, b in itertools.pairwise(others))
    typical = steps[len(steps) // 2] if steps else 0.0
    return abs(v - level) > max(0.25 * abs(level), 3 * typical)


@rule(
    "loss-equals-metric",
    "CS101",
    "error",
    "a loss cell equals a metric cell of the same row to every printed digit (copy or column shift): in two or "
    "more rows, or in one row where the loss is out of line with its column",
)
def loss_equals_metric(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares, in every row of the results table, each loss cell (training and validation loss)
        with each metric cell of the same row, at the precision each number really has (its column's:
        the Trainer prints ``0.9500`` as ``0.95``). It fires when the same loss column equals the same
        metric column in two or more rows (at least 3 decimals, and not zero), or in one row whose
        loss is out of line with the rest of its column (``0.3216``, then ``0.9126`` = F1). A single
        equal row whose loss fits its column is ``loss-equals-metric-once``, a warning: one
        coincidence of four digits in a long table is to be expected.
    Why is this bad:
        A loss and an accuracy or F1 are different quantities; equal to four printed digits in
        several rows means values were copied into the wrong column, or rows were shifted by one
        column. Error measures that can legitimately equal the loss (MSE, MAE) are not compared.
    Example:
        | Training Loss | Epoch | Step | Validation Loss | F1     |
        | 0.4235        | 4.0   | 7168 | 0.9546          | 0.9546 |   <- Validation Loss = F1
        | 0.3998        | 5.0   | 8960 | 0.9546          | 0.9546 |
    """
    hits = _loss_metric_equalities(ctx)
    pairs = [(lc.index, mc.index) for _, lc, mc, _ in hits]
    f = ctx.facts
    for row, lc, mc, cell in hits:
        if pairs.count((lc.index, mc.index)) >= 2 or _out_of_line(f, lc, row):
            yield (
                f"{lc.name} equals {mc.name} ({cell_text(cell)}) in {f.row_label(row)}",
                table_location(f, row, lc),
            )


@rule(
    "loss-equals-metric-once",
    "CS153",
    "warning",
    "a loss cell equals a metric cell of the same row in one row only (a coincidence or a one-off copy)",
)
def loss_equals_metric_once(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports a loss cell that equals a metric cell of its row to every printed digit (as
        ``loss-equals-metric``) when that pair of columns is equal in this one row only and the loss
        fits the progression of its column (otherwise ``loss-equals-metric`` reports it as an error).
    Why is this bad:
        It may be a value copied into the wrong cell; but two four-digit numbers of a long table can
        also coincide, so this is a warning to look at the row, not a refusal.
    Example:
        | 0.4114 | 3.5 | 1750 | 0.3615 | 0.3615 |   <- Validation Loss = Wer in this row, no other
    """
    hits = _loss_metric_equalities(ctx)
    pairs = [(lc.index, mc.index) for _, lc, mc, _ in hits]
    f = ctx.facts
    n = len(f.rows)
    for row, lc, mc, cell in hits:
        if pairs.count((lc.index, mc.index)) == 1 and not _out_of_line(f, lc, row):
            others = "every other row differs" if n > 1 else "the only row"
            yield (
                (
                    f"{lc.name} equals {mc.name} ({cell_text(cell)}) in {f.row_label(row)} only ({others}): "
                    "a coincidence, or a value copied into the wrong cell"
                ),
                table_location(f, row, lc),
            )


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
        does. When a row matches with two values exchanged, the message says so. When the
        hyperparameters say the run went on after the last row, an unmatched headline (not an
        exchanged one) is ``headline-after-last-row`` instead.
    Why is this bad:
        The Trainer's headline is its last evaluation, or the best row after
        ``load_best_model_at_end``; a headline that is in no row was evaluated on something else
        (another split, a re-run, random masking) or edited by hand, and the card does not say which.
    Example:
        - Loss: 0.0880            <- the last row says Validation Loss 0.9822, Accuracy 0.0880
        - Accuracy: 0.9822
    """
    went_on = _run_went_on(ctx) is not None
    for exchanged, message, location in _headline_unmatched(ctx):
        if exchanged or not went_on:  # cells in the wrong column are a copy error whenever the run ended
            yield message, location


@rule(
    "headline-after-last-row",
    "CS154",
    "warning",
    "a headline result matches no row of the results table, and the run went on after its last row",
)
def headline_after_last_row(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        The check of ``headline-mismatch``, for a card whose hyperparameters say training went on
        after the table's last row (``num_epochs: 30`` with a last row at epoch 29.46, or
        ``training_steps: 5000`` with a last row at step 4800).
    Why is this bad:
        The Trainer's headline is its last evaluation. When the run ends between two scheduled
        evaluations, the final model is evaluated on its own and that evaluation is in no row: the
        headline is then honest but unverifiable from the card, or it was edited by hand.
    Example:
        - num_epochs: 30
        | ... | 29.46 | 3800 | 0.3969 | 0.2646 |    <- headline Loss 0.3975, Wer 0.2633
    """
    went_on = _run_went_on(ctx)
    if went_on is None:
        return
    for exchanged, message, location in _headline_unmatched(ctx):
        if exchanged:
            continue
        yield (
            (
                f"{message}; the run went on after the last row ({went_on}), so the headline may be "
                "the final model's own evaluation, which the table does not show"
            ),
            location,
        )


def _run_went_on(ctx: AuditContext) -> str | None:
    """How training went on after the table's last row, per the hyperparameters; None when the last
    row is (within its printed rounding) the end of the run, or the card cannot tell."""
    hp, f = ctx.card.hyperparameters, ctx.facts
    last = f.last_row
    if hp is None or last is None:
        return None
    s = last.cell(f.step) if f.step is not None else None
    e = last.cell(f.epoch) if f.epoch is not None else None
    step = s.value if s is not None and is_finite_number(s) else None
    epoch = e.value if e is not None and is_finite_number(e) else None
    total = hp.training_steps
    if isinstance(total, (int, float)) and not isinstance(total, bool) and total > 0:
        if step is not None and total - step >= 2:
            return f"step {step:g} of training_steps {total:g}"
        return None
    n = hp.num_epochs
    if not isinstance(n, (int, float)) or isinstance(n, bool) or n <= 0 or epoch is None or e is None:
        return None
    left = float(n) - (epoch + epoch_half_ulp(e))
    if left <= 0:
        return None
    if step is not None and epoch > 0:
        more = left * step / epoch
        if more >= 2:
            return f"epoch {cell_text(e)} of num_epochs {n:g}, about {round(more)} more steps"
        return None
    if left >= 0.5:
        return f"epoch {cell_text(e)} of num_epochs {n:g}"
    return None


def _headline_unmatched(ctx: AuditContext) -> Iterator[tuple[bool, str, Location]]:
    """(cells exchanged?, message, location) of a headline that matches no row of the table."""
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
                True,
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
        False,
        (
            f"the headline ({shown}) matches no row of the results table; the closest, "
            f"{f.row_label(best)}, has {diffs}"
        ),
        place(section=HEADLINE, column=links[0].metric.name),
    )


#: Dataset splits the Trainer's own evaluation can be labelled with (it writes ``train`` for the
#: training set's split). A model-index result on any other split (``test``) is another evaluation.
_OWN_SPLITS = {"", "none", "train", "training", "validation", "valid", "val", "dev", "eval", "evaluation"}


def _index_metrics(
    card: Card, *, verified: bool = False
) -> Iterator[tuple[str, str | None, str | None, str | None, Cell]]:
    """(display name, given name, type, split, cell) of every numeric model-index metric.

    A metric marked ``verified: true`` is a Hub evaluation of its own (usually on the test split),
    not the card's evaluation: it is left out unless ``verified``.
    """
    for entry in card.metadata.model_index or []:
        for res in entry.results:
            split = _split_of(res)
            for m in res.metrics:
                v = m.value
                if (
                    isinstance(v, bool)
                    or v is None
                    or (not verified and getattr(m, "verified", None) is True)
                ):
                    continue
                if isinstance(v, (int, float)):
                    cell = Cell.parse(repr(float(v)) if isinstance(v, float) else str(v))
                elif isinstance(v, str):
                    cell = Cell.parse(v)
                else:
                    continue
                if cell.value is None:
                    continue
                yield (m.name or m.type or "?", m.name, m.type, split, cell)


def _split_of(result: object) -> str | None:
    """The dataset split of a model-index result: ``split``, or ``split: x`` inside its ``args``."""
    ds = getattr(result, "dataset", None)
    if ds is None:
        return None
    split = getattr(ds, "split", None)
    if isinstance(split, str) and split.strip():
        return split.strip()
    args = getattr(ds, "args", None)
    if isinstance(args, str) and "split" in args:
        tail = args.split("split", 1)[1].lstrip(" :=")
        return tail.split(",")[0].strip().strip("'\"") or None
    return None


def _same_metric(a: str, b: str) -> bool:
    na, nb = norm_name(a), norm_name(b)
    return bool(na == nb or na.replace(" ", "") == nb.replace(" ", ""))


def _agree_any_scale(a: Cell, b: Cell) -> bool:
    """Agree as printed, or once one is read as a percentage of the other (``91.28`` and ``0.9128``)."""
    if agree(a, b):
        return True
    for x, y in ((a, b), (b, a)):
        if (
            x.value is not None
            and y.value is not None
            and y.decimals is not None
            and 1.0 < abs(x.value) <= 100.0
            and abs(x.value / 100.0 - y.value) <= x.half_ulp / 100.0 + y.half_ulp + EPS
        ):
            return True
    return False


@rule(
    "model-index-mismatch",
    "CS104",
    "error",
    "a `model-index` metric value disagrees with the headline or the table of the same evaluation",
)
def model_index_mismatch(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Compares each numeric ``model-index`` metric with the headline metric of the same name, at
        the headline's printed precision: ``0.9473684210526315`` agrees with ``0.9474``, and a
        percentage agrees with its fraction (``91.28`` and ``0.9128``). A metric the headline does not
        show is compared with the results table's column of that name and must agree with some row.
        Only the same evaluation is compared: a metric marked ``verified: true`` (a Hub evaluation),
        a name the headline does not use (``Test WER``, ``F1 Macro`` beside the headline's ``F1``) and a
        result on another split (``test``) are other evaluations - except that a value equal to a row
        of the table is still that row's, copied.
    Why is this bad:
        The Hub shows ``model-index`` values in its evaluation widget and leaderboards; a value that
        differs from the card's own text was copied from another row or another run.
    Example:
        model-index: value: 29.0912      <- the headline says Wer: 29.1407 (the last row); 29.0912
                                            is the row of step 4000
    """
    card, f = ctx.card, ctx.facts
    for name, given, _type, split, cell in _index_metrics(card):
        other_split = split is not None and split.lower() not in _OWN_SPLITS
        if given:
            head = next((h for h in card.headline if _same_metric(h.name, given)), None)
            col = next(
                (c for c in f.columns if c.role in {"metric", "val_loss"} and _same_metric(c.name, given)),
                None,
            )
            if col is None and norm_name(given) in {"loss", "eval loss", "validation loss"}:
                col = f.val_loss
        else:
            head, col = None, None
        copied = None
        if col is not None:
            copied = next(
                (
                    r
                    for r in f.rows
                    if (x := r.cell(col)) is not None
                    and is_finite_number(x)
                    and agree(cell, x)
                    and r not in f.headline_rows
                ),
                None,
            )
        if head is not None and head.value.value is not None:
            if _agree_any_scale(head.value, cell):
                continue
            if copied is not None:
                yield (
                    (
                        f"model-index {name} is {cell_text(cell)}, the {col.name} of {f.row_label(copied)}, "  # type: ignore[union-attr]
                        f"but the headline says {head.name} {cell_text(head.value)}"
                    ),
                    place(section=MODEL_INDEX, column=name),
                )
            elif not other_split:
                yield (
                    f"model-index {name} is {cell_text(cell)} but the headline says {head.name} {cell_text(head.value)}",
                    place(section=MODEL_INDEX, column=name),
                )
            continue
        if col is None or other_split:
            continue
        values = [c for c in f.cells(col) if is_finite_number(c)]
        if values and not any(_agree_any_scale(cell, c) for c in values):  # type: ignore[arg-type]
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
        runs, edited, or belong to a resumed run with another batch size. A streamed training set
        (``training_steps`` with epochs that restart their fraction at every pass: 0.08, 1.03, 1.11,
        2.07) is recognised and not compared: its epoch is passes plus steps / ``max_steps``.
    Example:
        | 1.0 | 500  | ...
        | 2.0 | 1200 | ...    <- 500 steps per epoch, then 600
    """
    f = ctx.facts
    if f.epoch is None or f.step is None or streaming_epochs(ctx):
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


def streaming_epochs(ctx: AuditContext) -> bool:
    """The epoch column is that of a streamed training set with ``max_steps`` (see
    :func:`cardsmith.audit.evidence.streaming_pass_length`): some row has completed a pass."""
    hp, f = ctx.card.hyperparameters, ctx.facts
    max_steps = hp.training_steps if hp is not None else None
    if not max_steps or f.epoch is None or f.step is None:
        return False
    rows = [
        (ev, epoch_half_ulp(e), sv)
        for e, ev, sv in zip(f.cells(f.epoch), f.values(f.epoch), f.values(f.step))
        if e is not None and ev is not None and sv is not None
    ]
    return len(rows) >= 2 and streaming_pass_length(rows, float(max_steps)) is not None


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
                scale = (
                    linked.scale if linked is not None and linked.scale else (f.scale or value_scale(c, kind))
                )
                why = _out_of_range(*kind_bounds(kind, scale), c)
        if why:
            yield (f"headline {m.name} {cell_text(c)} {why}", place(section=HEADLINE, column=m.name))
    for name, _given, typ, _split, c in _index_metrics(card, verified=True):
        kind = metric_kind(typ or name)
        if kind == "other" and typ:
            kind = metric_kind(name)
        if kind == "other":
            why = "is not a finite number" if not math.isfinite(c.value or 0.0) else None
        else:
            # a model-index value is printed on its own: 91.28 on a card whose table is in [0, 1] is a
            # percentage (the Hub shows both), not an accuracy above 1
            own = "percent" if c.value is not None and 1.0 < c.value <= 100.0 else None
            why = _out_of_range(*kind_bounds(kind, own or f.scale or value_scale(c, kind)), c)
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


#: Names of a plain (top-1) accuracy: balanced or per-class accuracies count errors otherwise.
_PLAIN_ACCURACY = {
    "accuracy",
    "acc",
    "overall accuracy",
    "validation accuracy",
    "val accuracy",
    "test accuracy",
}
#: Metric kinds of cards whose loss is not one softmax cross-entropy per counted prediction: multi-label
#: (ROC AUC, Jaccard: a loss averaged over labels) and sequence-to-sequence (a loss over tokens).
_NOT_ONE_SOFTMAX = {"auc", "jaccard", "rouge", "bleu", "chrf", "meteor", "error_rate"}
_MULTI_LABEL_WORDS = ("multi-label", "multi_label", "multilabel", "hamming", "subset")


def _softmax_classifier(ctx: AuditContext) -> bool:
    """Whether nothing on the card says its loss is other than one cross-entropy per prediction."""
    f = ctx.facts
    names = [c.name for c in f.columns] + [m.name for m in ctx.card.headline]
    if any(metric_kind(n) in _NOT_ONE_SOFTMAX or "gen len" in norm_name(n) for n in names):
        return False
    meta = ctx.card.metadata.data if isinstance(ctx.card.metadata.data, dict) else {}
    words = " ".join([*names, str(meta.get("tags", "")), str(meta.get("pipeline_tag", ""))]).lower()
    return not any(w in words for w in _MULTI_LABEL_WORDS)


@rule(
    "loss-too-low-for-accuracy",
    "CS112",
    "warning",
    "the evaluation loss is below ln 2 x (1 - accuracy), the least a cross-entropy loss can be at that accuracy",
)
def loss_too_low_for_accuracy(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        A classifier predicts the class of highest probability, so an example it gets wrong gave
        the true class a probability of at most 1/2 and costs a cross-entropy of at least ln 2: the
        mean cross-entropy is at least ln 2 x (1 - accuracy) (times 1 - label_smoothing_factor when
        the card prints one). Each row's validation loss and plain accuracy, and the headline's
        Loss and Accuracy, are compared with that bound at the most favourable end of their printed
        rounding. Cards whose metrics read as multi-label (ROC AUC, Jaccard, Hamming, subset
        accuracy) or sequence-to-sequence (ROUGE, BLEU, WER, Gen Len) are not checked: their loss
        is averaged over labels or tokens.
    Why is this bad:
        A loss that low cannot be the cross-entropy of the predictions the accuracy counts: the
        accuracy or the loss is wrong (a broken compute_metrics, a cell from another run), or the
        loss is not plain cross-entropy (focal, class-weighted) or comes from other examples.
    Example:
        | Validation Loss 0.1203 | Accuracy 0.5120 |   <- at least ln 2 x 0.4880 = 0.3383
    """
    f = ctx.facts
    if not _softmax_classifier(ctx):
        return
    hp = ctx.card.hyperparameters
    smoothing = hp.label_smoothing_factor if hp is not None and hp.label_smoothing_factor else 0.0
    if not 0.0 <= smoothing < 1.0:
        return
    factor = math.log(2) * (1.0 - smoothing)

    def bound(acc: Cell, percent: bool) -> float | None:
        """The least loss the printed accuracy allows, or None when it allows any."""
        if not is_finite_number(acc):
            return None
        assert acc.value is not None
        scale = 100.0 if percent else 1.0
        error = 1.0 - (acc.value + acc.half_ulp) / scale
        return factor * error if error > 0 else None

    def fires(loss: Cell | None, least: float | None) -> bool:
        if least is None or not is_finite_number(loss):
            return False
        assert loss is not None and loss.value is not None
        return loss.value + loss.half_ulp + EPS < least

    def message(where: str, loss_name: str, loss: Cell, acc_name: str, acc: Cell, least: float) -> str:
        smoothed = f" x (1 - label smoothing {smoothing:g})" if smoothing else ""
        return (
            f"{loss_name} {cell_text(loss)}{where} is below ln 2{smoothed} x (1 - {acc_name} {cell_text(acc)}) = "
            f"{least:.4f}, the least a cross-entropy loss can be when that share of the examples is "
            "misclassified: the accuracy or the loss is wrong, or the loss is not the plain "
            "cross-entropy of these predictions (focal or class-weighted loss, other examples)"
        )

    flagged: set[tuple[str, str]] = set()
    val = f.val_loss
    acc_col = next((c for c in f.metrics if norm_name(c.name) in _PLAIN_ACCURACY), None)
    if val is not None and acc_col is not None:
        for row, loss, acc in zip(f.rows, f.cells(val), f.cells(acc_col)):
            if acc is None or loss is None:
                continue
            least = bound(acc, acc_col.scale == "percent")
            if fires(loss, least):
                assert least is not None
                flagged.add((loss.text.strip(), acc.text.strip()))
                yield (
                    message(f" in {f.row_label(row)}", val.name, loss, acc_col.name, acc, least),
                    table_location(f, row, val),
                )
    head = {norm_name(m.name): m for m in ctx.card.headline}
    loss_m = head.get("loss") or head.get("validation loss")
    acc_m = next((head[n] for n in _PLAIN_ACCURACY if n in head), None)
    if loss_m is None or acc_m is None:
        return
    if (loss_m.value.text.strip(), acc_m.value.text.strip()) in flagged:
        return  # the headline repeats a row already reported
    acc_cell = acc_m.value
    percent = f.scale == "percent" or (
        acc_cell.value is not None and acc_cell.value > 1.0 + acc_cell.half_ulp
    )
    least = bound(acc_cell, percent)
    if fires(loss_m.value, least):
        assert least is not None
        yield (
            message(" in the headline", loss_m.name, loss_m.value, acc_m.name, acc_cell, least),
            place(section=HEADLINE, column=loss_m.name),
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
        below, and the other way round. It fires when two such cells are equal to every digit each
        really has (at least 3 decimals, not zero): a cell is known to its column's precision, since
        the Trainer prints ``0.0370`` as ``0.037`` (so ``0.037`` does not equal ``0.0374``).
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

    tdec, vdec = column_decimals(f.cells(tl)), column_decimals(f.cells(vl))

    def eq(a: Cell | None, b: Cell | None) -> bool:
        # a training-loss cell (a) and a validation-loss cell (b), each at its column's precision
        return a is not None and b is not None and _equal_at_own_precision(a, tdec, b, vdec)

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
        if eq(tcells[i - 1], vcells[i]) and not eq(tcells[i], vcells[i]):
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


@rule(
    "multi-gpu-one-device",
    "CS152",
    "warning",
    "distributed_type is multi-GPU but the batch sizes multiply out on one device",
)
def multi_gpu_one_device(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the hyperparameters say ``distributed_type: multi-GPU`` but give no
        ``num_devices`` and ``total_train_batch_size`` equals ``train_batch_size x
        gradient_accumulation_steps``: the arithmetic of one device.
    Why is this bad:
        The Trainer writes ``num_devices`` and multiplies it into the total batch size whenever it
        trains on several devices. A multi-GPU card whose batch arithmetic implies one device was
        launched as a one-process distributed run, or its batch sizes were edited; either way the
        effective batch size (and so the schedule) the card describes is in doubt.
    Example:
        - train_batch_size: 1
        - distributed_type: multi-GPU
        - gradient_accumulation_steps: 4
        - total_train_batch_size: 4
    """
    hp = ctx.card.hyperparameters
    if hp is None or hp.num_devices is not None or not hp.distributed_type:
        return
    kind = str(hp.distributed_type).lower().replace("_", "-")
    if "multi" not in kind or "gpu" not in kind:
        return
    per, gas, total = hp.train_batch_size, hp.gradient_accumulation_steps or 1, hp.total_train_batch_size
    if per is None or total is None or per <= 0 or total != per * gas:
        return
    yield (
        (
            f"distributed_type is {hp.distributed_type} but total_train_batch_size {total} = train_batch_size "
            f"{per} x gradient_accumulation_steps {gas} on one device (no num_devices): the run used one "
            "process, or the batch sizes are not the run's"
        ),
        place(section=HYPERPARAMETERS, column="distributed_type"),
    )
