"""Text classification (single sentences and pairs) and token classification.

The data are prepared by :func:`cardsmith.rerun.data.prepare` (columns, label ids by name) and run
by :func:`cardsmith.rerun.run.run_evaluation` (length-sorted batches, per-example loss terms); the
metrics are ``evaluate``'s: scikit-learn for sequences (precision/recall/F1 under the averaging
that reproduces the card, found by :func:`cardsmith.rerun.tasks.base.search`), seqeval's overall
scores for tokens. The loss is the Trainer's, regrouped into its batches of ``eval_batch_size``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cardsmith.card.metric_names import ACCURACY, LOSS, MCC, PRF, qualified_metric
from cardsmith.rerun.tasks.base import Task, TaskContext, TaskResult, search

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.audit.findings import Finding
    from cardsmith.audit.report import Reproduction
    from cardsmith.card.model import Card
    from cardsmith.rerun.claims import Claim
    from cardsmith.rerun.data import EvalData
    from cardsmith.rerun.run import EvalOutput

SEQEVAL = "seqeval (micro over entities)"


def loss_note(eval_batch_size: int) -> str:
    return f"Trainer batching, eval_batch_size {eval_batch_size}"


def score_classification(
    output: EvalOutput,
    claims: Sequence[Claim],
    *,
    tag_names: dict[int, str] | None = None,
    eval_batch_size: int,
    num_labels: int,
    tolerance: float,
) -> TaskResult:
    """The Trainer's loss and every claimed metric from per-example predictions (no model is run).

    ``tag_names`` (token classification): tag id -> name, for seqeval; else single-label classes.
    """
    from cardsmith.rerun.metrics import accuracy, classification_metrics, seqeval_metrics, trainer_loss

    values: dict[str, float] = {LOSS: trainer_loss(output.loss_sums, output.loss_counts, eval_batch_size)}
    settings: dict[str, Any] = {}
    keys = {c.key for c in claims if c.key is not None}
    if tag_names is not None:
        names = tag_names
        preds = [[names.get(int(p), str(p)) for p in row] for row in output.predictions]
        refs = [[names.get(int(t), str(t)) for t in row] for row in output.references]
        values.update(seqeval_metrics(preds, refs))
        if keys & set(PRF):
            settings["averaging"] = SEQEVAL
    elif keys <= {LOSS, ACCURACY}:
        # scikit-learn's accuracy_score is the mean of the hits: no import needed for it alone
        values[ACCURACY] = accuracy(output.predictions, output.references)
    else:
        scores = classification_metrics(output.predictions, output.references, num_labels)
        values[ACCURACY] = scores[ACCURACY]
        values[MCC] = scores[MCC]
        for key in keys:  # names that say their averaging: "F1 Macro", "weighted precision"
            base, average = qualified_metric(key)
            if average is not None and base in PRF and average in scores[base]:
                values[key] = scores[base][average]
        prf_claims = [c for c in claims if c.key in PRF]
        if prf_claims:
            candidates = (({"averaging": avg}, {k: scores[k][avg] for k in PRF}) for avg in scores["f1"])
            chosen, prf, complete = search(prf_claims, candidates, tolerance)
            values.update(prf)
            if chosen:
                averaging = str(chosen["averaging"])
                if not complete:
                    averaging += " (closest; no averaging reproduces every claim)"
                settings["averaging"] = averaging
    return TaskResult(
        values=values,
        settings=settings,
        examples=output.examples,
        device=output.device,
        seconds=output.seconds,
        notes={LOSS: loss_note(eval_batch_size)},
    )


class _Classification(Task):
    kind: str = ""

    def run(self, ctx: TaskContext) -> TaskResult:
        from cardsmith.rerun.data import TOKEN, model_labels, prepare
        from cardsmith.rerun.run import run_evaluation

        data = prepare(
            ctx.dataset,
            ctx.source,
            self.kind,
            ctx.config,
            text_column=ctx.columns.get("text"),
            label_column=ctx.columns.get("label"),
        )
        output = run_evaluation(
            ctx.model_path,
            data,
            device=ctx.device,
            dtype=ctx.dtype,
            batch_size=ctx.batch_size,
            trust_remote_code=ctx.trust_remote_code,
            progress=ctx.progress,
        )
        id2label, _ = model_labels(ctx.config)
        return score_classification(
            output,
            ctx.claims,
            tag_names=data.id2name if data.task == TOKEN else None,
            eval_batch_size=ctx.eval_batch_size,
            num_labels=max(id2label) + 1,
            tolerance=ctx.tolerance,
        )


class TextClassification(_Classification):
    name = "text-classification"
    reproduces = (
        "loss (cross-entropy, Trainer batches); accuracy, precision/recall/F1 (averaging found: binary, "
        "micro, macro, weighted), Matthews correlation; single sentences and pairs"
    )
    kind = "sequence-classification"


class TokenClassification(_Classification):
    name = "token-classification"
    reproduces = (
        "loss (cross-entropy over first sub-tokens, Trainer batches); seqeval overall precision/recall/F1/"
        "accuracy"
    )
    kind = "token-classification"


def check_claims(
    card: Card,
    data: EvalData,
    output: EvalOutput,
    *,
    num_labels: int | None = None,
    batch_size: int | None = None,
    tolerance: float | None = None,
    dataset: str | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
) -> tuple[Reproduction, list[Finding]]:
    """Compare a card with a classification output that is already there (no model is loaded or run).

    The same comparison as ``verify --rerun``: :func:`claimed_metrics`, the classification task's
    scores at the card's ``eval_batch_size`` (else ``batch_size``, else the Trainer's default 8),
    :func:`compare`, then :func:`reproduction_findings`. ``num_labels`` defaults to the labels of
    ``data.id2name`` (else the largest label id seen, plus one); ``dataset`` (the name in messages)
    to ``data.name``.
    """
    from cardsmith.audit.engine import Policy
    from cardsmith.rerun.claims import (
        TOLERANCE,
        claimed_metrics,
        eval_batch_size,
        reproduce,
    )
    from cardsmith.rerun.data import TOKEN
    from cardsmith.rerun.findings import reproduction_findings

    if tolerance is None:
        tolerance = TOLERANCE
    if num_labels is None:
        if data.id2name:
            num_labels = max(data.id2name) + 1
        else:
            flat = [
                int(v) for v in (*output.predictions, *output.references) if not isinstance(v, (list, tuple))
            ]
            num_labels = max([1, *flat]) + 1
    eval_bs, _why = eval_batch_size(card, batch_size)
    claims = claimed_metrics(card)
    result = score_classification(
        output,
        claims,
        tag_names=data.id2name if data.task == TOKEN else None,
        eval_batch_size=eval_bs,
        num_labels=num_labels,
        tolerance=tolerance,
    )
    task = "token-classification" if data.task == TOKEN else "text-classification"
    reproduction, failures = reproduce(
        card, result, task=task, tolerance=tolerance, dataset=dataset or data.name, split=data.split
    )
    policy = Policy(card, select=select, ignore=ignore, config={})
    return reproduction, policy.apply(reproduction_findings(card, reproduction, failures), whole_audit=False)
