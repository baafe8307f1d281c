"""Speech recognition with CTC models (Wav2Vec2, HuBERT, XLS-R ``*ForCTC``): WER, CER and the CTC loss.

What the HF CTC fine-tuning recipes do, and what is reproduced here:

* inputs: ``processor(audio, sampling_rate=...).input_values[0]`` per clip; labels:
  ``processor(text=transcript).input_ids``; ``DataCollatorCTCWithPadding`` pads both per batch
  (labels with -100);
* the loss: the model's CTC loss (``config.ctc_loss_reduction``: ``mean`` divides each clip's loss
  by its target length and averages the batch, ``sum`` adds the batch up; ``ctc_zero_infinity``),
  averaged over the Trainer's batches as ``Trainer.evaluate`` does (a non-finite batch is dropped);
* predictions: greedy CTC, ``argmax`` per frame, decoded by ``processor.batch_decode`` (repeats
  merged, blanks dropped); references: ``processor.batch_decode(labels, group_tokens=False)``;
* WER and CER with jiwer (what ``evaluate``'s ``wer``/``cer`` wrap), fraction or percent as printed.

The recipes' ``compute_metrics`` decodes the Trainer's concatenated logits, padded frames included:
the frames a batch pads each clip with (the model's output on padding) and the -100 rows the
Trainer pads shorter batches with (whose argmax is token 0). Both decodings are tried, that one
first; the JSON report's ``settings.decoding`` says which reproduced the card. Because the padded
frames depend on each batch's longest clip (and, without an attention mask, on the padding
itself), clips run in the Trainer's own batches: dataset order, ``eval_batch_size`` each.
"""

from __future__ import annotations

import math
import time
from typing import Any

from cardsmith.card.metric_names import LOSS
from cardsmith.errors import EvaluationError
from cardsmith.rerun.tasks.base import Task, TaskContext, TaskResult, search

WER = "wer"
CER = "cer"
TRAINER_PADDED = "greedy CTC over the Trainer's padded logits (the recipes' compute_metrics)"
VALID_FRAMES = "greedy CTC over each clip's own frames"


def ctc_batch_loss(
    logits: Any, labels: list[list[int]], lengths: Any, *, blank: int, reduction: str, zero_infinity: bool
) -> float:
    """The model's CTC loss for one batch (float32 log-softmax, as transformers computes it)."""
    import torch

    log_probs = torch.nn.functional.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)
    targets = [[t for t in row if t >= 0 and t != blank] for row in labels]
    flat = torch.tensor([t for row in targets for t in row], dtype=torch.long)
    target_lengths = torch.tensor([len(row) for row in targets], dtype=torch.long)
    with torch.backends.cudnn.flags(enabled=False):
        losses = torch.nn.functional.ctc_loss(
            log_probs.cpu(),
            flat,
            lengths.cpu().long(),
            target_lengths,
            blank=blank,
            reduction="none",
            zero_infinity=zero_infinity,
        ).double()
    if reduction == "sum":
        return float(losses.sum())
    return float((losses / target_lengths.clamp(min=1).double()).mean())


def trainer_mean(batch_losses: list[tuple[int, float]]) -> float:
    """``Trainer.evaluate``'s loss from ``(batch size, batch loss)`` pairs: non-finite batches dropped."""
    finite = [(n, v) for n, v in batch_losses if math.isfinite(v)]
    weight = sum(n for n, _ in finite)
    return math.fsum(n * v for n, v in finite) / weight if weight else math.nan


