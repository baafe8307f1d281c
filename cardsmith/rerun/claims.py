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
from typing import TYPE_CHECKING

from cardsmith.audit.report import Finding, Location, ReproducedMetric, Reproduction
from cardsmith.card.metric_names import PERCENTABLE, is_claimed_metric
from cardsmith.card.model import Card, Cell

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.rerun.data import EvalData
    from cardsmith.rerun.run import EvalOutput


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


def scale_of(claim: Claim) -> float:
    """100 for a percent-scale claim of a bounded metric, else 1."""
    value = claim.cell.value
    if claim.cell.percent:
        return 100.0
    if claim.key in PERCENTABLE and value is not None and 1.0 < abs(value) <= 100.0:
        return 100.0
    if claim.key == "matthews_correlation" and value is not None and 1.0 < abs(value) <= 100.0:
        return 100.0
    return 1.0


def agrees(claim: Claim, reproduced: float, tolerance: float) -> bool:
    scale = scale_of(claim)
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
    claims: list[Claim],
    data: EvalData,
    output: EvalOutput,
    *,
    eval_batch_size: int,
    num_labels: int,
    tolerance: float,
) -> tuple[list[ReproducedMetric], list[tuple[Claim, ReproducedMetric]], str | None]:
    """Recompute every claimed metric; returns (metrics, failures, averaging)."""
    from cardsmith.card.metric_names import PRF
    from cardsmith.rerun.data import TOKEN
    from cardsmith.rerun.metrics import classification_metrics, seqeval_metrics, trainer_loss

    computed: dict[str, float] = {}
    averaging: str | None = None
    loss = trainer_loss(output.loss_sums, output.loss_counts, eval_batch_size)
    computed["loss"] = loss
    if data.task == TOKEN:
        names = data.id2name
        preds = [[names.get(int(p), str(p)) for p in row] for row in output.predictions]
        refs = [[names.get(int(t), str(t)) for t in row] for row in output.references]
        computed.update(seqeval_metrics(preds, refs))
        if any(c.key in PRF for c in claims):
            averaging = "seqeval (micro over entities)"
    else:
        scores = classification_metrics(output.predictions, output.references, num_labels)
        computed["accuracy"] = scores["accuracy"]
        computed["matthews_correlation"] = scores["matthews_correlation"]
        prf_claims = [c for c in claims if c.key in PRF]
        if prf_claims:
            best: tuple[int, float, int] | None = None
            for rank, avg in enumerate(scores["f1"]):
                matches = sum(agrees(c, scores[str(c.key)][avg], tolerance) for c in prf_claims)
                error = sum(
                    abs(c.cell.value / scale_of(c) - scores[str(c.key)][avg])
                    for c in prf_claims
                    if c.cell.value is not None
                )
                key = (-matches, error, rank)
                if best is None or key < best:
                    best = key
                    averaging = avg
            if averaging is not None:
                for k in PRF:
                    computed[k] = scores[k][averaging]
                if best is not None and -best[0] < len(prf_claims):
                    averaging = f"{averaging} (closest; no averaging reproduces every claim)"
    metrics: list[ReproducedMetric] = []
    failures: list[tuple[Claim, ReproducedMetric]] = []
    for claim in claims:
        claimed = claim.cell.value
        if claim.key is None or claim.key not in computed:
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
        value = computed[claim.key]
        scale = scale_of(claim)
        ok = not math.isnan(value) and agrees(claim, value, tolerance)
        note = None
        if scale != 1.0:
            note = "percent scale"
        if claim.key == "loss":
            note = f"Trainer batching, eval_batch_size {eval_batch_size}"
        metric = ReproducedMetric(
            name=claim.name, claimed=claimed, reproduced=value * scale, match=ok, note=note
        )
        metrics.append(metric)
        if not ok:
            failures.append((claim, metric))
    return metrics, failures, averaging


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}" if abs(value) >= 1e-4 else f"{value:.3e}"


def reproduction_findings(
    card: Card,
    reproduction: Reproduction,
    failures: list[tuple[Claim, ReproducedMetric]],
) -> list[Finding]:
    """The ``loss-not-reproduced`` / ``metric-not-reproduced`` findings for a comparison's failures.

    ``failures`` is what :func:`compare` returns as its second item; ``reproduction`` names the data
    in the messages. Unfiltered and unsorted: the audit engine's policy (selection, ``[tool.cardsmith]``,
    inline suppressions) decides which are reported.
    """
    from cardsmith.audit.rules import finding

    out: list[Finding] = []
    for claim, metric in failures:
        name = "loss-not-reproduced" if claim.key == "loss" else "metric-not-reproduced"
        what = "evaluation loss" if claim.key == "loss" else claim.name
        message = (
            f"{claim.name} {claim.cell.text.strip()} ({claim.source}) is not reproduced: the rerun gives "
            f"{_fmt(metric.reproduced)} on {reproduction.dataset}"
            f"{'/' + reproduction.split if reproduction.split else ''} ({reproduction.examples} examples)"
        )
        if claim.key == "loss":
            message += f"; the {what} is computed as the Trainer does ({metric.note})"
        out.append(finding(name, message, claim_location(claim)))
    return out


def reproduce(
    card: Card,
    data: EvalData,
    output: EvalOutput,
    *,
    eval_batch_size: int,
    num_labels: int,
    tolerance: float,
    dataset: str,
) -> tuple[Reproduction, list[tuple[Claim, ReproducedMetric]]]:
    """Compare the card's claims with an evaluation output; the ``Reproduction`` and the failures."""
    metrics, failures, averaging = compare(
        claimed_metrics(card),
        data,
        output,
        eval_batch_size=eval_batch_size,
        num_labels=num_labels,
        tolerance=tolerance,
    )
    reproduction = Reproduction(
        device=output.device,
        dataset=dataset,
        split=data.split,
        examples=output.examples,
        metrics=metrics,
        averaging=averaging,
        seconds=round(output.seconds, 3),
    )
    return reproduction, failures


def check_claims(
    card: Card,
    data: EvalData,
    output: EvalOutput,
    *,
    num_labels: int | None = None,
    batch_size: int | None = None,
    tolerance: float = TOLERANCE,
    dataset: str | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
) -> tuple[Reproduction, list[Finding]]:
    """Compare a card with an evaluation output that is already there (no model is loaded or run).

    The same comparison as ``verify --rerun``: :func:`claimed_metrics`, :func:`compare` at the card's
    ``eval_batch_size`` (else ``batch_size``, else the Trainer's default 8), then
    :func:`reproduction_findings`. ``num_labels`` defaults to the labels of ``data.id2name`` (else the
    largest label id seen, plus one); ``dataset`` (the name in messages) to ``data.name``.
    """
    if num_labels is None:
        if data.id2name:
            num_labels = max(data.id2name) + 1
        else:
            flat = [
                int(v) for v in (*output.predictions, *output.references) if not isinstance(v, (list, tuple))
            ]
            num_labels = max([1, *flat]) + 1
    eval_bs, _why = eval_batch_size(card, batch_size)
    reproduction, failures = reproduce(
        card,
        data,
        output,
        eval_batch_size=eval_bs,
        num_labels=num_labels,
        tolerance=tolerance,
        dataset=dataset or data.name,
    )
    from cardsmith.audit.engine import Policy

    policy = Policy(card, select=select, ignore=ignore, config={})
    return reproduction, policy.apply(reproduction_findings(card, reproduction, failures), whole_audit=False)
