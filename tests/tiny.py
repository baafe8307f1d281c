"""Tiny real models and datasets for tests: a shared factory (helpers "ingest" and "evaluator").

Everything here is built locally (no Hub access): a word-level BERT tokenizer from a small vocab, a
2-layer BERT (hidden 32), keyword-driven datasets that a tiny model learns in a few seconds, and
real ``transformers.Trainer`` runs on CPU with ``compute_metrics`` equal to what ``evaluate``'s
metric scripts compute (scikit-learn accuracy/precision/recall/F1; seqeval overall
precision/recall/f1/accuracy), without ``evaluate.load``.

Public API (stable; other helpers may add functions, never change these)::

    make_tokenizer(dir) -> PreTrainedTokenizerFast          # saved with save_pretrained
    seq_datasets(n_train=256, n_eval=48, seed=0) -> DatasetDict   # text, label (ClassLabel)
    tok_datasets(n_train=160, n_eval=48, seed=0) -> DatasetDict   # tokens, ner_tags
    tiny_bert_config(num_labels, id2label) -> BertConfig
    train_seq(out_dir, *, callbacks=None, **training_args_overrides) -> Trainer
    train_tok(out_dir, *, callbacks=None, **training_args_overrides) -> Trainer

Constants: ``SEQ_LABELS``, ``NER_LABELS``, ``VOCAB``, ``SEQ_DATASET_NAME``, ``TOK_DATASET_NAME``,
``BASE_MODEL_ID`` (the Hub-id-like ``_name_or_path`` the tiny models carry).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------------
# Vocabulary and data
# --------------------------------------------------------------------------------------------------

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

SEQ_LABELS = ["negative", "neutral", "positive"]
KEYWORDS = {
    "negative": ["bad", "awful", "terrible", "boring", "poor"],
    "neutral": ["okay", "average", "fine", "plain", "standard"],
    "positive": ["good", "great", "excellent", "lovely", "superb"],
}
_FILLER = [
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
    "actor",
    "music",
    "scene",
    "ending",
    "and",
    "but",
    "it",
    "this",
    "that",
    "of",
    "in",
    "on",
    "with",
    "we",
    "they",
    "saw",
    "watched",
    "felt",
    "thought",
    "yesterday",
    "today",
    "cinema",
    "show",
    "book",
    "play",
    "dinner",
    "place",
    "service",
    "food",
    "time",
    "people",
    "some",
    "all",
]

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
_FIRST = ["alice", "bob", "carol", "david", "erin", "frank", "grace", "heidi", "jordan", "georgia", "chad"]
_LAST = ["smith", "jones", "brown", "taylor", "wilson", "evans"]
_CITY1 = ["paris", "berlin", "tokyo", "madrid", "rome", "oslo", "lima", "cairo", "jordan", "georgia", "chad"]
# jordan/georgia/chad are names and places: the tagger cannot be perfect, metrics keep moving.
_CITY2 = [("new", "york"), ("san", "diego"), ("hong", "kong"), ("buenos", "aires")]
_NER_FILLER = [
    "went",
    "to",
    "lives",
    "in",
    "met",
    "visited",
    "from",
    "likes",
    "moved",
    "near",
    "works",
    "at",
    "with",
    "and",
    "yesterday",
    "today",
    "the",
    "city",
    "office",
    "home",
]

VOCAB: list[str] = list(
    dict.fromkeys(
        SPECIALS
        + [w for words in KEYWORDS.values() for w in words]
        + _FILLER
        + _FIRST
        + _LAST
        + _CITY1
        + [w for pair in _CITY2 for w in pair]
        + _NER_FILLER
        + [".", ","]
    )
)

SEQ_DATASET_NAME = "tiny_reviews"
TOK_DATASET_NAME = "tiny_ner"
BASE_MODEL_ID = "cardsmith-test/tiny-bert"


def wordpiece_tokenizer(words: list[str], *, model_max_length: int = 64) -> Any:
    """A BERT tokenizer (WordPiece model, BERT normalizer and pre-tokenizer, ``[CLS] $A [SEP]``) over
    ``words`` in order (its ids), as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    vocab = {word: i for i, word in enumerate(words)}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return BertTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
    )


def _build_tokenizer() -> Any:
    """A word-level BERT tokenizer (WordPiece model over whole words) as a transformers fast tokenizer."""
    return wordpiece_tokenizer(VOCAB)


def make_tokenizer(directory: str | Path) -> Any:
    """Build the tiny tokenizer and ``save_pretrained`` it into ``directory`` (reloads with AutoTokenizer)."""
    tokenizer = _build_tokenizer()
    Path(directory).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(directory))
    return tokenizer


