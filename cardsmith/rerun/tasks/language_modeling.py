"""Causal and masked language-model reruns, as ``run_clm.py`` / ``run_mlm.py`` and the notebooks evaluate.

Causal LM (``*ForCausalLM``):

* the evaluation split's texts are tokenized one by one, concatenated and cut into blocks of
  ``block_size`` tokens, the remainder dropped (``group_texts``); ``labels`` = ``input_ids``;
* ``block_size`` is a hidden setting: the recipe values 128, 256, 512, 1024 and the model's
  maximum are tried, ``run_clm``'s default (``min(1024, tokenizer.model_max_length)``) first;
* the loss: transformers 5.x's ``Trainer`` passes ``num_items_in_batch`` to the model, counted over
  *all* labels that are not -100 (``_loss_shifts_labels`` is off for GPT-2 & co: the model's
  ``loss_type`` is not set when the Trainer looks), while the head sums the cross-entropy over the
  *shifted* labels only: each batch's loss is sum(shifted token losses) / (batch x block_size).
  The plain shifted mean (older Trainers, ``evaluate`` outside the Trainer) is tried second. Batches
  are then weighted by their size (``gather_for_metrics``), as for any plain ``Trainer``;
* ``accuracy``: ``run_clm``'s next-token accuracy, ``perplexity``: ``exp(loss)``.

Masked LM (``*ForMaskedLM``): ``DataCollatorForLanguageModeling`` masks 15% of the tokens at random
at evaluation time, so the card's loss and accuracy are one draw. They are compared with the mean
over several masking seeds, within the stated sampling error (3 standard deviations of the seeds'
values, at least the printed rounding): a reproduction "within sampling error", never exact.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Sequence
from typing import Any

from cardsmith.rerun.tasks.generation import Claim, Reproduced, SearchResult, claim_agrees

RECIPE_BLOCK_SIZES = (128, 256, 512, 1024)
#: Masking seeds for a masked-LM rerun.
MLM_SEEDS = 8
#: A masked-LM claim matches within this many standard deviations of the seeds' values.
MLM_SIGMAS = 3.0
#: The band a masked-LM number is compared within (its masking is random).
MLM_WITHIN = f"sampling error ({MLM_SIGMAS:g} sd over the masking seeds)"


def group_texts(token_lists: Sequence[Sequence[int]], block_size: int) -> list[list[int]]:
    """``run_clm``'s ``group_texts``: concatenate, drop the remainder, cut into ``block_size`` blocks."""
    flat = list(itertools.chain.from_iterable(token_lists))
    total = (len(flat) // block_size) * block_size
    return [flat[i : i + block_size] for i in range(0, total, block_size)]


def model_max_length(tokenizer: Any, config: dict[str, Any]) -> int | None:
    values = [
        tokenizer.model_max_length if isinstance(getattr(tokenizer, "model_max_length", None), int) else None,
        config.get("n_positions"),
        config.get("max_position_embeddings"),
        config.get("n_ctx"),
    ]
    found = [int(v) for v in values if isinstance(v, int) and 0 < v < 1_000_000]
    return min(found) if found else None


def block_size_candidates(tokenizer: Any, config: dict[str, Any]) -> list[int]:
    """``run_clm``'s default first, then the recipe values and the model's maximum that fit the model."""
    top = model_max_length(tokenizer, config)
    default = min(1024, top) if top else 1024
    out = [default, *RECIPE_BLOCK_SIZES, *([top] if top else [])]
    return [b for b in dict.fromkeys(out) if top is None or b <= top]


def causal_terms(
    model: Any, blocks: Sequence[Sequence[int]], *, batch_size: int, device: Any
) -> tuple[list[float], list[int], int]:
    """Per block: summed shifted cross-entropy and correct next-token predictions; total predictions."""
    import torch

    sums: list[float] = []
    correct: list[int] = []
    with torch.inference_mode():
        for begin in range(0, len(blocks), batch_size):
            ids = torch.tensor(
                [list(b) for b in blocks[begin : begin + batch_size]], dtype=torch.long, device=device
            )
            logits = model(input_ids=ids).logits.float()[:, :-1]
            target = ids[:, 1:]
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none"
            ).reshape(target.shape)
            sums.extend(float(v) for v in losses.double().sum(dim=1).cpu().tolist())
            correct.extend(int(v) for v in (logits.argmax(dim=-1) == target).sum(dim=1).cpu().tolist())
    width = len(blocks[0]) - 1 if blocks else 0
    return sums, correct, width * len(blocks)


