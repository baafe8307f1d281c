"""Text-generation and span metrics as ``evaluate``'s metric scripts compute them, without the Hub.

* ``rouge`` (``rouge_score``): ``evaluate.load("rouge")`` scores every pair with
  ``RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=...)`` and, by default
  (``use_aggregator=True``), reports the *median of 1000 bootstrap resamples* of the mean
  (``BootstrapAggregator().aggregate()[key].mid.fmeasure``), drawn from numpy's global generator.
  That median is random; but ``Trainer`` seeds numpy (``set_seed(args.seed)``) at the start of
  training and nothing else in a standard run draws from it, so the n-th evaluation's medians are
  replayed exactly from the seed (:func:`rouge_bootstrap_replay`). When no replay reproduces a card,
  :func:`rouge_bootstrap_band` gives the spread of that median over generator states: a sampling
  error, stated as such. ``use_aggregator=False`` plus a plain mean is :func:`rouge_mean`.
* ``rougeLsum`` splits on newlines: the recipes put each sentence on its own line with
  ``nltk.sent_tokenize``; when nltk's trained Punkt model is absent, Punkt's untrained splitter.
* ``sacrebleu``: ``sacrebleu.corpus_bleu(predictions, transposed references)`` (score 0-100);
  ``bleu``: the same corpus BLEU on the 0-1 scale.
* ``squad`` / ``squad_v2``: the official normalisation (lowercase, no punctuation, no articles,
  single spaces), exact match and token F1, max over gold answers, in percent.
* ``wer`` / ``cer``: ``jiwer`` over the whole corpus.
"""

from __future__ import annotations

import collections
import functools
import re
import string
from collections.abc import Callable, Sequence
from typing import Any

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
#: ``rouge_score.scoring.BootstrapAggregator`` defaults.
BOOTSTRAP_SAMPLES = 1000


@functools.lru_cache(maxsize=1)
def sentence_splitter() -> tuple[Callable[[str], list[str]], str]:
    """``nltk.sent_tokenize`` when its Punkt model is installed, else Punkt's untrained splitter."""
    try:
        import nltk

        nltk.sent_tokenize("A test. Another one.")
        return nltk.sent_tokenize, "nltk.sent_tokenize"
    except Exception:  # noqa: BLE001 - no punkt data (offline): the untrained splitter
        from nltk.tokenize.punkt import PunktSentenceTokenizer

        return PunktSentenceTokenizer().tokenize, "punkt (untrained)"


def rouge_rows(
    predictions: Sequence[str], references: Sequence[str], *, stem: bool, split_sentences: bool
) -> list[dict[str, Any]]:
    """Per-pair ``rouge_score`` scores (``Score(precision, recall, fmeasure)`` per rouge type)."""
    from rouge_score import rouge_scorer

    preds = [p.strip() for p in predictions]
    refs = [r.strip() for r in references]
    if split_sentences:
        split, _ = sentence_splitter()
        preds = ["\n".join(split(p)) for p in preds]
        refs = ["\n".join(split(r)) for r in refs]
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=stem)
    return [scorer.score(r, p) for r, p in zip(refs, preds)]