def _seq_example(rng: random.Random, noise: float) -> tuple[str, int]:
    label = rng.randrange(len(SEQ_LABELS))
    length = rng.randint(3, 18)  # varied lengths: padding and batching matter
    words = [rng.choice(_FILLER) for _ in range(length)]
    keyword = rng.choice(KEYWORDS[SEQ_LABELS[label]])
    words.insert(rng.randrange(len(words) + 1), keyword)
    if rng.random() < noise:  # a little label noise: metrics move but do not saturate at once
        label = rng.randrange(len(SEQ_LABELS))
    return " ".join(words) + ".", label


def seq_datasets(
    n_train: int = 256,
    n_eval: int = 48,
    seed: int = 0,
    *,
    noise: float = 0.05,
    dataset_name: str = SEQ_DATASET_NAME,
    config_name: str = "default",
) -> Any:
    """Keyword sentiment: ``text`` (3-19 words) and ``label`` (ClassLabel ``SEQ_LABELS``).

    Splits ``train`` and ``validation``; each split's ``info.dataset_name``/``config_name`` and
    ``split`` are set as a Hub-loaded dataset's would be.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=SEQ_LABELS)})
    rng = random.Random(seed)
    splits = {}
    for split, n in (("train", n_train), ("validation", n_eval)):
        rows = [_seq_example(rng, noise) for _ in range(n)]
        info = DatasetInfo(dataset_name=dataset_name, config_name=config_name, features=features)
        splits[split] = Dataset.from_dict(
            {"text": [r[0] for r in rows], "label": [r[1] for r in rows]},
            features=features,
            info=info,
            split=split,
        )
    return DatasetDict(splits)


def _tok_example(rng: random.Random) -> tuple[list[str], list[int]]:
    tags = {name: i for i, name in enumerate(NER_LABELS)}
    tokens: list[str] = []
    labels: list[int] = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.35:
            tokens.append(rng.choice(_FIRST))
            labels.append(tags["B-PER"])
            if rng.random() < 0.5:
                tokens.append(rng.choice(_LAST))
                labels.append(tags["I-PER"])
        elif kind < 0.7:
            if rng.random() < 0.7:
                tokens.append(rng.choice(_CITY1))
                labels.append(tags["B-LOC"])
            else:
                first, second = rng.choice(_CITY2)
                tokens += [first, second]
                labels += [tags["B-LOC"], tags["I-LOC"]]
        for _ in range(rng.randint(1, 4)):
            tokens.append(rng.choice(_NER_FILLER))
            labels.append(tags["O"])
    tokens.append(".")
    labels.append(tags["O"])
    return tokens, labels


def tok_datasets(
    n_train: int = 160,
    n_eval: int = 48,
    seed: int = 0,
    *,
    dataset_name: str = TOK_DATASET_NAME,
    config_name: str = "default",
) -> Any:
    """Toy NER: ``tokens`` (list of words) and ``ner_tags`` (Sequence of ClassLabel ``NER_LABELS``)."""
    from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Sequence, Value

    features = Features(
        {"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=NER_LABELS))}
    )
    rng = random.Random(seed)
    splits = {}
    for split, n in (("train", n_train), ("validation", n_eval)):
        rows = [_tok_example(rng) for _ in range(n)]
        info = DatasetInfo(dataset_name=dataset_name, config_name=config_name, features=features)
        splits[split] = Dataset.from_dict(
            {"tokens": [r[0] for r in rows], "ner_tags": [r[1] for r in rows]},
            features=features,
            info=info,
            split=split,
        )
    return DatasetDict(splits)


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


def tiny_bert_config(num_labels: int, id2label: dict[int, str] | None = None) -> Any:
    """A 2-layer BERT config (hidden 32, 2 heads, intermediate 64) over ``VOCAB``."""
    from transformers import BertConfig

    if id2label is None:
        id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
    return BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=num_labels,
        id2label={int(k): v for k, v in id2label.items()},
        label2id={v: int(k) for k, v in id2label.items()},
        pad_token_id=0,
    )


def _one_thread() -> None:
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core CI box (several test
    processes at once) spinning torch threads make a 2-second run take a minute."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _seed_model(model_cls: Any, config: Any, seed: int, base_model: str | None) -> Any:
    import torch

    _one_thread()
    torch.manual_seed(seed)
    model = model_cls(config)
    if base_model:
        # What a model loaded with from_pretrained("org/name") carries: the card's base model.
        model.config._name_or_path = base_model
        model.name_or_path = base_model
    return model


def seq_compute_metrics(eval_pred: Any) -> dict[str, float]:
    """accuracy + macro precision/recall/F1, as ``evaluate``'s scikit-learn-backed scripts compute them."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    preds = np.argmax(logits, axis=-1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, preds, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def tok_compute_metrics(eval_pred: Any) -> dict[str, float]:
    """seqeval overall precision/recall/f1/accuracy, as ``evaluate.load("seqeval")`` reports them."""
    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    preds = np.argmax(logits, axis=-1)
    true_tags: list[list[str]] = []
    pred_tags: list[list[str]] = []
    for pred_row, label_row in zip(preds, labels):
        keep = [(p, t) for p, t in zip(pred_row, label_row) if t != -100]
        true_tags.append([NER_LABELS[t] for _, t in keep])
        pred_tags.append([NER_LABELS[p] for p, _ in keep])
    return {
        "precision": float(precision_score(true_tags, pred_tags, zero_division=0)),
        "recall": float(recall_score(true_tags, pred_tags, zero_division=0)),
        "f1": float(f1_score(true_tags, pred_tags, zero_division=0)),
        "accuracy": float(accuracy_score(true_tags, pred_tags)),
    }


