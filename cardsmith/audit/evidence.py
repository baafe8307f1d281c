"""What a column of printed numbers can and cannot be evidence of.

Pure functions on printed values (no cardsmith imports), used by the rules to stay true as worded:

- :func:`implied_denominator`: a metric that only takes the values ``k/n`` (accuracy over ``n``
  examples) repeats by construction when ``n`` is small; a repeat is then no evidence of a frozen model.
- :func:`slow_drift`: a metric that moves by about one printed unit between evaluations repeats
  whenever its change is below that unit.
- :func:`streaming_pass_length`: with a streamed (``IterableDataset``) training set and ``max_steps``,
  the Trainer's epoch column is ``passes + steps_into_the_pass / max_steps``, not ``step / steps_per_epoch``.
- :func:`logging_interval_explains`: a results table shows the last *logged* training loss, so with a
  logging interval longer than the evaluation interval the same value repeats in consecutive rows.

Every function is linear (or ``n_max`` x values) in its input and never raises on odd values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

#: Largest evaluation-set size whose repeats are discounted as discreteness (accuracy over <= 500 examples).
SMALL_EVAL_SET = 500
#: Chance that an arbitrary set of values fits some k/n at least this well; below it, n is real.
FIT_ALPHA = 0.01


def implied_denominator(
    values: Sequence[float], half_ulp: float, n_max: int = SMALL_EVAL_SET, alpha: float = FIT_ALPHA
) -> int | None:
    """The evaluation-set size the printed values imply, if it is small.

    The smallest ``n <= n_max`` such that every value lies within ``half_ulp`` of some ``k/n``, when
    such a fit is unlikely by chance: an arbitrary value fits a given ``n`` with probability about
    ``2 * half_ulp * n``, so ``d`` distinct values fit one of the first ``n`` denominators with
    probability below ``n * (2 * half_ulp * n) ** d``, which must be under ``alpha``.
    """
    distinct = sorted({v for v in values if v is not None and math.isfinite(v) and 0.0 <= v <= 1.0})
    d = len(distinct)
    if d == 0 or len(distinct) != len({v for v in values if v is not None}):
        return None
    tol = half_ulp + 1e-12
    for n in range(1, n_max + 1):
        if all(abs(v * n - round(v * n)) <= tol * n for v in distinct):
            return n if n * min(1.0, 2 * half_ulp * n) ** d < alpha else None
    return None


def slow_drift(values: Sequence[float], unit: float) -> bool:
    """The values move by about one printed ``unit`` between consecutive evaluations.

    True when the median of the non-zero steps is at most 2 units and no step exceeds 5 units: such
    a column repeats whenever its change is below its last printed digit. A column that never moves
    is not drifting (it is frozen).
    """
    if unit <= 0:
        return False
    steps = sorted(abs(b - a) for a, b in itertools.pairwise(values) if abs(b - a) > unit / 2)
    if not steps:
        return False
    mid = len(steps) // 2
    median = steps[mid] if len(steps) % 2 else (steps[mid - 1] + steps[mid]) / 2
    return median <= 2 * unit * (1 + 1e-9) and steps[-1] <= 5 * unit * (1 + 1e-9)


def streaming_pass_length(rows: Sequence[tuple[float, float, float]], max_steps: float) -> float | None:
    """The pass length (optimizer steps per pass over a streamed dataset) that explains the table.

    ``rows`` are ``(epoch, epoch_half_ulp, step)``. The Trainer, training on an iterable dataset with
    ``max_steps`` (``training_steps`` on the card), prints ``epoch = passes + (step - passes * P) /
    max_steps``; each row then bounds ``P``. Returns a ``P`` inside every row's bounds (a step of
    slack per pass, for a last partial batch), or ``None`` when no single ``P`` fits or no row has
    completed a pass.
    """
    if max_steps <= 0:
        return None
    lo, hi = 0.0, math.inf
    used = 0
    for epoch, half, step in rows:
        if not (math.isfinite(epoch) and math.isfinite(step)) or epoch < 0 or step <= 0:
            return None
        passes = math.floor(epoch + half)
        frac_lo, frac_hi = epoch - half - passes, epoch + half - passes
        if passes == 0:
            if not (frac_lo * max_steps - 1 <= step <= frac_hi * max_steps + 1):
                return None
            continue
        lo = max(lo, (step - frac_hi * max_steps) / passes - 1)
        hi = min(hi, (step - frac_lo * max_steps) / passes + 1)
        used += 1
        if lo > hi or hi <= 0:
            return None
    return (lo + hi) / 2 if used else None


#: Logging intervals tried besides those the table itself suggests (``logging_steps`` defaults to 500).
_COMMON_INTERVALS = (
    1,
    2,
    4,
    5,
    8,
    10,
    16,
    20,
    25,
    32,
    40,
    50,
    64,
    100,
    128,
    200,
    250,
    256,
    400,
    500,
    512,
    1000,
    2000,
    2500,
    5000,
    10000,
)


#: How many of the table's distinct steps and gaps are tried as logging intervals (keeps it linear).
_MAX_TABLE_CANDIDATES = 64
#: Interval checks (candidates x row pairs) tried one by one between the last "No log" row and the
#: first logged loss.
_MAX_EXHAUSTIVE_WORK = 200_000


def logging_interval_explains(steps: Sequence[int | None], losses: Sequence[str | None]) -> bool:
    """Whether one logging interval explains which rows repeat the previous row's training loss.

    ``losses`` are the training-loss cells as printed (``"no log"`` before the first log, ``None``
    for a missing cell). With a log every ``L`` steps, a row shows a new value exactly when a multiple
    of ``L`` lies between its step and the previous row's, and ``No log`` only before step ``L``.
    Candidate intervals: the common ones, the table's first distinct steps and gaps between rows
    (at most 64 of each), and every interval between the last ``No log`` row and the first row
    with a loss when that range is small (the cost stays linear in the table).
    """
    pairs: list[tuple[int, int, bool]] = []
    for s0, l0, s1, l1 in zip(steps, losses, steps[1:], losses[1:]):
        if s0 is None or s1 is None or l0 is None or l1 is None or s1 <= s0:
            continue
        pairs.append((s0, s1, l0 == l1))
    no_log = [s for s, v in zip(steps, losses) if v == "no log" and s is not None]
    floor = max(no_log) if no_log else 0
    # the table's own steps and gaps, the first few of each (a long table repeats the same few)
    firsts = list(dict.fromkeys(s for s in steps if s))[:_MAX_TABLE_CANDIDATES]
    gaps = list(dict.fromkeys(b - a for a, b, _ in pairs))[:_MAX_TABLE_CANDIDATES]
    candidates = set(_COMMON_INTERVALS) | set(firsts) | set(gaps)
    # the first log falls after the last "No log" row and no later than the first row with a loss:
    # every interval in between, while that stays within a linear budget
    first_logged = next((s for s, v in zip(steps, losses) if v not in (None, "no log") and s), None)
    if first_logged is not None and (first_logged - floor) * max(len(pairs), 1) <= _MAX_EXHAUSTIVE_WORK:
        candidates |= set(range(floor + 1, first_logged + 1))
    for interval in sorted(c for c in candidates if c > floor):
        if all((b // interval == a // interval) == same for a, b, same in pairs):
            return True
    return False
