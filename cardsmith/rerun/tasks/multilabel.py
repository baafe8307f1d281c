"""Multi-label classification: ``problem_type: multi_label_classification`` (sigmoid per label).

The loss is the model's ``BCEWithLogitsLoss`` (mean over the labels of each Trainer batch). The
metrics are what the multi-label recipes compute with scikit-learn from ``sigmoid(logits) >=
threshold``: F1/precision/recall under micro, macro, weighted or samples averaging, subset accuracy
(``accuracy_score`` on the label sets) and ROC AUC, either over the thresholded predictions (the
widely copied tutorial) or over the probabilities. Hidden settings, all found by search: the
threshold (0.5 first, then 0.05 to 0.95), the averaging, the ROC AUC input and averaging.

Labels come as a multi-hot list per example (``labels``: ``[0, 1, 1]``), as a list of label ids or
names per example (``[1, 2]``, go_emotions style), or as one 0/1 column per label named like the
model's ``id2label`` (jigsaw style).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from typing import Any

from cardsmith.card.metric_names import ACCURACY, F1, LOSS, PRECISION, PRF, RECALL, ROC_AUC, qualified_metric
from cardsmith.errors import DatasetError
from cardsmith.rerun.tasks.base import Task, TaskContext, TaskResult, search

AVERAGINGS = ("micro", "macro", "weighted", "samples")
#: Thresholds tried after 0.5, in this order.
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20) if k != 10)


def multi_hot(dataset: Any, config: dict[str, Any], label_column: str | None, where: str) -> tuple[Any, str]:
    """Every example's labels as a multi-hot float32 matrix over the model's labels; and where they came from."""
    import numpy as np

    from cardsmith.rerun.data import model_labels

    id2label, _ = model_labels(config)
    n_labels = max(id2label) + 1
    by_name = {name.strip().lower(): idx for idx, name in id2label.items()}
    names = list(dataset.column_names)
    column = label_column or next(
        (c for c in ("labels", "label", "label_ids", "targets") if c in names), None
    )
    if column is None:
        per_label = [c for c in names if c.strip().lower() in by_name]
        if len(per_label) == n_labels:
            matrix = np.zeros((len(dataset), n_labels), dtype=np.float32)
            for col in per_label:
                matrix[:, by_name[col.strip().lower()]] = np.asarray(dataset[col], dtype=np.float32)
            return matrix, f"one column per label ({', '.join(per_label)})"
        raise DatasetError(f"cannot tell the label column (columns: {', '.join(names)}); pass --label-column")
    if column not in names:
        raise DatasetError(f"no column {column!r} in the dataset (columns: {', '.join(names)})")
    rows = list(dataset[column])
    matrix = np.zeros((len(rows), n_labels), dtype=np.float32)
    dense = all(
        isinstance(r, (list, tuple)) and len(r) == n_labels and all(v in (0, 1) for v in r) for r in rows
    )
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)):
            raise DatasetError(f"{where}: example {i}: {column!r} is not a list of labels")
        if dense:
            matrix[i] = np.asarray(row, dtype=np.float32)
            continue
        for value in row:
            if isinstance(value, str) and value.strip().lower() in by_name:
                matrix[i, by_name[value.strip().lower()]] = 1.0
            elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n_labels:
                matrix[i, value] = 1.0
            else:
                raise DatasetError(f"{where}: example {i}: label {value!r} is not one of the model's labels")
    return matrix, f"{column!r} ({'multi-hot' if dense else 'label ids or names'})"


def _prf(y_true: Any, y_pred: Any, average: str) -> dict[str, float]:
    from sklearn.metrics import precision_recall_fscore_support

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
    return {PRECISION: float(p), RECALL: float(r), F1: float(f)}


def _roc_auc(y_true: Any, scores: Any, average: str) -> float:
    from sklearn.metrics import roc_auc_score

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(roc_auc_score(y_true, scores, average=average))
    except ValueError:  # a label that is always (or never) present
        return math.nan


def multilabel_scores(
    logits: Any, y_true: Any, claims: list[Any], tolerance: float
) -> tuple[dict[str, float], dict[str, Any]]:
    """Every claimed metric at the threshold and averaging that reproduce the card; and those settings."""
    import numpy as np
    import torch
    from sklearn.metrics import accuracy_score

    probs = torch.sigmoid(torch.as_tensor(logits, dtype=torch.float32)).numpy()
    keys = {c.key for c in claims if c.key is not None}

    def predicted(threshold: float) -> Any:
        y_pred = np.zeros(probs.shape)
        y_pred[np.where(probs >= threshold)] = 1
        return y_pred

    def at(threshold: float) -> Iterator[tuple[dict[str, Any], dict[str, float]]]:
        y_pred = predicted(threshold)
        base = {ACCURACY: float(accuracy_score(y_true, y_pred))}
        for key in keys:
            name, average = qualified_metric(key)
            if average in AVERAGINGS and name in PRF:
                base[key] = _prf(y_true, y_pred, average)[name]
        if not keys & set(PRF):
            yield {"threshold": threshold}, base
            return
        for average in AVERAGINGS:
            yield {"threshold": threshold, "averaging": average}, {**base, **_prf(y_true, y_pred, average)}

    def candidates() -> Iterator[tuple[dict[str, Any], dict[str, float]]]:
        yield from at(0.5)
        for threshold in THRESHOLDS:
            yield from at(threshold)

    thresholded = [c for c in claims if c.key in keys - {LOSS, ROC_AUC}]
    settings, values, _complete = search(thresholded, candidates(), tolerance)
    if not settings:
        settings = {"threshold": 0.5}
    roc_keys = [k for k in keys if qualified_metric(k)[0] == ROC_AUC]
    if roc_keys:
        y_pred = predicted(float(settings["threshold"]))

        def roc_candidates() -> Iterator[tuple[dict[str, Any], dict[str, float]]]:
            for source, scores in (("thresholded predictions", y_pred), ("probabilities", probs)):
                explicit = {
                    k: _roc_auc(y_true, scores, str(qualified_metric(k)[1]))
                    for k in roc_keys
                    if qualified_metric(k)[1] in AVERAGINGS
                }
                for average in AVERAGINGS:
                    yield (
                        {"roc_auc": f"{average} over {source}"},
                        {**explicit, ROC_AUC: _roc_auc(y_true, scores, average)},
                    )

        roc_claims = [c for c in claims if c.key in roc_keys]
        roc_settings, roc_values, _ = search(roc_claims, roc_candidates(), tolerance)
        settings.update(roc_settings)
        values.update(roc_values)
    return values, settings


class MultiLabelClassification(Task):
    name = "multi-label-classification"
    reproduces = (
        "loss (BCE with logits, Trainer batches); F1/precision/recall (micro, macro, weighted, samples), "
        "subset accuracy, ROC AUC (thresholded or probabilities); threshold found (0.5 first)"
    )

    def run(self, ctx: TaskContext) -> TaskResult:
        import numpy as np
        import torch

        from cardsmith.rerun.metrics import trainer_loss
        from cardsmith.rerun.tasks import common

        start = time.perf_counter()
        y_true, origin = multi_hot(ctx.dataset, ctx.config, ctx.columns.get("label"), ctx.source.name)
        texts = common.text_columns(ctx)
        device, _, batches = common.sequence_logits(ctx, texts)
        n, n_labels = y_true.shape
        logits_all = np.zeros((n, n_labels), dtype=np.float32)
        sums = [0.0] * n
        for batch, logits in batches:
            target = torch.as_tensor(y_true[batch], device=logits.device)
            losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
            row_sums = losses.double().sum(dim=1).cpu().tolist()
            logits_all[batch] = logits.cpu().numpy()
            for row, i in enumerate(batch):
                sums[i] = float(row_sums[row])
        values: dict[str, float] = {LOSS: trainer_loss(sums, [n_labels] * n, ctx.eval_batch_size)}
        scores, settings = multilabel_scores(logits_all, y_true, ctx.claims, ctx.tolerance)
        values.update(scores)
        settings["labels"] = origin
        return TaskResult(
            values=values,
            settings=settings,
            examples=n,
            device=str(device.type),
            seconds=time.perf_counter() - start,
            notes={LOSS: f"BCE with logits, Trainer batching, eval_batch_size {ctx.eval_batch_size}"},
        )
