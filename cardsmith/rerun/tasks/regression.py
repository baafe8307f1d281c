"""Text regression: a ``*ForSequenceClassification`` head with one output (``problem_type: regression``).

The loss is the model's ``MSELoss`` over each Trainer batch (float32 labels, as the data collator
makes them), regrouped into the Trainer's batches. The metrics are what the HF regression recipes
compute with scikit-learn and scipy from the squeezed predictions: MSE, RMSE, MAE, R2, Pearson and
Spearman correlation (STS-B's ``pearson``/``spearmanr``, the ``combined_score`` their mean).
"""

from __future__ import annotations

import math
from typing import Any

from cardsmith.card.metric_names import (
    COMBINED_SCORE,
    LOSS,
    MAE,
    MSE,
    PEARSON,
    R2,
    RMSE,
    SPEARMAN,
)
from cardsmith.errors import DatasetError
from cardsmith.rerun.tasks.base import Task, TaskContext, TaskResult


def regression_metrics(predictions: Any, references: Any, keys: set[str]) -> dict[str, float]:
    """The claimed regression metrics (float32 arrays, as the Trainer hands them to compute_metrics)."""
    import numpy as np

    preds = np.asarray(predictions, dtype=np.float32)
    refs = np.asarray(references, dtype=np.float32)
    out: dict[str, float] = {}
    if keys & {MSE, RMSE, MAE, R2}:
        from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

        mse = float(mean_squared_error(refs, preds))
        out[MSE] = mse
        out[RMSE] = math.sqrt(mse)
        out[MAE] = float(mean_absolute_error(refs, preds))
        out[R2] = float(r2_score(refs, preds))
    if keys & {PEARSON, SPEARMAN, COMBINED_SCORE}:
        from scipy.stats import pearsonr, spearmanr

        out[PEARSON] = float(pearsonr(preds, refs)[0])
        out[SPEARMAN] = float(spearmanr(preds, refs)[0])
        out[COMBINED_SCORE] = (out[PEARSON] + out[SPEARMAN]) / 2
    return out


def float_labels(values: list[Any], where: str) -> list[float]:
    out = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise DatasetError(f"{where}: example {i}: the label {value!r} is not a number")
        try:
            number = float(value)
        except ValueError:
            raise DatasetError(f"{where}: example {i}: the label {value!r} is not a number") from None
        if not math.isfinite(number):
            raise DatasetError(f"{where}: example {i}: the label is {value!r}")
        out.append(number)
    return out


class TextRegression(Task):
    name = "text-regression"
    reproduces = (
        "loss (MSE, Trainer batches); MSE, RMSE, MAE, R2 (scikit-learn), Pearson and Spearman (scipy), "
        "combined score; single sentences and pairs"
    )

    def run(self, ctx: TaskContext) -> TaskResult:
        import time

        import torch

        from cardsmith.rerun.data import SEQUENCE, detect_columns
        from cardsmith.rerun.metrics import trainer_loss
        from cardsmith.rerun.tasks import common

        start = time.perf_counter()
        texts, label = detect_columns(
            list(ctx.dataset.column_names),
            SEQUENCE,
            text_column=ctx.columns.get("text"),
            label_column=ctx.columns.get("label"),
        )
        refs = float_labels(list(ctx.dataset[label]), ctx.source.name)
        device, n, batches = common.sequence_logits(ctx, texts)
        preds = [0.0] * n
        sums = [0.0] * n
        for batch, logits in batches:
            out = logits[:, 0]
            target = torch.tensor([refs[i] for i in batch], dtype=torch.float32, device=out.device)
            errors = ((out - target) ** 2).double().cpu().tolist()
            values = out.cpu().tolist()
            for row, i in enumerate(batch):
                preds[i] = float(values[row])
                sums[i] = float(errors[row])
        values_out = {LOSS: trainer_loss(sums, [1] * n, ctx.eval_batch_size)}
        values_out.update(regression_metrics(preds, refs, ctx.keys))
        return TaskResult(
            values=values_out,
            settings={},
            examples=n,
            device=str(device.type),
            seconds=time.perf_counter() - start,
            notes={LOSS: f"MSE, Trainer batching, eval_batch_size {ctx.eval_batch_size}"},
        )