def trainer_batches_loss(sums: Sequence[float], counts: Sequence[float], eval_batch_size: int) -> float:
    """A plain ``Trainer``'s evaluation loss: batch means weighted by batch size (``gather_for_metrics``)."""
    total = 0.0
    weight = 0
    for start in range(0, len(sums), eval_batch_size):
        s = math.fsum(sums[start : start + eval_batch_size])
        c = math.fsum(counts[start : start + eval_batch_size])
        if c <= 0 or not math.isfinite(s):
            continue
        size = len(sums[start : start + eval_batch_size])
        total += size * (s / c)
        weight += size
    return total / weight if weight else math.nan


def _lm_results(
    claims: dict[str, Claim], loss: float, accuracy: float | None, tolerance: float
) -> dict[str, Reproduced]:
    out: dict[str, Reproduced] = {}
    if "loss" in claims:
        out["loss"] = Reproduced(loss, claim_agrees(claims["loss"], loss, tolerance))
    if "perplexity" in claims:
        ppl = math.exp(loss) if loss < 700 else math.inf
        # exp() magnifies the loss's rounding: allow the relative error it implies
        out["perplexity"] = Reproduced(
            ppl, claim_agrees(claims["perplexity"], ppl, tolerance * max(ppl, 1.0))
        )
    if "accuracy" in claims and accuracy is not None:
        scale = 100.0 if claims["accuracy"].value > 1.0 + claims["accuracy"].half_ulp else 1.0
        out["accuracy"] = Reproduced(
            accuracy * scale, claim_agrees(claims["accuracy"], accuracy * scale, tolerance)
        )
    return out


def reproduce_causal_lm(
    model: Any,
    tokenizer: Any,
    config: dict[str, Any],
    texts: Sequence[str],
    claims: dict[str, Claim],
    *,
    eval_batch_size: int,
    device: Any = "cpu",
    batch_size: int = 16,
    tolerance: float = 5e-5,
    block_sizes: Sequence[int] | None = None,
) -> SearchResult:
    """Try the recipes' block sizes and the two loss normalisations until one reproduces every claim."""
    start = time.perf_counter()
    tokens = tokenizer([str(t) for t in texts])["input_ids"]
    best: tuple[int, dict[str, Reproduced], dict[str, Any], int] | None = None
    for block in block_sizes or block_size_candidates(tokenizer, config):
        blocks = group_texts(tokens, block)
        if not blocks:
            continue
        sums, correct, predictions = causal_terms(model, blocks, batch_size=batch_size, device=device)
        accuracy = sum(correct) / predictions if predictions else None
        for norm, per_block in (
            ("all label tokens (Trainer num_items_in_batch)", block),
            ("shifted label tokens", block - 1),
        ):
            loss = trainer_batches_loss(sums, [per_block] * len(blocks), eval_batch_size)
            results = _lm_results(claims, loss, accuracy, tolerance)
            settings = {
                "block_size": block,
                "loss_normalisation": norm,
                "eval_batch_size": eval_batch_size,
                "blocks": len(blocks),
            }
            hits = sum(r.match for r in results.values())
            if best is None or hits > best[0]:
                best = (hits, results, settings, len(blocks))
            if hits == len(claims):
                return SearchResult(results, settings, [], len(blocks), time.perf_counter() - start)
    if best is None:
        return SearchResult(
            {}, {}, ["the evaluation texts are shorter than every block size"], 0, time.perf_counter() - start
        )
    return SearchResult(best[1], best[2], [], best[3], time.perf_counter() - start)


def mlm_features(
    tokenizer: Any, texts: Sequence[str], *, block_size: int | None, line_by_line: bool
) -> list[dict[str, list[int]]]:
    """``run_mlm``'s features: one per line (truncated) or ``group_texts`` blocks, with special-token masks."""
    enc = tokenizer(
        [str(t) for t in texts if (not line_by_line) or str(t).strip()],
        truncation=line_by_line,
        max_length=block_size if line_by_line else None,
        return_special_tokens_mask=True,
    )
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask") if k in enc]
    if line_by_line:
        return [{k: list(enc[k][i]) for k in keys} for i in range(len(enc["input_ids"]))]
    assert block_size is not None
    grouped = {k: group_texts(enc[k], block_size) for k in keys}
    return [{k: grouped[k][i] for k in keys} for i in range(len(grouped["input_ids"]))]


