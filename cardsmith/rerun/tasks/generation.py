"""Sequence-to-sequence reruns: the encoding, the generation and the loss of ``Seq2SeqTrainer``.

What the HF recipes (``run_summarization.py``, ``run_translation.py``, the summarization and
translation notebooks, the Whisper fine-tuning blog) do, and what is reproduced here:

* inputs: ``tokenizer(prefix + source, max_length=1024, truncation=True)``; labels:
  ``tokenizer(text_target=target, max_length=128, truncation=True)``, padded with -100 by
  ``DataCollatorForSeq2Seq``;
* predictions: ``model.generate`` with the checkpoint's ``generation_config.json`` (what
  ``Seq2SeqTrainer(predict_with_generate=True)`` uses when the run set no ``generation_max_length``
  or ``generation_num_beams``);
* the loss: the model's own mean over the label tokens of each batch, then the *plain* mean of
  those batch means: ``Seq2SeqTrainer.evaluate`` gathers the repeated batch losses with
  ``accelerator.gather`` (not ``gather_for_metrics``), so a short last batch weighs as much as a
  full one (transformers 5.x, ``trainer_seq2seq.py``);
* ``Gen Len``: the mean count of generated tokens that are not the pad token (the decoder start
  token counts when it is not the pad token, as in BART).

Speed comes from what ``Seq2SeqTrainer.evaluate`` does not do: examples are sorted by length and
batched with dynamic padding, batches are larger than the training run's ``eval_batch_size``, the
loss forward pass and ``generate`` share the padded batch, and everything runs under
``torch.inference_mode``. The loss is still regrouped into the Trainer's batches afterwards, from
each example's summed token losses and token counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cardsmith.card.metric_names import (
    BLEU,
    GEN_LEN,
    LOSS,
    ROUGE1,
    ROUGE2,
    ROUGE_L,
    ROUGE_LSUM,
    canonical_metric,
)

#: ``run_summarization.py`` / ``run_translation.py`` defaults.
MAX_SOURCE_LENGTH = 1024
MAX_TARGET_LENGTH = 128


@dataclass
class Seq2SeqOutput:
    """Per-example results in dataset order: generated ids and the loss terms of the labels."""

    generated: list[list[int]]
    loss_sums: list[float]
    loss_counts: list[int]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def encode_pairs(
    tokenizer: Any,
    sources: Sequence[str],
    targets: Sequence[str] | None,
    *,
    prefix: str = "",
    max_source_length: int = MAX_SOURCE_LENGTH,
    max_target_length: int = MAX_TARGET_LENGTH,
) -> tuple[list[list[int]], list[list[int]] | None]:
    """Input ids of ``prefix + source`` and label ids of ``target``, as the recipes tokenize them."""
    enc = tokenizer([prefix + str(s) for s in sources], max_length=max_source_length, truncation=True)
    if targets is None:
        return list(enc["input_ids"]), None
    lab = tokenizer(text_target=[str(t) for t in targets], max_length=max_target_length, truncation=True)
    return list(enc["input_ids"]), list(lab["input_ids"])


def _pad(rows: Sequence[Sequence[int]], value: int) -> tuple[Any, Any]:
    import torch

    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), int(value), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
    return out, mask


def label_loss_terms(logits: Any, labels: Any) -> tuple[list[float], list[int]]:
    """Each row's summed cross-entropy over its labels that are not -100, and how many there are."""
    import torch

    flat = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="none"
    ).reshape(labels.shape)
    valid = labels.ne(-100)
    sums = (flat.double() * valid).sum(dim=1).cpu().tolist()
    counts = valid.sum(dim=1).cpu().tolist()
    return [float(s) for s in sums], [int(c) for c in counts]


