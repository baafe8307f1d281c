"""The one metric vocabulary: what a column or metric name means, wherever cardsmith reads one.

Cards name metrics as the Trainer logs them (``eval_overall_f1`` -> ``Overall F1``), as people type
them (``F1 Score``, ``Val Loss``) and as ``model-index`` types them (``f1``, ``wer``). This module
maps every such name to:

- :func:`norm_name`: a normal form (lower case, separators as spaces, no ``eval`` prefix);
- :func:`metric_kind`: its kind (``f1``, ``accuracy``, ``error_rate``...) with :data:`METRIC_KINDS`
  giving each kind's bounds and direction (:func:`kind_bounds`);
- :func:`column_role`: the role of a results-table column (training loss, validation loss, epoch,
  step, a metric, a pseudo-metric such as runtime or ``Gen Len``);
- :func:`canonical_metric`: the key of a metric the rerun recomputes (``loss``, ``accuracy``...), and
  :func:`is_claimed_metric`: whether a printed number is an evaluation claim at all.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

Role = Literal["train_loss", "val_loss", "epoch", "step", "metric", "pseudo", "train_metric"]

_PSEUDO_WORDS = (
    "runtime",
    "samples per second",
    "steps per second",
    "samples/s",
    "steps/s",
    "gen len",
    "genlen",
    "generation length",
    "model preparation time",
    "learning rate",
    "lr",
    "grad norm",
    "num tokens",
    "tokens",
    "flos",
    "time",
    "seconds",
    "memory",
)
VAL_LOSS_NAMES = {
    "validation loss",
    "val loss",
    "valid loss",
    "eval loss",
    "evaluation loss",
    "loss",
    "dev loss",
    "test loss",
    "validation_loss",
}
TRAIN_LOSS_NAMES = {"training loss", "train loss", "trainingloss", "train_loss"}

#: kind -> (lower bound, upper bound on the fraction scale or None, higher is better)
METRIC_KINDS: dict[str, tuple[float | None, float | None, bool | None]] = {
    "accuracy": (0.0, 1.0, True),
    "precision": (0.0, 1.0, True),
    "recall": (0.0, 1.0, True),
    "f1": (0.0, 1.0, True),
    "auc": (0.0, 1.0, True),
    "rouge": (0.0, 1.0, True),
    "bleu": (0.0, 1.0, True),
    "chrf": (0.0, 1.0, True),
    "meteor": (0.0, 1.0, True),
    "exact": (0.0, 1.0, True),
    "jaccard": (0.0, 1.0, True),
    "iou": (0.0, 1.0, True),
    "map": (0.0, 1.0, True),
    "correlation": (-1.0, 1.0, True),
    "error_rate": (0.0, None, False),
    "error": (0.0, None, False),
    "other": (None, None, None),
}


@lru_cache(maxsize=4096)
def norm_name(name: str) -> str:
    """``eval_overall_f1`` -> ``overall f1``; ``Validation-Loss`` -> ``validation loss``."""
    low = name.strip().strip("*_`").strip().lower()
    low = re.sub(r"[_\-]+", " ", low)
    low = re.sub(r"\s+", " ", low).strip()
    if low.startswith("eval ") and len(low) > 5:
        low = low[5:]
    return low


@lru_cache(maxsize=4096)
def metric_kind(name: str) -> str:
    """The kind of a metric from its name (``Overall F1`` -> ``f1``, ``Wer`` -> ``error_rate``)."""
    n = norm_name(name)
    words = set(re.split(r"[^a-z0-9]+", n))
    if "f1" in words or n.startswith("f1") or n.endswith("f1") or "f1score" in n.replace(" ", ""):
        return "f1"
    if "precision" in n:
        return "precision"
    if "recall" in n:
        return "recall"
    if "matthews" in n or "mcc" in words or "pearson" in n or "spearman" in n or "combined score" in n:
        return "correlation"
    if words & {"wer", "cer", "ter"} or "word error" in n or "character error" in n:
        return "error_rate"
    if words & {"mae", "mse", "rmse", "mape", "smape", "perplexity", "ppl"}:
        return "error"
    if "accuracy" in n or words & {"acc"}:
        return "accuracy"
    if "rouge" in n:
        return "rouge"
    if "bleu" in n:
        return "bleu"
    if "chr f" in n or "chrf" in n:
        return "chrf"
    if "meteor" in n:
        return "meteor"
    if "exact" in n or words & {"em"}:
        return "exact"
    if "auc" in words or "roc" in words:
        return "auc"
    if "jaccard" in n:
        return "jaccard"
    if words & {"iou", "miou"}:
        return "iou"
    if words & {"map"}:
        return "map"
    return "other"


@lru_cache(maxsize=4096)
def column_role(name: str, *, has_val_loss_column: bool) -> Role:
    """Role of a results-table column from its name."""
    n = norm_name(name)
    raw = name.strip().lower()
    if n in {"epoch", "epochs"}:
        return "epoch"
    if n in {"step", "steps", "global step"}:
        return "step"
    if n in TRAIN_LOSS_NAMES or raw in TRAIN_LOSS_NAMES:
        return "train_loss"
    if n in VAL_LOSS_NAMES or raw in VAL_LOSS_NAMES:
        if n == "loss" and has_val_loss_column:
            return "train_loss"
        return "val_loss"
    if any(word in n for word in _PSEUDO_WORDS if len(word) > 3) or n in {"lr", "time"}:
        return "pseudo"
    if n.startswith(("train ", "training ")):
        return "train_metric"
    return "metric"


def kind_bounds(kind: str, scale: str | None = None) -> tuple[float | None, float | None]:
    """The range of a metric kind, on the ``fraction`` scale or (``scale="percent"``) times 100."""
    lo, hi, _ = METRIC_KINDS.get(kind, (None, None, None))
    if scale == "percent" and hi is not None:
        return (lo * 100 if lo is not None else None), hi * 100
    return lo, hi


# --------------------------------------------------------------------------------------------------
# What the rerun recomputes
# --------------------------------------------------------------------------------------------------

#: Canonical metric keys cardsmith can recompute.
LOSS = "loss"
ACCURACY = "accuracy"
PRECISION = "precision"
RECALL = "recall"
F1 = "f1"
MCC = "matthews_correlation"
PRF = (PRECISION, RECALL, F1)
ROC_AUC = "roc_auc"
MSE = "mse"
RMSE = "rmse"
MAE = "mae"
R2 = "r2"
PEARSON = "pearson"
SPEARMAN = "spearmanr"
COMBINED_SCORE = "combined_score"
WER = "wer"
CER = "cer"
ROUGE1 = "rouge1"
ROUGE2 = "rouge2"
ROUGE_L = "rougeL"
ROUGE_LSUM = "rougeLsum"
BLEU = "bleu"
GEN_LEN = "gen_len"
EXACT_MATCH = "exact_match"
PERPLEXITY = "perplexity"
#: Averagings a metric name may state ("F1 Macro", "weighted precision", "Roc Auc Micro").
STATED_AVERAGINGS = ("micro", "macro", "weighted", "samples")
#: Error rates: printed as a fraction (which may pass 1) or a percent.
RATES = frozenset({WER, CER})
#: Recomputed metrics a card may print on the percent scale (``91.26`` for 0.9126).
PERCENTABLE = frozenset(
    {ACCURACY, PRECISION, RECALL, F1, ROC_AUC, WER, CER}
    | {f"{base}_{avg}" for base in (*PRF, ROC_AUC) for avg in STATED_AVERAGINGS}
)

_ALIASES: dict[str, str] = {
    "loss": LOSS,
    "validation loss": LOSS,
    "eval loss": LOSS,
    "evaluation loss": LOSS,
    "val loss": LOSS,
    "accuracy": ACCURACY,
    "acc": ACCURACY,
    "token accuracy": ACCURACY,
    "precision": PRECISION,
    "recall": RECALL,
    "f1": F1,
    "f1 score": F1,
    "f1-score": F1,
    "f-1": F1,
    "matthews correlation": MCC,
    "matthews corr": MCC,
    "matthews correlation coefficient": MCC,
    "mcc": MCC,
    "subset accuracy": ACCURACY,
    "roc auc": ROC_AUC,
    "roc-auc": ROC_AUC,
    "rocauc": ROC_AUC,
    "auc": ROC_AUC,
    "roc auc score": ROC_AUC,
    "mse": MSE,
    "mean squared error": MSE,
    "rmse": RMSE,
    "root mean squared error": RMSE,
    "mae": MAE,
    "mean absolute error": MAE,
    "r2": R2,
    "r2 score": R2,
    "r squared": R2,
    "r^2": R2,
    "pearson": PEARSON,
    "pearsonr": PEARSON,
    "pearson r": PEARSON,
    "pearson correlation": PEARSON,
    "spearman": SPEARMAN,
    "spearmanr": SPEARMAN,
    "spearman r": SPEARMAN,
    "spearman correlation": SPEARMAN,
    "combined score": COMBINED_SCORE,
    "wer": WER,
    "word error rate": WER,
    "cer": CER,
    "character error rate": CER,
    "rouge1": ROUGE1,
    "rouge 1": ROUGE1,
    "rouge-1": ROUGE1,
    "rouge-2": ROUGE2,
    "rouge-l": ROUGE_L,
    "rouge-lsum": ROUGE_LSUM,
    "rouge2": ROUGE2,
    "rouge 2": ROUGE2,
    "rougel": ROUGE_L,
    "rouge l": ROUGE_L,
    "rougelsum": ROUGE_LSUM,
    "rouge lsum": ROUGE_LSUM,
    "bleu": BLEU,
    "sacrebleu": BLEU,
    "gen len": GEN_LEN,
    "exact match": EXACT_MATCH,
    "exact": EXACT_MATCH,
    "em": EXACT_MATCH,
    "perplexity": PERPLEXITY,
    "ppl": PERPLEXITY,
}
_PREFIXES = ("eval ", "validation ", "test ", "overall ")


def canonical_metric(name: str) -> str | None:
    """The computed metric a card's metric name stands for; ``None`` when cardsmith cannot recompute it.

    ``"F1"``, ``"Overall F1"``, ``"eval_f1"`` -> ``"f1"``; ``"Loss"``, ``"Validation Loss"`` ->
    ``"loss"``; ``"Matthews Correlation"`` -> ``"matthews_correlation"``; ``"Runtime"`` -> ``None``.
    """
    low = re.sub(r"[\s_]+", " ", name.strip().lower()).strip(" :")
    if low in _ALIASES:
        return _ALIASES[low]
    for prefix in _PREFIXES:
        if low.startswith(prefix):
            rest = low[len(prefix) :]
            if rest in _ALIASES:
                return _ALIASES[rest]
            low = rest
            break
    words = low.split()
    for avg in STATED_AVERAGINGS:  # "F1 Macro", "macro f1", "Precision Samples", "Roc Auc Weighted"
        if avg in words:
            rest = " ".join(w for w in words if w not in (avg, "avg", "average", "averaged"))
            base = _ALIASES.get(rest)
            if base in (*PRF, ROC_AUC):
                return f"{base}_{avg}"
    return None


def qualified_metric(key: str) -> tuple[str, str | None]:
    """``"f1_macro"`` -> ``("f1", "macro")``; ``"f1"`` -> ``("f1", None)`` (a key of :func:`canonical_metric`)."""
    for avg in STATED_AVERAGINGS:
        if key.endswith("_" + avg):
            return key[: -len(avg) - 1], avg
    return key, None


#: Printed numbers that are not evaluation claims: progress, speed, sizes. (``Gen Len`` is one: the
#: seq2seq rerun reproduces it.)
NOT_METRICS = frozenset(
    {
        "training loss",
        "epoch",
        "step",
        "steps",
        "runtime",
        "samples per second",
        "steps per second",
        "model preparation time",
        "total flos",
        "learning rate",
        "grad norm",
    }
)


def is_claimed_metric(name: str) -> bool:
    """Whether a headline entry, column or model-index metric called ``name`` is an evaluation claim."""
    low = re.sub(r"[\s_]+", " ", name.strip().lower())
    for prefix in ("eval ", "validation ", "test "):
        low = low.removeprefix(prefix)
    return low not in NOT_METRICS
