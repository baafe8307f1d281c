"""Image classification: the checkpoint's image processor over the dataset's ``image`` column.

As the HF image-classification recipes evaluate: every image converted to RGB and passed through
the checkpoint's own image processor (``AutoImageProcessor``: resize, rescale, normalize); the
loss is the model's cross-entropy, regrouped into the Trainer's batches; accuracy, precision/
recall/F1 (averaging found) and Matthews correlation as for text classification.
"""

from __future__ import annotations

import time

from cardsmith.rerun.tasks.base import Task, TaskContext, TaskResult


class ImageClassification(Task):
    name = "image-classification"
    reproduces = (
        "loss (cross-entropy, Trainer batches); accuracy, precision/recall/F1 (averaging found), Matthews "
        "correlation; images through the checkpoint's image processor (RGB)"
    )

    def run(self, ctx: TaskContext) -> TaskResult:
        import torch

        from cardsmith.rerun.data import model_labels
        from cardsmith.rerun.run import EvalOutput
        from cardsmith.rerun.tasks import common
        from cardsmith.rerun.tasks.classification import score_classification

        start = time.perf_counter()
        image_col, refs, device, model, processor = common.classifier_inputs(
            ctx,
            "image",
            common.IMAGE_COLUMNS,
            "AutoModelForImageClassification",
            "AutoImageProcessor",
            "image processor",
        )
        n = len(refs)
        preds = [0] * n
        sums = [0.0] * n
        size = ctx.batch_size or common.DEFAULT_BATCH_SIZE
        with common.Progress(n, ctx.progress) as bar, torch.inference_mode():
            for batch in common.trainer_batches(n, size):  # one size for all: any order is as good
                images = common.read_images(ctx.dataset, image_col, batch, ctx.source.name)
                pixels = processor(images, return_tensors="pt")["pixel_values"]
                logits = common.forward(
                    model, {"pixel_values": pixels.to(device, model.dtype)}
                ).logits.float()
                target = torch.tensor([refs[i] for i in batch], dtype=torch.long, device=logits.device)
                losses = (
                    torch.nn.functional.cross_entropy(logits, target, reduction="none")
                    .double()
                    .cpu()
                    .tolist()
                )
                argmax = logits.argmax(dim=-1).cpu().tolist()
                for row, i in enumerate(batch):
                    preds[i] = int(argmax[row])
                    sums[i] = float(losses[row])
                bar.advance(len(batch))
        output = EvalOutput(
            predictions=preds,
            references=list(refs),
            loss_sums=sums,
            loss_counts=[1] * n,
            device=str(device.type),
            dtype=ctx.dtype,
            seconds=time.perf_counter() - start,
        )
        id2label, _ = model_labels(ctx.config)
        return score_classification(
            output,
            ctx.claims,
            eval_batch_size=ctx.eval_batch_size,
            num_labels=max(id2label) + 1,
            tolerance=ctx.tolerance,
        )
