"""Audio classification: the checkpoint's feature extractor over the dataset's ``audio`` column.

As the HF audio-classification recipes evaluate: each clip (mono, at the feature extractor's
sampling rate) through ``AutoFeatureExtractor`` on its own, then padded per batch by the data
collator (``feature_extractor.pad``); cross-entropy loss regrouped into the Trainer's batches;
accuracy, precision/recall/F1 (averaging found) and Matthews correlation.

Padding is not always neutral: a feature extractor without ``return_attention_mask`` (wav2vec2-base
and other group-norm models) gives the model zero-padded clips, which changes its outputs. Those
models are run in the Trainer's own batches (dataset order, ``eval_batch_size``); models that mask
their padding run in length-sorted batches. Hidden setting, found by search: the recipes' 1-second
truncation (``max_length=sampling_rate, truncation=True``), tried only when clips are longer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from cardsmith.rerun.tasks.base import Task, TaskContext, TaskResult, search


def masks_padding(extractor: Any) -> bool:
    """Whether the feature extractor gives the model an attention mask (padding is then neutral)."""
    return bool(getattr(extractor, "return_attention_mask", False))


def extract(extractor: Any, arrays: list[Any], rate: int, max_samples: int | None) -> list[dict[str, Any]]:
    """Each clip through the feature extractor on its own (as ``dataset.map`` does), unpadded."""
    out = []
    name = extractor.model_input_names[0]
    for array in arrays:
        if max_samples is not None:
            enc = extractor(array, sampling_rate=rate, max_length=max_samples, truncation=True)
        else:
            enc = extractor(array, sampling_rate=rate)
        out.append({name: enc[name][0]})
    return out


class AudioClassification(Task):
    name = "audio-classification"
    reproduces = (
        "loss (cross-entropy, Trainer batches; the Trainer's padding for models without attention mask); "
        "accuracy, precision/recall/F1 (averaging found), Matthews correlation; 1 s truncation found"
    )

    def run(self, ctx: TaskContext) -> TaskResult:
        import torch

        from cardsmith.rerun.data import model_labels
        from cardsmith.rerun.run import EvalOutput
        from cardsmith.rerun.tasks import common
        from cardsmith.rerun.tasks.classification import score_classification

        start = time.perf_counter()
        audio_col, refs, device, model, extractor = common.classifier_inputs(
            ctx,
            "audio",
            common.AUDIO_COLUMNS,
            "AutoModelForAudioClassification",
            "AutoFeatureExtractor",
            "feature extractor",
        )
        rate = int(extractor.sampling_rate)
        arrays, notes = common.read_audio(ctx.dataset, audio_col, rate, ctx.source.name)
        n = len(arrays)
        masked = masks_padding(extractor)
        id2label, _ = model_labels(ctx.config)
        results: list[TaskResult] = []

        def evaluate(max_samples: int | None) -> TaskResult:
            features = extract(extractor, arrays, rate, max_samples)
            name = extractor.model_input_names[0]
            if masked:
                lengths = [len(f[name]) for f in features]
                batches = common.sorted_batches(lengths, ctx.batch_size or common.DEFAULT_BATCH_SIZE)
            else:
                batches = common.trainer_batches(n, ctx.eval_batch_size)
            preds = [0] * n
            sums = [0.0] * n
            with common.Progress(n, ctx.progress) as bar, torch.inference_mode():
                for batch in batches:
                    padded = extractor.pad([features[i] for i in batch], padding=True, return_tensors="pt")
                    inputs = {k: v.to(device) for k, v in padded.items()}
                    inputs[name] = inputs[name].to(model.dtype)
                    logits = common.forward(model, inputs).logits.float()
                    target = torch.tensor([refs[i] for i in batch], dtype=torch.long, device=logits.device)
                    losses = torch.nn.functional.cross_entropy(logits, target, reduction="none")
                    loss_list = losses.double().cpu().tolist()
                    argmax = logits.argmax(dim=-1).cpu().tolist()
                    for row, i in enumerate(batch):
                        preds[i] = int(argmax[row])
                        sums[i] = float(loss_list[row])
                    bar.advance(len(batch))
            output = EvalOutput(preds, list(refs), sums, [1] * n, str(device.type), ctx.dtype, 0.0)
            result = score_classification(
                output,
                ctx.claims,
                eval_batch_size=ctx.eval_batch_size,
                num_labels=max(id2label) + 1,
                tolerance=ctx.tolerance,
            )
            result.settings["truncation"] = f"{max_samples / rate:g} s" if max_samples else "none"
            result.settings["batches"] = (
                "length-sorted (the model masks padding)"
                if masked
                else f"the Trainer's (no attention mask: dataset order, eval_batch_size {ctx.eval_batch_size})"
            )
            results.append(result)
            return result

        def candidates() -> Iterator[tuple[dict[str, Any], dict[str, float]]]:
            first = evaluate(None)
            yield {"index": 0}, first.values
            if any(len(a) > rate for a in arrays):
                second = evaluate(rate)
                yield {"index": 1}, second.values

        chosen, _values, _complete = search(ctx.claims, candidates(), ctx.tolerance)
        result = results[int(chosen.get("index", 0))]
        if notes:
            result.settings["audio"] = "; ".join(notes)
        result.device = str(device.type)
        result.seconds = time.perf_counter() - start
        return result