def masked_terms(
    model: Any,
    tokenizer: Any,
    features: Sequence[dict[str, list[int]]],
    *,
    seed: int,
    eval_batch_size: int,
    device: Any,
    mlm_probability: float = 0.15,
) -> tuple[float, float | None]:
    """One masking draw, batched as the Trainer does: (the Trainer's loss, masked-token accuracy)."""
    import torch
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability, seed=seed)
    sums: list[float] = []
    counts: list[int] = []
    correct = 0
    total = 0
    with torch.inference_mode():
        for begin in range(0, len(features), eval_batch_size):
            batch = collator([dict(f) for f in features[begin : begin + eval_batch_size]])
            labels = batch.pop("labels").to(device)
            inputs = {k: v.to(device) for k, v in batch.items() if k != "special_tokens_mask"}
            logits = model(**inputs).logits.float()
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="none"
            )
            valid = labels.reshape(-1).ne(-100)
            # one entry per example, the batch's terms on its first: trainer_batches_loss regroups by batch
            n = labels.shape[0]
            sums.extend([float(losses[valid].double().sum())] + [0.0] * (n - 1))
            counts.extend([int(valid.sum())] + [0] * (n - 1))
            preds = logits.argmax(dim=-1).reshape(-1)
            correct += int((preds[valid] == labels.reshape(-1)[valid]).sum())
            total += int(valid.sum())
    return trainer_batches_loss(sums, counts, eval_batch_size), (correct / total if total else None)


def reproduce_masked_lm(
    model: Any,
    tokenizer: Any,
    config: dict[str, Any],
    texts: Sequence[str],
    claims: dict[str, Claim],
    *,
    eval_batch_size: int,
    device: Any = "cpu",
    seeds: int = MLM_SEEDS,
    block_sizes: Sequence[int] | None = None,
) -> SearchResult:
    """Mean and spread of the loss (and accuracy) over ``seeds`` masking draws, per feature layout."""
    start = time.perf_counter()
    top = model_max_length(tokenizer, config)
    layouts: list[tuple[int | None, bool]] = []
    for block in block_sizes or block_size_candidates(tokenizer, config):
        layouts.append((block, False))
    layouts.append((top, True))
    best: tuple[int, dict[str, Reproduced], dict[str, Any], int] | None = None
    for block, line_by_line in layouts:
        features = mlm_features(tokenizer, texts, block_size=block, line_by_line=line_by_line)
        if not features:
            continue
        draws = [
            masked_terms(model, tokenizer, features, seed=s, eval_batch_size=eval_batch_size, device=device)
            for s in range(seeds)
        ]
        results: dict[str, Reproduced] = {}
        for key, values in (("loss", [d[0] for d in draws]), ("accuracy", [d[1] for d in draws])):
            if key not in claims or any(v is None for v in values):
                continue
            vals = [float(v) for v in values if v is not None]
            scale = 100.0 if key == "accuracy" and claims[key].value > 1.0 + claims[key].half_ulp else 1.0
            mean = statistics.fmean(vals) * scale
            sd = statistics.stdev(vals) * scale if len(vals) > 1 else 0.0
            margin = MLM_SIGMAS * sd + claims[key].half_ulp
            results[key] = Reproduced(
                mean,
                abs(claims[key].value - mean) <= margin,
                f"random masking: mean of {seeds} seeds, sd {sd:.4f}; within sampling "
                f"error when within {MLM_SIGMAS:g} sd",
                within=MLM_WITHIN,
            )
        if "perplexity" in claims and "loss" in results:
            losses = [d[0] for d in draws]
            lo = math.exp(statistics.fmean(losses) - MLM_SIGMAS * statistics.stdev(losses))
            hi = math.exp(statistics.fmean(losses) + MLM_SIGMAS * statistics.stdev(losses))
            value = math.exp(statistics.fmean(losses))
            ok = (
                lo - claims["perplexity"].half_ulp
                <= claims["perplexity"].value
                <= hi + claims["perplexity"].half_ulp
            )
            results["perplexity"] = Reproduced(
                value, ok, "exp(loss), within the loss's sampling error", within=MLM_WITHIN
            )
        settings = {
            "block_size": block,
            "line_by_line": line_by_line,
            "mlm_probability": 0.15,
            "masking_seeds": seeds,
            "eval_batch_size": eval_batch_size,
            "comparison": f"within {MLM_WITHIN}",
        }
        hits = sum(r.match for r in results.values())
        if best is None or hits > best[0]:
            best = (hits, results, settings, len(features))
        if hits == len(claims):
            break
    if best is None:
        return SearchResult({}, {}, ["no evaluation text"], 0, time.perf_counter() - start)
    return SearchResult(best[1], best[2], [], best[3], time.perf_counter() - start)