def _training_args(out_dir: str | Path, overrides: dict[str, Any]) -> Any:
    from transformers import TrainingArguments

    defaults: dict[str, Any] = {
        "output_dir": str(out_dir),
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,  # smaller than the eval set: several eval batches
        "num_train_epochs": 4,
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        "logging_strategy": "epoch",
        "seed": 42,
        "report_to": [],
        "use_cpu": True,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "save_total_limit": None,
    }
    defaults.update(overrides)
    return TrainingArguments(**defaults)


def _run_trainer(
    out_dir: str | Path,
    model_cls: Any,
    labels: list[str],
    encoded: Any,
    tokenizer: Any,
    collator: Any,
    compute_metrics: Any,
    *,
    callbacks: list[Any] | None,
    base_model: str | None,
    do_train: bool,
    overrides: dict[str, Any],
) -> Any:
    """A real ``Trainer`` for a tiny BERT of ``model_cls`` on the encoded train/validation splits."""
    from transformers import Trainer

    config = tiny_bert_config(len(labels), dict(enumerate(labels)))
    args = _training_args(out_dir, overrides)
    model = _seed_model(model_cls, config, args.seed, base_model)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )
    if do_train:
        trainer.train()
    return trainer


def train_seq(
    out_dir: str | Path,
    *,
    callbacks: list[Any] | None = None,
    datasets: Any = None,
    base_model: str | None = BASE_MODEL_ID,
    do_train: bool = True,
    **training_args_overrides: Any,
) -> Any:
    """Train (really, on CPU, a few seconds) a tiny BERT sequence classifier; returns the Trainer.

    ``training_args_overrides`` go to ``TrainingArguments`` (defaults: lr 3e-3, batch 8/8, 4
    epochs, eval/save/log per epoch, seed 42). ``do_train=False`` returns the Trainer untrained.
    """
    from transformers import BertForSequenceClassification, DataCollatorWithPadding

    ds = datasets if datasets is not None else seq_datasets()
    tokenizer = _build_tokenizer()

    def encode(batch: dict[str, list[Any]]) -> Any:
        return tokenizer(batch["text"], truncation=True, max_length=64)

    encoded = ds.map(encode, batched=True, remove_columns=["text"])
    return _run_trainer(
        out_dir,
        BertForSequenceClassification,
        SEQ_LABELS,
        encoded,
        tokenizer,
        DataCollatorWithPadding(tokenizer),
        seq_compute_metrics,
        callbacks=callbacks,
        base_model=base_model,
        do_train=do_train,
        overrides=training_args_overrides,
    )


def train_tok(
    out_dir: str | Path,
    *,
    callbacks: list[Any] | None = None,
    datasets: Any = None,
    base_model: str | None = BASE_MODEL_ID,
    do_train: bool = True,
    **training_args_overrides: Any,
) -> Any:
    """Train a tiny BERT token classifier (labels on first sub-tokens, -100 elsewhere); returns the Trainer."""
    from transformers import BertForTokenClassification, DataCollatorForTokenClassification

    ds = datasets if datasets is not None else tok_datasets()
    tokenizer = _build_tokenizer()

    def encode(batch: dict[str, list[Any]]) -> Any:
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=64)
        all_labels = []
        for i, tags in enumerate(batch["ner_tags"]):
            previous = None
            row = []
            for word_id in enc.word_ids(batch_index=i):
                if word_id is None or word_id == previous:
                    row.append(-100)
                else:
                    row.append(tags[word_id])
                previous = word_id
            all_labels.append(row)
        enc["labels"] = all_labels
        return enc

    encoded = ds.map(encode, batched=True, remove_columns=["tokens", "ner_tags"])
    return _run_trainer(
        out_dir,
        BertForTokenClassification,
        NER_LABELS,
        encoded,
        tokenizer,
        DataCollatorForTokenClassification(tokenizer),
        tok_compute_metrics,
        callbacks=callbacks,
        base_model=base_model,
        do_train=do_train,
        overrides=training_args_overrides,
    )
