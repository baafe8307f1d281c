"""The findings of a rerun's comparison: ``loss-not-reproduced`` and ``metric-not-reproduced``.

:mod:`cardsmith.rerun.claims` compares; this module words each failure as the finding of its rule
(declared in :mod:`cardsmith.audit.rules.reproduction`), for the audit engine's policy to select.
"""

from __future__ import annotations

from cardsmith.audit.findings import Finding
from cardsmith.audit.report import ReproducedMetric, Reproduction
from cardsmith.audit.rules.reproduction import loss_not_reproduced, metric_not_reproduced
from cardsmith.card.model import Card
from cardsmith.rerun.claims import Claim, claim_location, fmt_value


def reproduction_findings(
    card: Card,
    reproduction: Reproduction,
    failures: list[tuple[Claim, ReproducedMetric]],
) -> list[Finding]:
    """The ``loss-not-reproduced`` / ``metric-not-reproduced`` findings for a comparison's failures.

    ``failures`` is what :func:`cardsmith.rerun.claims.compare` returns as its second item; ``reproduction`` names the data
    in the messages. Unfiltered and unsorted: the audit engine's policy (selection, ``[tool.cardsmith]``,
    inline suppressions) decides which are reported.
    """
    out: list[Finding] = []
    for claim, metric in failures:
        produced = loss_not_reproduced if claim.key == "loss" else metric_not_reproduced
        what = "evaluation loss" if claim.key == "loss" else claim.name
        message = (
            f"{claim.name} {claim.cell.text.strip()} ({claim.source}) is not reproduced: the rerun gives "
            f"{fmt_value(metric.reproduced)} on {reproduction.dataset}"
            f"{'/' + reproduction.split if reproduction.split else ''} ({reproduction.examples} examples)"
        )
        if claim.key == "loss":
            message += f"; the {what} is computed as the Trainer does ({metric.note})"
        out.append(produced.finding(message, claim_location(claim)))
    return out