def rouge_mean(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The plain mean of the f-measures (``use_aggregator=False`` then ``np.mean``)."""
    import math

    return {k: math.fsum(row[k].fmeasure for row in rows) / len(rows) for k in ROUGE_TYPES} if rows else {}


def rouge_bootstrap_replay(
    rows: Sequence[dict[str, Any]], *, seed: int, evaluations: int
) -> list[dict[str, float]]:
    """``evaluate``'s bootstrap medians for the 1st..``evaluations``-th evaluation after ``set_seed(seed)``.

    ``BootstrapAggregator`` draws, for each rouge type in turn, 1000 times
    ``np.random.choice(n, size=n)`` (legacy ``RandomState.randint(0, n, size=n)``: the same stream
    as one ``randint(0, n, size=(1000, n))``) and takes the 50th percentile of the resampled means
    of the (precision, recall, fmeasure) rows. The numpy global state is restored afterwards.
    """
    import numpy as np

    n = len(rows)
    if n == 0:
        return []
    matrices = {k: np.array([tuple(row[k]) for row in rows], dtype=float) for k in ROUGE_TYPES}
    rng = np.random.RandomState(seed)  # what np.random.seed(seed) makes of the global generator
    out: list[dict[str, float]] = []
    for _ in range(max(evaluations, 0)):
        draws = rng.randint(0, n, size=(len(ROUGE_TYPES), BOOTSTRAP_SAMPLES, n))
        mids: dict[str, float] = {}
        for t, key in enumerate(ROUGE_TYPES):
            sample_means = matrices[key][draws[t]].mean(axis=1)  # (1000, 3)
            mids[key] = float(np.percentile(sample_means, 50, axis=0)[2])
        out.append(mids)
    return out


def rouge_bootstrap_band(
    rows: Sequence[dict[str, Any]], *, draws: int = 64, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """The range of the bootstrap median over ``draws`` generator states, per rouge type."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(rows)
    out: dict[str, tuple[float, float]] = {}
    for key in ROUGE_TYPES:
        values = np.array([row[key].fmeasure for row in rows], dtype=float)
        mids = [
            float(np.percentile(values[rng.integers(0, n, size=(BOOTSTRAP_SAMPLES, n))].mean(axis=1), 50))
            for _ in range(draws)
        ]
        out[key] = (min(mids), max(mids))
    return out


def sacrebleu_score(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """``evaluate.load("sacrebleu").compute(...)["score"]``: corpus BLEU, 13a tokens, exp smoothing."""
    import sacrebleu

    per = {len(r) for r in references}
    if len(per) != 1:
        raise ValueError("sacrebleu needs the same number of references for every prediction")
    k = per.pop()
    transposed = [[refs[i] for refs in references] for i in range(k)]
    return float(sacrebleu.corpus_bleu(list(predictions), transposed, smooth_method="exp").score)


# --------------------------------------------------------------------------------------------------
# SQuAD (v1.1 and v2.0 official evaluation scripts)
# --------------------------------------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and the articles a/an/the, collapse whitespace (SQuAD v1/v2)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def squad_f1(prediction: str, gold: str) -> float:
    pred_tokens = _tokens(prediction)
    gold_tokens = _tokens(gold)
    if not pred_tokens or not gold_tokens:  # v2: both empty is a match, one empty is not
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: Sequence[str], golds: Sequence[Sequence[str]], *, v2: bool) -> dict[str, float]:
    """``exact_match``/``f1`` (v1, percent) or ``exact``/``f1`` (v2, percent; no gold means "").

    v1 skips nothing: every question has gold answers. v2 treats a question without gold answers as
    having the gold answer "" (only an empty prediction scores).
    """
    import math

    exact: list[float] = []
    f1: list[float] = []
    for pred, answers in zip(predictions, golds):
        gold = [a for a in answers if normalize_answer(a)] if v2 else list(answers)
        if not gold:
            gold = [""]
        exact.append(max(float(normalize_answer(pred) == normalize_answer(g)) for g in gold))
        f1.append(max(squad_f1(pred, g) for g in gold))
    n = len(exact)
    em = 100.0 * math.fsum(exact) / n if n else math.nan
    f = 100.0 * math.fsum(f1) / n if n else math.nan
    return {"exact": em, "exact_match": em, "f1": f}


# --------------------------------------------------------------------------------------------------
# Speech: WER / CER
# --------------------------------------------------------------------------------------------------


def wer_cer(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus WER and CER as ``evaluate``'s ``wer``/``cer`` scripts compute them with jiwer."""
    import jiwer

    pairs = [(r, p) for r, p in zip(references, predictions)]
    refs = [r for r, _ in pairs]
    preds = [p for _, p in pairs]
    return {"wer": float(jiwer.wer(refs, preds)), "cer": float(jiwer.cer(refs, preds))}


def whisper_normalizer() -> Callable[[str], str]:
    """transformers' ``BasicTextNormalizer`` (the Whisper fine-tuning recipes' normaliser)."""
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer

    return BasicTextNormalizer()
