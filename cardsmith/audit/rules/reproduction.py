"""CS4xx: reproduction. Declared here, produced by ``cardsmith verify --rerun`` (:mod:`cardsmith.rerun`)."""

from __future__ import annotations

from collections.abc import Iterator

from cardsmith.audit.registry import (
    AuditContext,
    Hit,
    rule,
)


@rule(
    "metric-not-reproduced",
    "CS401",
    "error",
    "(`--rerun`) a claimed metric differs from the rerun beyond the printed rounding",
    produced_by="evaluator",
)
def metric_not_reproduced(ctx: AuditContext) -> Iterator[Hit]:
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


@rule(
    "loss-not-reproduced",
    "CS402",
    "error",
    "(`--rerun`) the claimed evaluation loss differs from the rerun",
    produced_by="evaluator",
)
def loss_not_reproduced(ctx: AuditContext) -> Iterator[Hit]:
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
