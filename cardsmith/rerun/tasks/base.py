"""The rerun task protocol: what a task is given, what it returns, and the search of hidden settings.

A *task* (text classification, multi-label classification, speech recognition, summarization...)
knows how the HF recipes prepare its data, run its model and compute its metrics, and which hidden
settings (averaging, threshold, generation config, block size...) a card may have used. Everything
else is shared and lives outside the task: resolving the model and the card, loading the evaluation
split (:mod:`cardsmith.rerun.data`), reading the card's claims (:mod:`cardsmith.rerun.claims`),
comparing every claim with the task's numbers, the findings, the report and ``--write``.

A task is a class with a ``name`` (one of :data:`cardsmith.rerun.tasks.TASK_NAMES`), a one-line
``reproduces`` (the README's task table) and one method::

    def run(self, ctx: TaskContext) -> TaskResult

``ctx`` holds the checkpoint folder, its ``config.json``, the card and its claims, the evaluation
split, the column overrides, the Trainer's ``eval_batch_size`` and the runtime options. The task
returns its reproduced numbers by canonical metric key (:mod:`cardsmith.card.metric_names`), on the
fraction scale (the comparison finds the card's scale), with the settings that reproduced them.
A task that must judge a claim itself (a sampling band, a relative error) returns a
:class:`Verdict` for that key instead.

:func:`search` is the shared way to find hidden settings: candidates are tried in order of
likelihood, the first that reproduces every claim it covers wins, else the one that reproduces
most (then the smallest total error, then the earliest).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cardsmith.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.card.model import Card
    from cardsmith.rerun.claims import Claim
    from cardsmith.rerun.data import DatasetSource


@dataclass
class TaskContext:
    """Everything a task is given; built by :func:`cardsmith.rerun.verify.rerun_card`.

    ``dataset`` is the evaluation split as a ``datasets.Dataset`` (already cut to ``--max-examples``);
    ``columns`` holds only the column overrides the user gave, by role (``text``, ``label``,
    ``image``, ``audio``...); ``batch_size`` is ``--batch-size`` (examples per forward pass, ``None``
    for the task's default), unrelated to ``eval_batch_size``, the Trainer's batch that the loss
    is regrouped into.
    """

    model_path: Path
    config: dict[str, Any]
    card: Card
    claims: list[Claim]
    dataset: Any
    source: DatasetSource
    eval_batch_size: int
    device: Any = "cpu"
    dtype: str = "fp32"
    batch_size: int | None = None
    tolerance: float = 1e-4
    columns: dict[str, str] = field(default_factory=dict)
    trust_remote_code: bool = False
    progress: bool = True

    @property
    def keys(self) -> set[str]:
        """The canonical keys of the claims cardsmith can recompute."""
        return {c.key for c in self.claims if c.key is not None}

    def column(self, role: str, conventional: Sequence[str], *, exclude: Sequence[str] = ()) -> str:
        """The column for ``role``: the user's override, else the first conventional name present."""
        names = list(self.dataset.column_names)
        given = self.columns.get(role)
        if given:
            if given not in names:
                raise DatasetError(f"no column {given!r} in the dataset (columns: {', '.join(names)})")
            return given
        for name in conventional:
            if name in names and name not in exclude:
                return name
        raise DatasetError(
            f"cannot tell the {role} column (columns: {', '.join(names)}); pass --{role}-column"
        )


@dataclass
class Verdict:
    """A claim judged by the task itself: the value on the card's scale, whether it matches, and why."""

    value: float
    match: bool
    note: str | None = None
    #: The band the match holds within when it is not the printed rounding (see ``ReproducedMetric.within``).
    within: str | None = None


@dataclass
class TaskResult:
    """What a task returns.

    ``values``: canonical metric key -> reproduced value on the fraction scale (the loss as the
    Trainer logs it). ``verdicts``: keys the task judged itself (they win over ``values``).
    ``settings``: every hidden setting that reproduced the card (the JSON report's ``settings``).
    ``notes``: key -> a note for the report (``"Trainer batching, eval_batch_size 8"``).
    """

    values: dict[str, float]
    settings: dict[str, Any]
    examples: int
    device: str
    seconds: float
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


class Task:
    """Base of every rerun task (see the module docstring)."""

    #: The ``--task`` name (SPEC's list).
    name: ClassVar[str] = ""
    #: One line for the README's task table: what is reproduced, with which settings.
    reproduces: ClassVar[str] = ""

    def run(self, ctx: TaskContext) -> TaskResult:  # pragma: no cover - every task overrides it
        raise NotImplementedError


# --------------------------------------------------------------------------------------------------
# The search of hidden settings
# --------------------------------------------------------------------------------------------------


def _agrees(claim: Claim, value: float, tolerance: float) -> tuple[bool, float]:
    """Whether ``value`` (fraction scale) reproduces ``claim``, and its error on the fraction scale."""
    from cardsmith.rerun.claims import agrees, scale_of

    if value is None or (isinstance(value, float) and math.isnan(value)) or claim.cell.value is None:
        return False, math.inf
    ok = agrees(claim, value, tolerance)
    return ok, abs(claim.cell.value / scale_of(claim, value) - value)


def search(
    claims: Sequence[Claim],
    candidates: Iterable[tuple[Mapping[str, Any], Mapping[str, float]]],
    tolerance: float,
) -> tuple[dict[str, Any], dict[str, float], bool]:
    """The candidate ``(settings, values)`` that reproduces the claims best; and whether it reproduces all.

    Only claims whose key a candidate's ``values`` holds count for it. Candidates are consumed
    lazily: the first that reproduces every claim it covers is returned at once.
    """
    best: tuple[tuple[int, float, int], dict[str, Any], dict[str, float], bool] | None = None
    for rank, (settings, values) in enumerate(candidates):
        covered = [c for c in claims if c.key is not None and c.key in values]
        hits = 0
        error = 0.0
        for claim in covered:
            ok, err = _agrees(claim, values[str(claim.key)], tolerance)
            hits += ok
            error += err if math.isfinite(err) else 1e9
        complete = hits == len(covered)
        order = (-hits, error, rank)
        if best is None or order < best[0]:
            best = (order, dict(settings), dict(values), complete)
        if complete:
            break
    if best is None:
        return {}, {}, True
    return best[1], best[2], best[3]
