"""Metrics exactly as ``evaluate``'s metric scripts compute them, without downloading the scripts.

* ``accuracy``, ``precision``, ``recall``, ``f1``, ``matthews_correlation``: ``evaluate``'s scripts
  are thin wrappers of scikit-learn (``accuracy_score``, ``precision_score(average=...)``, ...);
  cards never say which ``average`` was used, so every plausible one is computed (``binary`` when
  there are two labels, ``micro``, ``macro``, ``weighted``) and the comparison picks the one that
  reproduces the card.
* ``seqeval``: ``evaluate``'s script calls ``seqeval.metrics.classification_report(...,
  output_dict=True)`` and reports its ``micro avg`` row as ``overall_precision/recall/f1`` and
  ``seqeval.metrics.accuracy_score`` as ``overall_accuracy`` (token accuracy); so does this module.

Also: the mapping from the names cards print ("F1", "Overall F1", "Matthews Correlation", "Loss",
"Validation Loss", "eval_accuracy") to the computed metrics.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from cardsmith.card.metric_names import ACCURACY, F1, MCC, PRECISION, RECALL

#: Averagings tried for precision/recall/F1, in order of preference when several reproduce a card.
AVERAGINGS: tuple[str, ...] = ("binary", "micro", "macro", "weighted")


def classification_metrics(
    predictions: Sequence[int], references: Sequence[int], num_labels: int
) -> dict[str, Any]:
    """accuracy, matthews_correlation, and precision/recall/F1 under every plausible averaging.

    Returns ``{"accuracy": float, "matthews_correlation": float, "precision": {avg: float}, ...}``
    with the averagings of :data:`AVERAGINGS` (``binary`` only with two labels).
    """
    from sklearn.metrics import accuracy_score, matthews_corrcoef, precision_recall_fscore_support

    preds = [int(p) for p in predictions]
    refs = [int(r) for r in references]
    out: dict[str, Any] = {
        ACCURACY: float(accuracy_score(refs, preds)),
        MCC: float(matthews_corrcoef(refs, preds)),
        PRECISION: {},
        RECALL: {},
        F1: {},
    }
    for average in AVERAGINGS:
        if average == "binary" and num_labels != 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                # zero_division=0 gives the values of evaluate's default "warn", without the warning
                p, r, f, _ = precision_recall_fscore_support(
                    refs, preds, average=average, pos_label=1, zero_division=0
                )
            except ValueError:  # e.g. binary averaging over labels other than {0, 1}
                continue
        out[PRECISION][average] = float(p)
        out[RECALL][average] = float(r)
        out[F1][average] = float(f)
    return out


def seqeval_metrics(predictions: list[list[str]], references: list[list[str]]) -> dict[str, float]:
    """``evaluate.load("seqeval")``'s ``overall_*`` numbers (default mode, scheme and suffix).

    Returns ``{"precision", "recall", "f1", "accuracy"}`` = ``overall_precision``, ... .
    """
    from seqeval.metrics import accuracy_score, classification_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(
            y_true=references, y_pred=predictions, output_dict=True, zero_division="warn"
        )
    overall = report["micro avg"]
    return {
        PRECISION: float(overall["precision"]),
        RECALL: float(overall["recall"]),
        F1: float(overall["f1-score"]),
        ACCURACY: float(accuracy_score(y_true=references, y_pred=predictions)),
    }


def trainer_loss(sums: Sequence[float], counts: Sequence[float], eval_batch_size: int) -> float:
    """The evaluation loss exactly as ``Trainer.evaluate`` reports it, from per-example loss terms.

    ``sums[i]`` is example *i*'s summed loss (its token losses for token classification, its loss
    for sequence classification) and ``counts[i]`` the number of terms (tokens with a label; 1).
    The Trainer runs the examples in dataset order in batches of ``eval_batch_size``; each batch's
    loss is the mean over its terms; it gathers ``loss.repeat(batch_size)`` per batch (the last,
    partial batch truncated to its size by ``gather_for_metrics``), drops non-finite values (a batch
    without any labelled token), and takes the mean: a batch-size-weighted mean of batch means.
    """
    import math

    if eval_batch_size < 1:
        raise ValueError("eval_batch_size must be at least 1")
    total = 0.0
    weight = 0
    n = len(sums)
    for start in range(0, n, eval_batch_size):
        stop = min(start + eval_batch_size, n)
        s = math.fsum(float(x) for x in sums[start:stop])
        c = math.fsum(float(x) for x in counts[start:stop])
        if c <= 0 or not math.isfinite(s):
            continue
        total += (stop - start) * (s / c)
        weight += stop - start
    return total / weight if weight else math.nan


def accuracy(predictions: Sequence[Any], references: Sequence[Any]) -> float:
    """``sklearn.metrics.accuracy_score`` for single labels: the share of hits (exactly its value)."""
    if not references:
        return float("nan")
    hits = sum(int(p) == int(r) for p, r in zip(predictions, references))
    return hits / len(references)
