"""Benchmark: the seq2seq rerun against ``Seq2SeqTrainer.evaluate(predict_with_generate=True)``.

Same checkpoint, same data, same process, one after the other. The checkpoint is a small T5
(d_model 128, 2+2 layers) trained for a few epochs on the synthetic summarization task of
``tests/tiny_tasks.py`` so that it stops its summaries with EOS; the evaluation split has N
examples (default 512). The Trainer side is the summarization recipe: eval batch 8,
``compute_metrics`` = evaluate's ROUGE (bootstrap aggregator) and ``gen_len``. The rerun side is
``reproduce_seq2seq`` with the Trainer's numbers as the claims: it must reproduce every one of them
(loss within 5e-5; ROUGE and Gen Len exactly, the bootstrap median replayed from the seed), and its
time includes the settings search, the encoding, the generation and the metrics.

    python bench/bench_seq2seq.py [--examples 512] [--repeats 3] [--device cpu|cuda]

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def build_checkpoint(folder: Path, n_eval: int, device: str) -> tuple[Path, object]:
    import tiny_tasks
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, T5Config, T5ForConditionalGeneration

    raw = tiny_tasks.summarization_data(n_train=800, n_eval=n_eval)
    tokenizer = tiny_tasks.word_tokenizer(
        tiny_tasks.WORDS + [".", "summarize:"], ["<pad>", "</s>", "<unk>"], eos="</s>"
    )
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=128,
        d_kv=32,
        d_ff=256,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)

    def preprocess(batch: dict) -> dict:
        inputs = tokenizer(["summarize: " + d for d in batch["document"]], max_length=1024, truncation=True)
        inputs["labels"] = tokenizer(text_target=batch["summary"], max_length=128, truncation=True)[
            "input_ids"
        ]
        return inputs

    encoded = raw.map(preprocess, batched=True, remove_columns=["document", "summary"])
    args = tiny_tasks.seq2seq_args(
        folder / "train",
        {"eval_strategy": "no", "num_train_epochs": 4, "learning_rate": 3e-3, "use_cpu": device == "cpu"},
    )
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=encoded["train"],
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
    )
    trainer.train()
    # What a checkpoint saved after an evaluation holds: Seq2SeqTrainer writes the generation defaults
    # into the model's generation config (max_length 20) after its first generation.
    model.generation_config.max_length = 20
    out = folder / "model"
    trainer.save_model(str(out))
    return out, raw["validation"]


def trainer_evaluate(checkpoint: Path, data: object, device: str) -> tuple[dict, float]:
    import tiny_tasks
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
    )

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    model = AutoModelForSeq2SeqLM.from_pretrained(str(checkpoint))

    def preprocess(batch: dict) -> dict:
        inputs = tokenizer(["summarize: " + d for d in batch["document"]], max_length=1024, truncation=True)
        inputs["labels"] = tokenizer(text_target=batch["summary"], max_length=128, truncation=True)[
            "input_ids"
        ]
        return inputs

    encoded = data.map(preprocess, batched=True, remove_columns=["document", "summary"])
    args = Seq2SeqTrainingArguments(
        str(checkpoint.parent / "eval"),
        per_device_eval_batch_size=8,
        predict_with_generate=True,
        report_to=[],
        use_cpu=device == "cpu",
        disable_tqdm=True,
        seed=42,
    )
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        eval_dataset=encoded,
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
        compute_metrics=tiny_tasks.rouge_compute_metrics(tokenizer),
    )
    metrics = trainer.evaluate()
    return metrics, time.perf_counter() - start


def rerun(checkpoint: Path, data: object, metrics: dict, device: str) -> tuple[object, float]:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from cardsmith.rerun.tasks.generation import Claim, reproduce_seq2seq

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    model = AutoModelForSeq2SeqLM.from_pretrained(str(checkpoint), use_safetensors=True).to(device).eval()
    claims = {
        k: Claim(round(metrics[f"eval_{k}"], 4), 5e-5)
        for k in ("loss", "rouge1", "rouge2", "rougeL", "rougeLsum", "gen_len")
    }
    config = json.loads((checkpoint / "config.json").read_text())
    result = reproduce_seq2seq(
        model,
        tokenizer,
        config,
        list(data["document"]),
        list(data["summary"]),
        claims,
        task="summarization",
        eval_batch_size=8,
        seed=42,
        evaluations=1,
        device=torch.device(device),
    )
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", help="build the checkpoint in this folder (kept)")
    opts = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if opts.device == "cpu":
        torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, data = build_checkpoint(Path(opts.keep or tmp), opts.examples, opts.device)
        trainer_times, rerun_times = [], []
        for _ in range(opts.repeats):
            metrics, t_trainer = trainer_evaluate(checkpoint, data, opts.device)
            result, t_rerun = rerun(checkpoint, data, metrics, opts.device)
            trainer_times.append(t_trainer)
            rerun_times.append(t_rerun)
            bad = {k: (metrics[f"eval_{k}"], r.value) for k, r in result.metrics.items() if not r.match}
            if bad or abs(result.metrics["loss"].value - metrics["eval_loss"]) >= 5e-5:
                raise SystemExit(f"the rerun does not reproduce the Trainer: {bad}")
        t, r = statistics.median(trainer_times), statistics.median(rerun_times)
        print(
            f"| {opts.examples} examples, {opts.device}, torch threads {torch.get_num_threads()} | "
            f"`Seq2SeqTrainer.evaluate` {t:.2f} s | rerun {r:.2f} s | {t / r:.2f}x | "
            f"Gen Len {metrics['eval_gen_len']}, Rouge1 {metrics['eval_rouge1']}, loss {metrics['eval_loss']:.4f}: "
            f"all reproduced ({result.settings['rouge_aggregation']}) |"
        )


if __name__ == "__main__":
    main()