class SpeechRecognition(Task):
    name = "automatic-speech-recognition"
    reproduces = (
        "CTC models: loss (CTC, the checkpoint's reduction, Trainer batches); WER and CER (jiwer), "
        "greedy decoding as the recipes' compute_metrics (padded frames) or per clip; fraction or percent"
    )

    def run(self, ctx: TaskContext) -> TaskResult:
        archs = ctx.config.get("architectures") or []
        arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""
        if not arch.endswith("ForCTC"):  # a sequence-to-sequence speech model (Whisper)
            from cardsmith.rerun.tasks.generative import WhisperSpeechRecognition

            return WhisperSpeechRecognition().run(ctx)
        return self.run_ctc(ctx)

    def run_ctc(self, ctx: TaskContext) -> TaskResult:
        import torch

        from cardsmith.rerun.tasks import common
        from cardsmith.rerun.tasks.text_scores import wer_cer

        start = time.perf_counter()
        audio_col = ctx.column("audio", common.AUDIO_COLUMNS)
        text_col = ctx.column("text", common.TRANSCRIPT_COLUMNS, exclude=[audio_col])
        device, model, processor = common.load_model_and_processor(
            ctx, "AutoModelForCTC", "AutoProcessor", "processor"
        )
        tokenizer = getattr(processor, "tokenizer", None)
        extractor = getattr(processor, "feature_extractor", None)
        if tokenizer is None or extractor is None:
            raise EvaluationError(
                f"{ctx.model_path}: no CTC processor (a feature extractor and a tokenizer with vocab.json)"
            )
        rate = int(extractor.sampling_rate)
        arrays, notes = common.read_audio(ctx.dataset, audio_col, rate, ctx.source.name)
        transcripts = ["" if t is None else str(t) for t in ctx.dataset[text_col]]
        name = extractor.model_input_names[0]
        features = [{name: extractor(a, sampling_rate=rate)[name][0]} for a in arrays]
        labels = [list(tokenizer(t)["input_ids"]) for t in transcripts]
        blank = ctx.config.get("pad_token_id")
        if blank is None:
            blank = tokenizer.pad_token_id
        reduction = str(ctx.config.get("ctc_loss_reduction") or "sum")
        zero_inf = bool(ctx.config.get("ctc_zero_infinity", False))
        n = len(features)
        frames: list[list[int]] = [[] for _ in range(n)]  # argmax per frame, over the batch's width
        valid = [0] * n
        batch_losses: list[tuple[int, float]] = []
        with common.Progress(n, ctx.progress) as bar, torch.inference_mode():
            for batch in common.trainer_batches(n, ctx.eval_batch_size):
                padded = extractor.pad([features[i] for i in batch], padding=True, return_tensors="pt")
                inputs = {k: v.to(device) for k, v in padded.items()}
                inputs[name] = inputs[name].to(model.dtype)
                logits = common.forward(model, inputs).logits.float()
                mask = padded.get("attention_mask")
                if mask is not None:
                    lengths = model._get_feat_extract_output_lengths(mask.sum(-1)).long()
                else:
                    lengths = torch.full((len(batch),), logits.shape[1], dtype=torch.long)
                batch_losses.append(
                    (
                        len(batch),
                        ctc_batch_loss(
                            logits,
                            [labels[i] for i in batch],
                            lengths,
                            blank=int(blank),
                            reduction=reduction,
                            zero_infinity=zero_inf,
                        ),
                    )
                )
                ids = logits.argmax(dim=-1).cpu().tolist()
                for row, i in enumerate(batch):
                    frames[i] = ids[row]
                    valid[i] = int(lengths[row])
                bar.advance(len(batch))
        width = max((len(f) for f in frames), default=0)
        references = processor.batch_decode(labels, group_tokens=False)
        values: dict[str, float] = {LOSS: trainer_mean(batch_losses)}
        keys = ctx.keys
        settings: dict[str, Any] = {}
        if keys & {WER, CER}:

            def scored(decoding: str) -> dict[str, float]:
                if decoding == TRAINER_PADDED:
                    pred_ids = [f + [0] * (width - len(f)) for f in frames]
                else:
                    pred_ids = [f[:v] for f, v in zip(frames, valid)]
                try:
                    return wer_cer(processor.batch_decode(pred_ids), references)
                except ValueError as exc:  # jiwer: an empty reference
                    raise EvaluationError(f"WER/CER cannot be computed: {common.short(exc)}") from None

            candidates = (({"decoding": d}, scored(d)) for d in (TRAINER_PADDED, VALID_FRAMES))
            chosen, rates, _complete = search(ctx.claims, candidates, ctx.tolerance)
            settings.update(chosen)
            values.update(rates)
        settings["batches"] = f"the Trainer's (dataset order, eval_batch_size {ctx.eval_batch_size})"
        settings["ctc_loss_reduction"] = reduction
        if notes:
            settings["audio"] = "; ".join(notes)
        return TaskResult(
            values=values,
            settings=settings,
            examples=n,
            device=str(device.type),
            seconds=time.perf_counter() - start,
            notes={LOSS: f"CTC ({reduction}), Trainer batching, eval_batch_size {ctx.eval_batch_size}"},
        )
