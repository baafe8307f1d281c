"""What a card claims, and the comparison of those claims with a rerun's numbers.

What is compared: the card's headline results ("It achieves the following results on the
evaluation set"), else the last row of its results table, else its ``model-index`` metrics. Each
claimed metric that cardsmith can recompute (loss, accuracy, precision, recall, F1, Matthews
correlation) is compared with the rerun within the card's printed rounding (``Cell.half_ulp``)
plus a small tolerance for nondeterminism:

* ``TOLERANCE`` (1e-4 absolute, on the 0-1 scale; the loss too) for fp32 reruns, which covers
  kernel and summation-order differences between devices (observed: below 1e-6 on CPU);
* ``HALF_TOLERANCE`` (1e-2) for ``--dtype bf16/fp16`` reruns, which are not exact.

A metric that disagrees is a ``metric-not-reproduced`` error; the loss, ``loss-not-reproduced``.
Precision/recall/F1 are tried under every averaging (binary, micro, macro, weighted) and the one
that reproduces the card is reported; token classification uses seqeval's overall scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cardsmith.audit.findings import Location
from cardsmith.audit.report import ReproducedMetric, Reproduction
from cardsmith.card.metric_names import PERCENTABLE, RATES, is_claimed_metric
from cardsmith.card.model import Card, Cell

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.rerun.tasks.base import TaskResult


#: Extra absolute tolerance beyond the printed rounding, for fp32 reruns (0-1 scale).
TOLERANCE = 1e-4


#: Extra absolute tolerance for bf16/fp16 reruns.
HALF_TOLERANCE = 1e-2


#: The Trainer's default ``per_device_eval_batch_size``, used when the card does not print one.
TRAINER_DEFAULT_EVAL_BATCH_SIZE = 8


@dataclass
class Claim:
    """One number the card claims: its printed name, its printed cell, and where it was printed."""

    name: str
    cell: Cell
    source: str  # "headline", "table" or "model-index"
    key: str | None  # the canonical metric (cardsmith.rerun.metrics), None when not recomputable
    row: int | None = None


def claimed_metrics(card: Card) -> list[Claim]:
    """What the card claims for its final evaluation: headline, else last table row, else model-index."""
    from cardsmith.card.metric_names import canonical_metric

    claims: list[Claim] = []
    if card.headline:
        for metric in card.headline:
            if metric.value.is_number and is_claimed_metric(metric.name):
                claims.append(Claim(metric.name, metric.value, "headline", canonical_metric(metric.name)))
        if claims:
            return claims
    table = card.results
    if table is not None and table.rows:
        row = table.rows[-1]
        for idx, col in enumerate(table.columns):
            if not is_claimed_metric(col) or idx >= len(row) or not row[idx].is_number:
                continue
            claims.append(Claim(col, row[idx], "table", canonical_metric(col), row=len(table.rows)))
        if claims:
            return claims
    for entry in card.metadata.model_index or []:
        for result in entry.results:
            for item in result.metrics:
                name = item.name or item.type
                if (
                    not name
                    or not is_claimed_metric(name)
                    or isinstance(item.value, bool)
                    or not isinstance(item.value, (int, float))
                ):
                    continue
                cell = Cell.parse(
                    repr(float(item.value)) if isinstance(item.value, float) else str(item.value)
                )
                key = canonical_metric(name) or (canonical_metric(item.type) if item.type else None)
                claims.append(Claim(name, cell, "model-index", key))
            if claims:
                return claims
    return claims


def scale_of(claim: Claim, reproduced: float | None = None) -> float:
    """100 for a percent-scale claim of a bounded metric, else 1.

    An error rate (WER, CER) has no bound to tell its scale: it may pass 1 on the fraction scale,
    and a very good model's percent rate is below 1 (``Wer: 0.85`` for 0.85 %). Its claim is on the
    scale nearer to the ``reproduced`` value (without one: percent above 1, else fraction).
    """
    value = claim.cell.value
    if claim.cell.percent:
        return 100.0
    if claim.key in RATES and value is not None:
        if reproduced is None or not math.isfinite(reproduced):
            return 100.0 if abs(value) > 1.0 else 1.0
        return 100.0 if abs(value - reproduced * 100.0) < abs(value - reproduced) else 1.0
    if claim.key in PERCENTABLE and value is not None and 1.0 < abs(value) <= 100.0:
        return 100.0
    if claim.key == "matthews_correlation" and value is not None and 1.0 < abs(value) <= 100.0:
        return 100.0
    return 1.0


def agrees(claim: Claim, reproduced: float, tolerance: float) -> bool:
    scale = scale_of(claim, reproduced)
    return claim.cell.agrees(reproduced * scale, extra=tolerance * scale)


def claim_location(claim: Claim) -> Location:
    if claim.source == "table":
        return Location(section="Training results", row=claim.row, column=claim.name)
    if claim.source == "model-index":
        return Location(section="model-index", column=claim.name)
    return Location(section="Headline", column=claim.name)


def eval_batch_size(card: Card, batch_size: int | None) -> tuple[int, str]:
    hp = card.hyperparameters
    if hp is not None and hp.eval_batch_size:
        return int(hp.eval_batch_size), "the card's eval_batch_size"
    if batch_size:
        return int(batch_size), "--batch-size (the card prints no eval_batch_size)"
    return TRAINER_DEFAULT_EVAL_BATCH_SIZE, "the Trainer's default 8 (the card prints no eval_batch_size)"


def compare(
    claims: list[Claim], result: TaskResult, *, tolerance: float
) -> tuple[list[ReproducedMetric], list[tuple[Claim, ReproducedMetric]], dict[str, Any]]:
    """Compare every claim with a task's numbers; returns (metrics, failures, settings).

    A claim whose key the task judged itself takes its :class:`~cardsmith.rerun.tasks.base.Verdict`;
    else it is compared on its own scale (fraction or percent) within its printed rounding plus
    ``tolerance``; a claim the task did not compute is "not recomputed". ``settings`` is the
    task's, plus ``scale`` (``percent`` or ``fraction``) when a claim could be printed either way.
    """
    metrics: list[ReproducedMetric] = []
    failures: list[tuple[Claim, ReproducedMetric]] = []
    settings: dict[str, Any] = dict(result.settings)
    scales: set[str] = set()
    for claim in claims:
        claimed = claim.cell.value
        key = claim.key
        verdict = result.verdicts.get(key) if key is not None else None
        if verdict is not None:
            metric = ReproducedMetric(
                name=claim.name,
                claimed=claimed,
                reproduced=verdict.value,
                match=verdict.match,
                note=verdict.note,
                within=verdict.within,
            )
        elif key is None or key not in result.values:
            metrics.append(
                ReproducedMetric(
                    name=claim.name,
                    claimed=claimed,
                    reproduced=None,
                    match=False,
                    note="not recomputed by cardsmith",
                )
            )
            continue
        else:
            value = result.values[key]
            scale = scale_of(claim, value)
            ok = value is not None and not math.isnan(value) and agrees(claim, value, tolerance)
            note = result.notes.get(key)
            if key in PERCENTABLE:
                scales.add("percent" if scale != 1.0 else "fraction")
                if scale != 1.0 and note is None:
                    note = "percent scale"
            metric = ReproducedMetric(
                name=claim.name, claimed=claimed, reproduced=value * scale, match=ok, note=note
            )
        metrics.append(metric)
        if not metric.match:
            failures.append((claim, metric))
    if scales and "scale" not in settings:
        settings["scale"] = " and ".join(sorted(scales))
    return metrics, failures, settings


def fmt_value(value: float | None) -> str:
    """A rerun's number as messages print it (6 significant digits; ``n/a`` when there is none)."""
    return "n/a" if value is None else f"{value:.6g}" if abs(value) >= 1e-4 else f"{value:.3e}"


def reproduce(
    card: Card,
    result: TaskResult,
    *,
    task: str,
    tolerance: float,
    dataset: str,
    split: str | None,
) -> tuple[Reproduction, list[tuple[Claim, ReproducedMetric]]]:
    """Compare the card's claims with a task's result; the ``Reproduction`` and the failures."""
    metrics, failures, settings = compare(claimed_metrics(card), result, tolerance=tolerance)
    averaging = settings.get("averaging")
    reproduction = Reproduction(
        device=result.device,
        dataset=dataset,
        split=split,
        examples=result.examples,
        task=task,
        settings=settings,
        metrics=metrics,
        averaging=str(averaging) if averaging is not None else None,
        seconds=round(result.seconds, 3),
    )
    return reproduction, failures
