"""Train a small text classifier with the Trainer and let cardsmith write its model card.

Copy this file to start your own: replace ``build_model_and_data`` with your
``AutoTokenizer.from_pretrained`` / ``AutoModelForSequenceClassification.from_pretrained`` /
``load_dataset`` calls. Here everything is built locally (a word-level tokenizer, a 2-layer BERT and a
keyword sentiment dataset) so that the example runs offline in a few seconds on a CPU.

    python examples/train_tiny.py OUT

Writes ``OUT/README.md`` (by :class:`cardsmith.CardCallback`, audited at the end of training), the
model, and ``OUT-eval`` (the evaluation split, ``save_to_disk``) so that
``cardsmith verify OUT --rerun --dataset OUT-eval`` can reproduce the card's numbers.
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Value
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertTokenizerFast,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)

from cardsmith import CardCallback

LABELS = ["negative", "neutral", "positive"]
KEYWORDS = [["bad", "awful", "boring"], ["okay", "average", "plain"], ["good", "great", "superb"]]
FILLER = [
    "the",
    "a",
    "movie",
    "film",
    "was",
    "is",
    "really",
    "quite",
    "very",
    "plot",
    "story",
    "music",
    "scene",
    "ending",
    "and",
    "but",
    "it",
    "this",
]


def build_model_and_data(seed: int = 0) -> tuple[Any, Any, DatasetDict]:
    """A tokenizer, an untrained tiny BERT and train/validation splits (stand-ins for from_pretrained)."""
    vocab = {
        w: i
        for i, w in enumerate(
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *FILLER, *(w for ws in KEYWORDS for w in ws)]
        )
    }
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer = BertTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    model = BertForSequenceClassification(config)

    rng = random.Random(seed)
    features = Features({"text": Value("string"), "label": ClassLabel(names=LABELS)})
    splits = {}
    for split, n in (("train", 256), ("validation", 96)):
        texts, labels = [], []
        for _ in range(n):
            label = rng.randrange(len(LABELS))
            words = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
            words.insert(rng.randrange(len(words) + 1), rng.choice(KEYWORDS[label]))
            texts.append(" ".join(words) + ".")
            labels.append(label)
        info = DatasetInfo(dataset_name="keyword_reviews", config_name="default", features=features)
        splits[split] = Dataset.from_dict(
            {"text": texts, "label": labels}, features=features, info=info, split=split
        )
    return tokenizer, model, DatasetDict(splits)


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    """Accuracy and macro precision/recall/F1 (what ``evaluate``'s scikit-learn metrics compute)."""
    preds = np.argmax(eval_pred.predictions, axis=-1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        eval_pred.label_ids, preds, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(eval_pred.label_ids, preds)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def main(out: str) -> None:
    out_dir = Path(out)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    set_seed(42)
    tokenizer, model, data = build_model_and_data()
    encoded = data.map(lambda b: tokenizer(b["text"], truncation=True), batched=True, remove_columns=["text"])
    args = TrainingArguments(
        output_dir=str(out_dir),
        learning_rate=3e-3,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        num_train_epochs=5,
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="epoch",
        report_to=[],
        use_cpu=True,
        seed=42,
    )
    # license, language and dataset go into the card's metadata: without them the first audit reports
    # missing-license / missing-dataset (the dataset is found by itself when it was loaded from the Hub).
    card = CardCallback(license="apache-2.0", language="en")
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=[card],
    )
    trainer.train()  # CardCallback writes OUT/README.md here, audits it and prints the findings
    trainer.save_model(str(out_dir))
    data["validation"].save_to_disk(str(out_dir) + "-eval")
    print(f"trained {out_dir}; card at {card.written}; eval data at {out_dir}-eval")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".demo/tiny")