def run_seq2seq(
    model: Any,
    inputs: Sequence[Any],
    labels: Sequence[Sequence[int]] | None,
    *,
    pad_id: int,
    batch_size: int,
    device: Any,
    generation_kwargs: dict[str, Any] | None = None,
    generate: bool = True,
    input_name: str = "input_ids",
    lengths: Sequence[int] | None = None,
    collate: Callable[[list[Any]], dict[str, Any]] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Seq2SeqOutput:
    """Generate for every example and sum its label losses, in length-sorted batches.

    ``inputs`` are token id lists (or, with ``collate``, anything ``collate`` turns into the model's
    keyword inputs, e.g. Whisper's log-mel features). ``labels`` are the target ids (no -100).
    """
    import torch

    start = time.perf_counter()
    n = len(inputs)
    sizes = list(lengths) if lengths is not None else [len(x) for x in inputs]
    order = sorted(range(n), key=lambda i: sizes[i], reverse=True)
    generated: list[list[int]] = [[] for _ in range(n)]
    sums = [0.0] * n
    counts = [0] * n
    kwargs = dict(generation_kwargs or {})
    with torch.inference_mode():
        for begin in range(0, n, batch_size):
            batch = order[begin : begin + batch_size]
            if collate is not None:
                model_inputs = {k: v.to(device) for k, v in collate([inputs[i] for i in batch]).items()}
            else:
                ids, mask = _pad([inputs[i] for i in batch], pad_id)
                model_inputs = {input_name: ids.to(device), "attention_mask": mask.to(device)}
            if labels is not None:
                lab, _ = _pad([labels[i] for i in batch], -100)
                lab = lab.to(device)
                logits = model(**model_inputs, labels=lab).logits
                row_sums, row_counts = label_loss_terms(logits, lab)
                for row, i in enumerate(batch):
                    sums[i] = row_sums[row]
                    counts[i] = row_counts[row]
            if generate:
                out = model.generate(**model_inputs, **kwargs)
                sequences = out.sequences if hasattr(out, "sequences") else out
                for row, i in enumerate(batch):
                    generated[i] = [int(t) for t in sequences[row].tolist()]
            if on_batch is not None:
                on_batch(len(batch))
    return Seq2SeqOutput(
        generated=generated, loss_sums=sums, loss_counts=counts, seconds=time.perf_counter() - start
    )


def seq2seq_trainer_loss(sums: Sequence[float], counts: Sequence[float], eval_batch_size: int) -> float:
    """``Seq2SeqTrainer.evaluate``'s loss from per-example loss terms, in dataset order.

    Each batch of ``eval_batch_size`` examples has the model's mean over its label tokens; the
    reported loss is the plain mean of the batch means (the last, short batch weighs as a full one).
    """
    if eval_batch_size < 1:
        raise ValueError("eval_batch_size must be at least 1")
    means: list[float] = []
    for start in range(0, len(sums), eval_batch_size):
        c = math.fsum(float(x) for x in counts[start : start + eval_batch_size])
        s = math.fsum(float(x) for x in sums[start : start + eval_batch_size])
        if c > 0 and math.isfinite(s):
            means.append(s / c)
    return math.fsum(means) / len(means) if means else math.nan


def generated_lengths(generated: Sequence[Sequence[int]], pad_id: int | None) -> list[int]:
    """``np.count_nonzero(pred != pad_token_id)`` per prediction, as the recipes compute ``gen_len``."""
    return [sum(1 for t in row if t != pad_id) for row in generated]


def generation_candidates(
    generation_config: Any, *, task: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The generation settings to try, most likely first: (kwargs for ``generate``, settings to report).

    First the checkpoint's ``generation_config.json`` (``Seq2SeqTrainer``'s default), then the
    recipes' evaluation settings: ``max_length=128`` (``val_max_target_length``), and with beam
    search (``num_beams=4``, the summarization notebook's and many model cards' setting).
    """
    max_length = getattr(generation_config, "max_length", None)
    beams = getattr(generation_config, "num_beams", None) or 1
    base = {"max_length": max_length, "num_beams": beams, "source": "generation_config.json"}
    # Passed explicitly: when generation_config.json does not set max_length, generate() would add the
    # decoder start token to the default (20 -> 21 tokens), while Seq2SeqTrainer fills the defaults
    # into the model's generation config after its first batch and generates at 20 from then on.
    first = {"max_length": max_length} if isinstance(max_length, int) else {}
    out: list[tuple[dict[str, Any], dict[str, Any]]] = [(first, base)]
    if task != "automatic-speech-recognition":
        if max_length != MAX_TARGET_LENGTH:
            out.append(
                (
                    {"max_length": MAX_TARGET_LENGTH},
                    {"max_length": MAX_TARGET_LENGTH, "num_beams": beams, "source": "recipe"},
                )
            )
        if beams != 4:
            out.append(
                (
                    {"max_length": MAX_TARGET_LENGTH, "num_beams": 4},
                    {"max_length": MAX_TARGET_LENGTH, "num_beams": 4, "source": "recipe"},
                )
            )
    return out


def source_prefixes(config: dict[str, Any], task: str, *, rouge: bool = False) -> list[str]:
    """Input prefixes to try, most likely first.

    The config's ``task_specific_params`` summarization prefix and T5's recipe prefix
    ``"summarize: "`` (T5-family models) when the task is summarization, or text2text scored with
    ROUGE; then no prefix (``run_translation``'s default).
    """
    summarizing = task == "summarization" or (task == "text2text-generation" and rouge)
    out: list[str] = []
    params = config.get("task_specific_params")
    if summarizing and isinstance(params, dict) and isinstance(params.get("summarization"), dict):
        prefix = params["summarization"].get("prefix")
        if isinstance(prefix, str):
            out.append(prefix)
    t5 = str(config.get("model_type", "")).lower() in ("t5", "mt5", "umt5", "longt5")
    if t5 and summarizing:
        out.append("summarize: ")
    out.append("")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------------------------------
# Finding the settings that reproduce a card
# --------------------------------------------------------------------------------------------------

#: Card metric names (lower case, ``_`` as space) -> the computed metric.
#: What a sequence-to-sequence rerun recomputes (keys of :func:`cardsmith.card.metric_names.canonical_metric`).
SEQ2SEQ_METRICS = frozenset({LOSS, ROUGE1, ROUGE2, ROUGE_L, ROUGE_LSUM, BLEU, GEN_LEN})


@dataclass
class Claim:
    """A number the card claims: the value as printed and its rounding half-unit (``0.5e-4`` for 4 decimals)."""

    value: float
    half_ulp: float


@dataclass
class Reproduced:
    """One reproduced metric on the card's scale, whether it matches, and how it was computed."""

    value: float
    match: bool
    note: str = ""
    #: Set when the match holds only within a band, not the printed rounding (masked LM's random
    #: masking: "sampling error (3 sd over the masking seeds)"); such a number is no proof to record.
    within: str | None = None


@dataclass
class SearchResult:
    metrics: dict[str, Reproduced]
    settings: dict[str, Any]
    notes: list[str]
    examples: int
    seconds: float


def claim_agrees(claim: Claim, value: float, tolerance: float) -> bool:
    return math.isfinite(value) and abs(claim.value - value) <= claim.half_ulp + tolerance


def _scales(claim: Claim) -> tuple[float, ...]:
    """A score printed above 1 is on the percent scale; one at or below 1 may be either."""
    return (100.0,) if claim.value > 1.0 + claim.half_ulp else (1.0, 100.0)


def score_rouge(
    predictions: Sequence[str],
    references: Sequence[str],
    claims: dict[str, Claim],
    *,
    seed: int,
    evaluations: int,
    tolerance: float,
) -> tuple[dict[str, Reproduced], dict[str, Any]]:
    """Every ROUGE variant the recipes produce, against the claimed rouge numbers; the best is returned.

    Variants: stemming on/off, sentences on their own lines or not, evaluate's bootstrap median
    replayed after ``set_seed(seed)`` for each of the run's ``evaluations``, or the plain mean. When
    no exact variant matches, the bootstrap median's spread is used (stated as a sampling error).
    """
    from cardsmith.rerun.tasks import text_scores as ts

    wanted = [k for k in ts.ROUGE_TYPES if k in claims]
    best: tuple[int, dict[str, Reproduced], dict[str, Any]] | None = None
    splitter = ts.sentence_splitter()[1]
    for stem in (True, False):
        for split in (True, False):
            rows = ts.rouge_rows(predictions, references, stem=stem, split_sentences=split)
            if not rows:
                continue
            # evaluate's default (the bootstrap median) first: when the plain mean also rounds to the
            # card's numbers, the replayed median is what the run computed
            variants: list[tuple[str, dict[str, float]]] = [
                (f"bootstrap median, numpy seed {seed}, evaluation {k + 1}", mids)
                for k, mids in enumerate(ts.rouge_bootstrap_replay(rows, seed=seed, evaluations=evaluations))
            ]
            variants.append(("mean", ts.rouge_mean(rows)))
            for scale in sorted({s for key in wanted for s in _scales(claims[key])}) or [1.0]:
                for aggregation, values in variants:
                    out = {
                        k: Reproduced(
                            values[k] * scale, claim_agrees(claims[k], values[k] * scale, tolerance)
                        )
                        for k in wanted
                    }
                    hits = sum(r.match for r in out.values())
                    settings = {
                        "rouge_stemming": stem,
                        "rouge_aggregation": aggregation,
                        "rougeLsum_sentences": splitter if split else "none",
                        "rouge_scale": "percent" if scale == 100.0 else "fraction",
                    }
                    if best is None or hits > best[0]:
                        best = (hits, out, settings)
                    if hits == len(wanted):
                        return out, settings
    if best is None:
        return {}, {}
    # No exact variant: compare with the spread of evaluate's bootstrap median (a sampling error).
    hits, out, settings = best
    rows = ts.rouge_rows(
        predictions,
        references,
        stem=settings["rouge_stemming"],
        split_sentences=settings["rougeLsum_sentences"] != "none",
    )
    band = ts.rouge_bootstrap_band(rows)
    scale = 100.0 if settings["rouge_scale"] == "percent" else 1.0
    band_out: dict[str, Reproduced] = {}
    for key in wanted:
        low, high = band[key][0] * scale, band[key][1] * scale
        claim = claims[key]
        inside = low - claim.half_ulp - tolerance <= claim.value <= high + claim.half_ulp + tolerance
        mean = ts.rouge_mean(rows)[key] * scale
        band_out[key] = Reproduced(mean, inside, f"bootstrap median between {low:.4f} and {high:.4f}")
    if sum(r.match for r in band_out.values()) > hits:
        settings = {
            **settings,
            "rouge_aggregation": "bootstrap median (sampling error: its spread over 64 draws)",
        }
        return band_out, settings
    return out, settings


def reproduce_seq2seq(
    model: Any,
    tokenizer: Any,
    config: dict[str, Any],
    sources: Sequence[str],
    targets: Sequence[str],
    claims: dict[str, Claim],
    *,
    task: str,
    eval_batch_size: int,
    seed: int = 42,
    evaluations: int = 1,
    device: Any = "cpu",
    batch_size: int = 64,
    tolerance: float = 5e-5,
) -> SearchResult:
    """Rerun a seq2seq checkpoint under the recipes' settings until one reproduces every claim.

    ``claims`` maps computed names (``loss``, ``rouge1``... ``bleu``, ``gen_len``) to the card's
    numbers. Settings are tried most likely first (source prefix, then generation settings); the first
    that reproduces everything wins, else the one that reproduces most.
    """
    from cardsmith.rerun.tasks import text_scores as ts

    start = time.perf_counter()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.get("pad_token_id", 0)
    best: tuple[int, dict[str, Reproduced], dict[str, Any]] | None = None
    notes: list[str] = []
    wanted = [k for k in claims if k != "loss"]
    rouge = any(k.startswith("rouge") for k in claims)
    for prefix in source_prefixes(config, task, rouge=rouge):
        ids, labels = encode_pairs(tokenizer, sources, targets, prefix=prefix)
        loss_value: float | None = None
        for gen_kwargs, gen_settings in generation_candidates(model.generation_config, task=task):
            need_generation = bool(wanted)
            out = run_seq2seq(
                model,
                ids,
                labels if loss_value is None else None,
                pad_id=pad_id,
                batch_size=batch_size,
                device=device,
                generation_kwargs=gen_kwargs,
                generate=need_generation,
            )
            if loss_value is None:
                loss_value = seq2seq_trainer_loss(out.loss_sums, out.loss_counts, eval_batch_size)
            results: dict[str, Reproduced] = {}
            settings: dict[str, Any] = {
                "source_prefix": prefix,
                "eval_batch_size": eval_batch_size,
                "loss_batches": "plain mean of batch means (Seq2SeqTrainer)",
            }
            if "loss" in claims:
                results["loss"] = Reproduced(loss_value, claim_agrees(claims["loss"], loss_value, tolerance))
            if need_generation:
                settings["generation"] = gen_settings
                preds = tokenizer.batch_decode(out.generated, skip_special_tokens=True)
                refs = [str(t) for t in targets]
                if "gen_len" in claims:
                    lengths = generated_lengths(out.generated, pad_id)
                    value = math.fsum(lengths) / len(lengths)
                    results["gen_len"] = Reproduced(value, claim_agrees(claims["gen_len"], value, tolerance))
                if "bleu" in claims:
                    bleu = ts.sacrebleu_score([p.strip() for p in preds], [[r.strip()] for r in refs])
                    scale_ok = [s for s in (1.0, 0.01) if claim_agrees(claims["bleu"], bleu * s, tolerance)]
                    value = bleu * (scale_ok[0] if scale_ok else (0.01 if claims["bleu"].value <= 1 else 1.0))
                    results["bleu"] = Reproduced(value, bool(scale_ok))
                    settings["bleu"] = "sacrebleu corpus_bleu (13a, exp smoothing)" + (
                        ", fraction scale" if scale_ok and scale_ok[0] == 0.01 else ""
                    )
                if any(k in claims for k in ts.ROUGE_TYPES):
                    rouge, rouge_settings = score_rouge(
                        preds, refs, claims, seed=seed, evaluations=evaluations, tolerance=tolerance
                    )
                    results.update(rouge)
                    settings.update(rouge_settings)
            hits = sum(r.match for r in results.values())
            if best is None or hits > best[0]:
                best = (hits, results, settings)
            if hits == len(claims) or not need_generation:
                break
        if best is not None and best[0] == len(claims):
            break
    assert best is not None
    return SearchResult(
        metrics=best[1],
        settings=best[2],
        notes=notes,
        examples=len(sources),
        seconds=time.perf_counter() - start,
    )


def card_claims(headline: Sequence[tuple[str, Any]], keys: frozenset[str]) -> dict[str, Claim]:
    """The claims a task can recompute, from the card's printed ``(name, Cell)`` pairs: each name read
    with the one metric vocabulary (:func:`~cardsmith.card.metric_names.canonical_metric`) and kept
    when the task computes it (``keys``); a cell without a number is skipped."""
    out: dict[str, Claim] = {}
    for name, cell in headline:
        value = getattr(cell, "value", None)
        key = canonical_metric(str(name))
        if value is not None and key in keys:
            out[key] = Claim(float(value), float(getattr(cell, "half_ulp", 0.0)))
    return out
