"""Extractive question answering reruns, as ``run_qa.py`` and the question-answering notebook evaluate.

* Features: ``tokenizer(question.lstrip(), context, truncation="only_second", max_length=384,
  stride=128, return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")``
  (the question comes second when the tokenizer pads on the left); offsets outside the context
  are dropped. ``max_length``/``doc_stride`` are hidden settings: the recipe's 384/128 first
  (capped at the tokenizer's ``model_max_length`` as ``run_qa`` does), then other common values.
* The loss: the notebook evaluates the validation split prepared like the training split (answer
  start/end token positions, the [CLS] index when the answer is not in the window); each feature's
  loss is the mean of the start and end cross-entropies over *all* its positions, pads included
  (``padding="max_length"``: the pads' logits are part of the softmax), so the loss is rerun on
  the Trainer's padding. A plain ``Trainer`` weights batch means by batch size: the loss is the mean
  over features.
* Answers: ``postprocess_qa_predictions`` of ``utils_qa.py``: per example, over all its features,
  the 20 best start and end logits, spans inside the context, end >= start, at most 30 tokens,
  scored by start + end logit; SQuAD v2 adds the null answer (the [CLS] score, minimum over
  features) and answers "" when it beats the best span (threshold 0.0).
* Scores: the official SQuAD v1.1 / v2.0 normalisation, exact match and F1 in percent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cardsmith.card.metric_names import EXACT_MATCH, F1, LOSS
from cardsmith.rerun.tasks.generation import Claim, Reproduced, SearchResult, claim_agrees

MAX_LENGTH = 384
DOC_STRIDE = 128
N_BEST = 20
MAX_ANSWER_LENGTH = 30

#: What an extractive question-answering rerun recomputes.
QA_METRICS = frozenset({LOSS, EXACT_MATCH, F1})


@dataclass
class Features:
    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    offsets: list[list[tuple[int, int] | None]]
    example_index: list[int]
    start_positions: list[int] = field(default_factory=list)
    end_positions: list[int] = field(default_factory=list)
    max_length: int = MAX_LENGTH


def prepare_features(
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    answers: Sequence[dict[str, Any]] | None,
    *,
    max_length: int = MAX_LENGTH,
    doc_stride: int = DOC_STRIDE,
) -> Features:
    """The validation features of ``run_qa``/the notebook, with answer positions when ``answers`` is given."""
    pad_right = getattr(tokenizer, "padding_side", "right") == "right"
    qs = [str(q).lstrip() for q in questions]
    cs = [str(c) for c in contexts]
    enc = tokenizer(
        qs if pad_right else cs,
        cs if pad_right else qs,
        truncation="only_second" if pad_right else "only_first",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    context_id = 1 if pad_right else 0
    mapping = enc["overflow_to_sample_mapping"]
    feats = Features(
        input_ids=[list(x) for x in enc["input_ids"]],
        token_type_ids=[list(x) for x in enc["token_type_ids"]] if "token_type_ids" in enc else None,
        offsets=[],
        example_index=[int(i) for i in mapping],
        max_length=max_length,
    )
    for i, offsets in enumerate(enc["offset_mapping"]):
        seq_ids = enc.sequence_ids(i)
        feats.offsets.append([tuple(o) if seq_ids[k] == context_id else None for k, o in enumerate(offsets)])
        if answers is None:
            continue
        ids = feats.input_ids[i]
        cls_index = ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in ids else 0
        answer = answers[mapping[i]]
        starts = list(answer.get("answer_start") or [])
        if not starts:
            feats.start_positions.append(cls_index)
            feats.end_positions.append(cls_index)
            continue
        start_char = int(starts[0])
        end_char = start_char + len(answer["text"][0])
        first = 0
        while seq_ids[first] != context_id:
            first += 1
        last = len(ids) - 1
        while seq_ids[last] != context_id:
            last -= 1
        if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
            feats.start_positions.append(cls_index)
            feats.end_positions.append(cls_index)
            continue
        while first < len(offsets) and offsets[first][0] <= start_char:
            first += 1
        feats.start_positions.append(first - 1)
        while offsets[last][1] >= end_char:
            last -= 1
        feats.end_positions.append(last + 1)
    return feats


def _batch(feats: Features, rows: Sequence[int], pad_id: int, width: int | None) -> dict[str, Any]:
    import torch

    w = width or max(len(feats.input_ids[i]) for i in rows)
    ids = torch.full((len(rows), w), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(rows), w), dtype=torch.long)
    types = torch.zeros((len(rows), w), dtype=torch.long) if feats.token_type_ids is not None else None
    for r, i in enumerate(rows):
        n = len(feats.input_ids[i])
        ids[r, :n] = torch.tensor(feats.input_ids[i])
        mask[r, :n] = 1
        if types is not None and feats.token_type_ids is not None:
            types[r, :n] = torch.tensor(feats.token_type_ids[i])
    out = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        out["token_type_ids"] = types
    return out


def qa_logits(
    model: Any, feats: Features, *, pad_id: int, batch_size: int, device: Any
) -> tuple[list[list[float]], list[list[float]]]:
    """Start and end logits of every feature (its own length), in length-sorted batches."""
    import torch

    n = len(feats.input_ids)
    order = sorted(range(n), key=lambda i: len(feats.input_ids[i]), reverse=True)
    starts: list[list[float]] = [[] for _ in range(n)]
    ends: list[list[float]] = [[] for _ in range(n)]
    with torch.inference_mode():
        for b in range(0, n, batch_size):
            rows = order[b : b + batch_size]
            out = model(**{k: v.to(device) for k, v in _batch(feats, rows, pad_id, None).items()})
            s = out.start_logits.float().cpu()
            e = out.end_logits.float().cpu()
            for r, i in enumerate(rows):
                length = len(feats.input_ids[i])
                starts[i] = s[r, :length].tolist()
                ends[i] = e[r, :length].tolist()
    return starts, ends


def qa_trainer_loss(
    model: Any,
    feats: Features,
    *,
    pad_id: int,
    eval_batch_size: int,
    device: Any,
    padding: str = "max_length",
) -> float:
    """The Trainer's loss on the answer-labelled features, batched and padded as the Trainer does.

    ``padding="max_length"``: every feature padded to ``feats.max_length`` (the recipes' default);
    ``"longest"``: each Trainer batch padded to its longest feature (``DataCollatorWithPadding``).
    """
    import torch

    n = len(feats.input_ids)
    total = 0.0
    with torch.inference_mode():
        for b in range(0, n, eval_batch_size):
            rows = list(range(b, min(b + eval_batch_size, n)))
            width = feats.max_length if padding == "max_length" else None
            inputs = {k: v.to(device) for k, v in _batch(feats, rows, pad_id, width).items()}
            out = model(**inputs)
            start = torch.tensor([feats.start_positions[i] for i in rows], device=device)
            end = torch.tensor([feats.end_positions[i] for i in rows], device=device)
            ignored = out.start_logits.shape[1]
            ce_s = torch.nn.functional.cross_entropy(
                out.start_logits.float(), start.clamp(0, ignored), ignore_index=ignored, reduction="none"
            )
            ce_e = torch.nn.functional.cross_entropy(
                out.end_logits.float(), end.clamp(0, ignored), ignore_index=ignored, reduction="none"
            )
            total += float(((ce_s + ce_e) / 2).double().sum())
    return total / n if n else math.nan


def postprocess(
    contexts: Sequence[str],
    feats: Features,
    starts: Sequence[Sequence[float]],
    ends: Sequence[Sequence[float]],
    *,
    v2: bool,
    n_best: int = N_BEST,
    max_answer_length: int = MAX_ANSWER_LENGTH,
    null_threshold: float = 0.0,
) -> list[str]:
    """``utils_qa.postprocess_qa_predictions``: the best span per example ("" for v2's null answer)."""
    import numpy as np

    per_example: dict[int, list[int]] = {}
    for f, ex in enumerate(feats.example_index):
        per_example.setdefault(ex, []).append(f)
    answers: list[str] = []
    for ex, context in enumerate(contexts):
        min_null: float | None = None
        candidates: list[tuple[float, str]] = []
        for f in per_example.get(ex, []):
            s = np.asarray(starts[f])
            e = np.asarray(ends[f])
            offsets = feats.offsets[f]
            null = float(s[0] + e[0])
            if min_null is None or min_null > null:
                min_null = null
            for si in np.argsort(s)[-1 : -n_best - 1 : -1].tolist():
                for ei in np.argsort(e)[-1 : -n_best - 1 : -1].tolist():
                    if si >= len(offsets) or ei >= len(offsets) or offsets[si] is None or offsets[ei] is None:
                        continue
                    if len(offsets[si]) < 2 or len(offsets[ei]) < 2:
                        continue
                    if ei < si or ei - si + 1 > max_answer_length:
                        continue
                    start_char, end_char = offsets[si][0], offsets[ei][1]
                    candidates.append((float(s[si] + e[ei]), context[start_char:end_char]))
        candidates.sort(key=lambda c: c[0], reverse=True)
        candidates = candidates[:n_best]
        if not v2:
            answers.append(candidates[0][1] if candidates else "")
            continue
        if not candidates or min_null is None:
            answers.append("")
            continue
        best_score, best_text = candidates[0]
        answers.append("" if min_null - best_score > null_threshold else best_text)
    return answers


def length_candidates(tokenizer: Any) -> list[tuple[int, int]]:
    """(max_length, doc_stride) pairs: run_qa's 384/128 (capped at the tokenizer's maximum), then 512/128, 256/64."""
    top = getattr(tokenizer, "model_max_length", None)
    top = int(top) if isinstance(top, int) and 0 < top < 1_000_000 else None
    out = []
    for length, stride in ((MAX_LENGTH, DOC_STRIDE), (512, DOC_STRIDE), (256, 64)):
        length = min(length, top) if top else length
        if stride < length:
            out.append((length, stride))
    return list(dict.fromkeys(out))


def reproduce_qa(
    model: Any,
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    answers: Sequence[dict[str, Any]],
    claims: dict[str, Claim],
    *,
    eval_batch_size: int,
    v2: bool | None = None,
    device: Any = "cpu",
    batch_size: int = 64,
    tolerance: float = 5e-5,
) -> SearchResult:
    """Try the recipes' max_length/doc_stride (and the Trainer's padding for the loss) until the card is reproduced."""
    from cardsmith.rerun.tasks.text_scores import squad_scores

    start = time.perf_counter()
    if v2 is None:
        v2 = any(not (a.get("text") or []) for a in answers)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    golds = [[str(t) for t in (a.get("text") or [])] for a in answers]
    best: tuple[int, dict[str, Reproduced], dict[str, Any], int] | None = None
    for max_length, stride in length_candidates(tokenizer):
        feats = prepare_features(
            tokenizer, questions, contexts, answers, max_length=max_length, doc_stride=stride
        )
        results: dict[str, Reproduced] = {}
        settings: dict[str, Any] = {
            "max_length": max_length,
            "doc_stride": stride,
            "n_best": N_BEST,
            "max_answer_length": MAX_ANSWER_LENGTH,
            "squad": "v2 (null answers, threshold 0.0)" if v2 else "v1.1",
        }
        if "exact_match" in claims or "f1" in claims:
            s, e = qa_logits(model, feats, pad_id=pad_id, batch_size=batch_size, device=device)
            preds = postprocess(contexts, feats, s, e, v2=v2)
            scores = squad_scores(preds, golds, v2=v2)
            for key in ("exact_match", "f1"):
                if key in claims:
                    scale = 1.0 if claims[key].value > 1.0 + claims[key].half_ulp else 0.01
                    value = scores[key] * scale
                    results[key] = Reproduced(value, claim_agrees(claims[key], value, tolerance))
            settings["scale"] = (
                "percent"
                if all(claims[k].value > 1.0 for k in ("exact_match", "f1") if k in claims)
                else "fraction"
            )
        if "loss" in claims:
            for padding in ("max_length", "longest"):
                loss = qa_trainer_loss(
                    model,
                    feats,
                    pad_id=pad_id,
                    eval_batch_size=eval_batch_size,
                    device=device,
                    padding=padding,
                )
                results["loss"] = Reproduced(loss, claim_agrees(claims["loss"], loss, tolerance))
                settings["loss_padding"] = padding
                if results["loss"].match:
                    break
        hits = sum(r.match for r in results.values())
        if best is None or hits > best[0]:
            best = (hits, results, settings, len(feats.input_ids))
        if hits == len(claims):
            break
    assert best is not None
    settings = {**best[2], "features": best[3]}
    return SearchResult(best[1], settings, [], len(questions), time.perf_counter() - start)
