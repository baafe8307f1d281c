"""Sequence-to-sequence speech recognition reruns (Whisper), as the Whisper fine-tuning recipes evaluate.

* Inputs: the processor's feature extractor on each waveform at its sampling rate
  (``input_features``, padded to the model's window); labels: ``tokenizer(text).input_ids`` with the
  decoder start token dropped when it leads (the recipes' ``DataCollatorSpeechSeq2SeqWithPadding``).
* Predictions: ``model.generate(input_features)`` with the checkpoint's generation config, or
  ``max_length=225`` (the fine-tuning blog's ``generation_max_length``); batches are sorted by audio
  length, so short clips finish together.
* The loss: ``Seq2SeqTrainer``'s plain mean of per-batch mean token losses.
* ``WER``/``CER``: jiwer over the decoded strings (``skip_special_tokens=True``), in percent or as a
  fraction, with no normalisation or with Whisper's ``BasicTextNormalizer`` (empty references then
  dropped, as the recipes do).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cardsmith.card.metric_names import CER, LOSS, WER
from cardsmith.rerun.tasks.generation import (
    Claim,
    Reproduced,
    SearchResult,
    claim_agrees,
    run_seq2seq,
    seq2seq_trainer_loss,
)

#: What a sequence-to-sequence speech rerun recomputes.
ASR_METRICS = frozenset({LOSS, WER, CER})
#: The Whisper fine-tuning blog's ``generation_max_length``.
BLOG_MAX_LENGTH = 225


def _resample(array: Any, rate: int, target: int) -> Any:
    import numpy as np

    if rate == target:
        return np.asarray(array, dtype=np.float32)
    from math import gcd

    from scipy.signal import resample_poly  # close to, not bit-identical with, datasets' own resampling

    g = gcd(rate, target)
    return resample_poly(np.asarray(array, dtype=np.float64), target // g, rate // g).astype(np.float32)


def reproduce_whisper(
    model: Any,
    processor: Any,
    audios: Sequence[tuple[Any, int]],
    texts: Sequence[str],
    claims: dict[str, Claim],
    *,
    eval_batch_size: int,
    device: Any = "cpu",
    batch_size: int = 32,
    tolerance: float = 5e-5,
) -> SearchResult:
    """Rerun a Whisper-style checkpoint; settings searched: generation max length, normalisation, scale."""
    import torch

    from cardsmith.rerun.tasks.text_scores import wer_cer, whisper_normalizer

    start = time.perf_counter()
    extractor = processor.feature_extractor
    tokenizer = processor.tokenizer
    rate = int(extractor.sampling_rate)
    waves = [_resample(a, int(r), rate) for a, r in audios]
    feats = [extractor(w, sampling_rate=rate, return_tensors="pt").input_features[0] for w in waves]
    start_id = model.generation_config.decoder_start_token_id
    labels = []
    for text in texts:
        ids = list(tokenizer(str(text)).input_ids)
        if ids and ids[0] == start_id:
            ids = ids[1:]
        labels.append(ids)

    def collate(rows: list[Any]) -> dict[str, Any]:
        return {"input_features": torch.stack(rows)}

    loss_value: float | None = None
    best: tuple[int, dict[str, Reproduced], dict[str, Any]] | None = None
    candidates: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({}, {"max_length": model.generation_config.max_length, "source": "generation_config.json"}),
        ({"max_length": BLOG_MAX_LENGTH}, {"max_length": BLOG_MAX_LENGTH, "source": "recipe"}),
    ]
    for gen_kwargs, gen_settings in candidates:
        out = run_seq2seq(
            model,
            feats,
            labels if loss_value is None else None,
            pad_id=0,
            batch_size=batch_size,
            device=device,
            generation_kwargs=gen_kwargs,
            lengths=[len(w) for w in waves],
            collate=collate,
        )
        if loss_value is None:
            loss_value = seq2seq_trainer_loss(out.loss_sums, out.loss_counts, eval_batch_size)
        preds = tokenizer.batch_decode(out.generated, skip_special_tokens=True)
        refs = [tokenizer.decode(ids, skip_special_tokens=True) for ids in labels]
        normalizer = whisper_normalizer()
        for normalised in (False, True):
            if normalised:
                pairs = [(normalizer(p), normalizer(r)) for p, r in zip(preds, refs)]
                pairs = [(p, r) for p, r in pairs if r.strip()]
            else:
                pairs = list(zip(preds, refs))
            scores = wer_cer([p for p, _ in pairs], [r for _, r in pairs])
            results: dict[str, Reproduced] = {}
            if "loss" in claims:
                results["loss"] = Reproduced(loss_value, claim_agrees(claims["loss"], loss_value, tolerance))
            scale_name = "fraction"
            for key in ("wer", "cer"):
                if key in claims:
                    scale = 100.0 if claims[key].value > 1.0 + claims[key].half_ulp else 1.0
                    hit = [
                        s
                        for s in (scale, 100.0 if scale == 1.0 else 1.0)
                        if claim_agrees(claims[key], scores[key] * s, tolerance)
                    ]
                    used = hit[0] if hit else scale
                    scale_name = "percent" if used == 100.0 else "fraction"
                    results[key] = Reproduced(scores[key] * used, bool(hit))
            settings = {
                "generation": gen_settings,
                "normalisation": "BasicTextNormalizer" if normalised else "none",
                "scale": scale_name,
                "eval_batch_size": eval_batch_size,
                "loss_batches": "plain mean of batch means (Seq2SeqTrainer)",
            }
            hits = sum(r.match for r in results.values())
            if best is None or hits > best[0]:
                best = (hits, results, settings)
            if hits == len(claims):
                return SearchResult(results, settings, [], len(texts), time.perf_counter() - start)
    assert best is not None
    return SearchResult(best[1], best[2], [], len(texts), time.perf_counter() - start)
