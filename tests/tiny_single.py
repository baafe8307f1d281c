"""Tiny real Trainer runs for the single-forward-pass rerun tasks (issue #12).

Each ``train_*`` trains a tiny model with the real ``transformers.Trainer`` on CPU (a few seconds,
one thread) the way the HF tutorials do: evaluation every epoch, ``compute_metrics`` computed the
tutorial's way (scikit-learn, scipy, jiwer instead of ``evaluate.load``), the card written at the
end of training by cardsmith's ``CardCallback`` or by ``trainer.create_model_card()``. It saves the
model (safetensors) with its tokenizer/processor and the card into ``out/model``, the evaluation
split with ``save_to_disk`` into ``out/validation``, and returns
``{"model": Path, "data": Path, "logged": final eval metrics}``.

Data are synthetic and learnable: keyword sentences (regression, multi-label), coloured noise
images, sine tones (audio classification) and tone sequences spelling letters (speech). Audio
columns are built as ``{"bytes", "path"}`` WAV structs and cast to ``Audio`` (no torchcodec needed).
"""

from __future__ import annotations

import io
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tiny

KEYWORDS = tiny.KEYWORDS
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
    "actor",
    "music",
]
EVAL_BATCH_SIZE = 5  # smaller than every eval set: several batches, a partial last one
SR = 16000


def _args(out_dir: Path, **overrides: Any) -> Any:
    from transformers import TrainingArguments

    values: dict[str, Any] = {
        "output_dir": str(out_dir),
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": EVAL_BATCH_SIZE,
        "num_train_epochs": 3,
        "eval_strategy": "epoch",
        "save_strategy": "no",
        "logging_strategy": "epoch",
        "seed": 42,
        "report_to": [],
        "use_cpu": True,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }
    values.update(overrides)
    return TrainingArguments(**values)


def _seeded(model_cls: Any, config: Any) -> Any:
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    torch.manual_seed(42)
    model = model_cls(config)
    model.config._name_or_path = "cardsmith-test/tiny-base"
    model.name_or_path = "cardsmith-test/tiny-base"
    return model


def _finish(trainer: Any, out: Path, validation: Any, *, card: str) -> dict[str, Any]:
    """Train, write the card (CardCallback at train end, or create_model_card), save model and data."""
    trainer.train()
    model_dir = Path(trainer.args.output_dir)
    if card == "create_model_card":
        trainer.create_model_card(
            model_name="tiny", dataset="tiny", finetuned_from="cardsmith-test/tiny-base"
        )
    trainer.save_model(str(model_dir))
    data_dir = out / "validation"
    validation.save_to_disk(str(data_dir))
    logged = [h for h in trainer.state.log_history if "eval_loss" in h][-1]
    return {"model": model_dir, "data": data_dir, "logged": logged}


def _callbacks(card: str) -> list[Any]:
    from cardsmith import CardCallback

    return [CardCallback(dataset="tiny")] if card == "callback" else []


# --------------------------------------------------------------------------------------------------
# Text regression and multi-label classification (tiny BERT over tiny.VOCAB)
# --------------------------------------------------------------------------------------------------


def _sentence(rng: random.Random, keywords: list[str]) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(3, 15))]
    for word in keywords:
        words.insert(rng.randrange(len(words) + 1), word)
    return " ".join(words)


def regression_data(seed: int = 0) -> Any:
    from datasets import Dataset, DatasetDict

    rng = random.Random(seed)

    def row() -> dict[str, Any]:
        pos, neg = rng.randint(0, 3), rng.randint(0, 3)
        keys = [rng.choice(KEYWORDS["positive"]) for _ in range(pos)]
        keys += [rng.choice(KEYWORDS["negative"]) for _ in range(neg)]
        return {"text": _sentence(rng, keys), "label": float(pos - neg) + rng.gauss(0, 0.3)}

    return DatasetDict(
        {s: Dataset.from_list([row() for _ in range(n)]) for s, n in (("train", 200), ("validation", 43))}
    )


def regression_metrics(p: Any) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    preds, labels = np.squeeze(p.predictions), p.label_ids
    mse = mean_squared_error(labels, preds)
    return {
        "mse": float(mse),
        "rmse": math.sqrt(mse),
        "mae": float(mean_absolute_error(labels, preds)),
        "r2": float(r2_score(labels, preds)),
        "pearson": float(pearsonr(labels, preds)[0]),
        "spearmanr": float(spearmanr(labels, preds)[0]),
    }


def train_regression(out: Path, *, card: str = "callback") -> dict[str, Any]:
    from transformers import BertForSequenceClassification, DataCollatorWithPadding, Trainer

    ds = regression_data()
    tokenizer = tiny.make_tokenizer(out / "tokenizer")
    enc = ds.map(lambda b: tokenizer(b["text"], truncation=True), batched=True)
    trainer = Trainer(
        model=_seeded(BertForSequenceClassification, tiny.tiny_bert_config(1)),
        args=_args(out / "model"),
        train_dataset=enc["train"],
        eval_dataset=enc["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=regression_metrics,
        callbacks=_callbacks(card),
    )
    return _finish(trainer, out, ds["validation"], card=card)


MULTI_LABELS = ["negative", "neutral", "positive"]


def multilabel_data(seed: int = 0) -> Any:
    from datasets import Dataset, DatasetDict

    rng = random.Random(seed)

    def row() -> dict[str, Any]:
        labels = [0.0] * len(MULTI_LABELS)
        keys = []
        for k, name in enumerate(MULTI_LABELS):
            if rng.random() < 0.4:
                keys.append(rng.choice(KEYWORDS[name]))
                labels[k] = 1.0
        if rng.random() < 0.1:  # a little noise: the metrics do not saturate
            k = rng.randrange(len(MULTI_LABELS))
            labels[k] = 1.0 - labels[k]
        return {"text": _sentence(rng, keys), "labels": labels}

    return DatasetDict(
        {s: Dataset.from_list([row() for _ in range(n)]) for s, n in (("train", 200), ("validation", 48))}
    )


def multilabel_metrics(p: Any, threshold: float = 0.5) -> dict[str, float]:
    """The widely copied multi-label tutorial: sigmoid, >= threshold, micro F1, ROC AUC on the 0/1 predictions."""
    import torch
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    predictions = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
    probs = torch.nn.Sigmoid()(torch.Tensor(predictions))
    y_pred = np.zeros(probs.shape)
    y_pred[np.where(probs >= threshold)] = 1
    y_true = p.label_ids
    return {
        "f1": float(f1_score(y_true=y_true, y_pred=y_pred, average="micro")),
        "roc_auc": float(roc_auc_score(y_true, y_pred, average="micro")),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def train_multilabel(out: Path, *, card: str = "callback") -> dict[str, Any]:
    from transformers import BertForSequenceClassification, DataCollatorWithPadding, Trainer

    ds = multilabel_data()
    tokenizer = tiny.make_tokenizer(out / "tokenizer")
    enc = ds.map(lambda b: tokenizer(b["text"], truncation=True), batched=True)
    config = tiny.tiny_bert_config(len(MULTI_LABELS), dict(enumerate(MULTI_LABELS)))
    config.problem_type = "multi_label_classification"
    trainer = Trainer(
        model=_seeded(BertForSequenceClassification, config),
        args=_args(out / "model", num_train_epochs=5, learning_rate=5e-3),
        train_dataset=enc["train"],
        eval_dataset=enc["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=multilabel_metrics,
        callbacks=_callbacks(card),
    )
    return _finish(trainer, out, ds["validation"], card=card)


# --------------------------------------------------------------------------------------------------
# Image classification (tiny ViT, a locally built ViTImageProcessor, PIL images)
# --------------------------------------------------------------------------------------------------

COLOURS = ["red", "green", "blue"]


def image_data(seed: int = 0) -> Any:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Image
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)

    def row() -> dict[str, Any]:
        k = int(rng.integers(3))
        h, w = int(rng.integers(12, 40)), int(rng.integers(12, 40))
        pixels = (rng.random((h, w, 3)) * 120).astype("uint8")
        pixels[..., k] += 100
        if rng.random() < 0.15:
            k = int(rng.integers(3))
        return {"image": PILImage.fromarray(pixels), "label": k}

    features = Features({"image": Image(), "label": ClassLabel(names=COLOURS)})
    return DatasetDict(
        {
            s: Dataset.from_list([row() for _ in range(n)], features=features)
            for s, n in (("train", 160), ("validation", 43))
        }
    )


def accuracy_f1_weighted(p: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    preds = np.argmax(p.predictions, axis=1)
    return {
        "accuracy": float(accuracy_score(p.label_ids, preds)),
        "f1": float(f1_score(p.label_ids, preds, average="weighted")),
    }


def train_image(out: Path, *, card: str = "callback") -> dict[str, Any]:
    from transformers import (
        DefaultDataCollator,
        Trainer,
        ViTConfig,
        ViTForImageClassification,
        ViTImageProcessor,
    )

    ds = image_data()
    processor = ViTImageProcessor(size={"height": 16, "width": 16}, image_mean=[0.5] * 3, image_std=[0.5] * 3)

    def transforms(batch: dict[str, Any]) -> dict[str, Any]:
        batch["pixel_values"] = processor([im.convert("RGB") for im in batch["image"]], return_tensors="pt")[
            "pixel_values"
        ]
        del batch["image"]
        return batch

    config = ViTConfig(
        image_size=16,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=len(COLOURS),
        id2label=dict(enumerate(COLOURS)),
        label2id={name: i for i, name in enumerate(COLOURS)},
    )
    trainer = Trainer(
        model=_seeded(ViTForImageClassification, config),
        args=_args(out / "model", remove_unused_columns=False),
        train_dataset=ds["train"].with_transform(transforms),
        eval_dataset=ds["validation"].with_transform(transforms),
        processing_class=processor,
        data_collator=DefaultDataCollator(),
        compute_metrics=accuracy_f1_weighted,
        callbacks=_callbacks(card),
    )
    return _finish(trainer, out, ds["validation"], card=card)


# --------------------------------------------------------------------------------------------------
# Audio: classification (tiny Wav2Vec2ForSequenceClassification) and CTC speech recognition
# --------------------------------------------------------------------------------------------------


def wav_bytes(samples: Any) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(samples, dtype="float32"), SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _audio_dataset(rows: dict[str, list[dict[str, Any]]], extra: dict[str, Any] | None = None) -> Any:
    from datasets import Audio, Dataset, DatasetDict

    ds = DatasetDict({split: Dataset.from_list(r) for split, r in rows.items()})
    for name, feature in (extra or {}).items():
        ds = ds.cast_column(name, feature)
    return ds.cast_column("audio", Audio(sampling_rate=SR))


def read_wav(value: dict[str, Any]) -> Any:
    import soundfile

    return soundfile.read(io.BytesIO(value["bytes"]), dtype="float32")[0]


TONES = ["low", "mid", "high"]


def audio_data(
    seed: int = 0, *, lengths: tuple[int, int] = (800, 3200), sizes: tuple[int, int] = (160, 43)
) -> Any:
    """Tones of three pitches; ``lengths``: the range of clip lengths in samples (``SR`` is 1 s)."""
    from datasets import ClassLabel

    rng = np.random.default_rng(seed)

    def row(i: int) -> dict[str, Any]:
        k = int(rng.integers(3))
        n = int(rng.integers(*lengths))
        t = np.arange(n) / SR
        x = 0.3 * np.sin(2 * np.pi * 300 * (k + 1) * t) + 0.05 * rng.standard_normal(n)
        if rng.random() < 0.1:
            k = int(rng.integers(3))
        return {"audio": {"bytes": wav_bytes(x), "path": f"clip{i}.wav"}, "label": k}

    rows = {s: [row(i) for i in range(n)] for s, n in zip(("train", "validation"), sizes)}
    return _audio_dataset(rows, {"label": ClassLabel(names=TONES)})


def train_audio(out: Path, *, card: str = "callback", long_clips: bool = False) -> dict[str, Any]:
    """wav2vec2-base style: group norm, no attention mask (padding changes the outputs).

    The features are cut at 1 s (``max_length=SR, truncation=True``, as the audio-classification
    recipe does); ``long_clips``: clips of 0.8 to 1.6 s, so that the cut changes what the model sees."""
    from datasets import Audio
    from sklearn.metrics import accuracy_score
    from transformers import (
        Trainer,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForSequenceClassification,
    )

    ds = audio_data(lengths=(12800, 25600), sizes=(48, 20)) if long_clips else audio_data()
    raw = ds.cast_column("audio", Audio(decode=False))
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SR, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )

    def prep(batch: dict[str, Any]) -> Any:
        return extractor(
            [read_wav(a) for a in batch["audio"]], sampling_rate=SR, max_length=SR, truncation=True
        )

    enc = raw.map(prep, batched=True, remove_columns=["audio"])
    config = Wav2Vec2Config(
        vocab_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="group",
        classifier_proj_size=16,
        num_labels=len(TONES),
        id2label=dict(enumerate(TONES)),
        label2id={name: i for i, name in enumerate(TONES)},
        mask_time_prob=0.0,
    )
    trainer = Trainer(
        model=_seeded(Wav2Vec2ForSequenceClassification, config),
        args=_args(out / "model", num_train_epochs=4),
        train_dataset=enc["train"],
        eval_dataset=enc["validation"],
        processing_class=extractor,
        compute_metrics=lambda p: {
            "accuracy": float(accuracy_score(p.label_ids, np.argmax(p.predictions, axis=1)))
        },
        callbacks=_callbacks(card),
    )
    return _finish(trainer, out, ds["validation"], card=card)


LETTERS = "abcde"


def speech_data(seed: int = 0) -> Any:
    """Words of letters; each letter a tone of its own pitch, words separated by silence."""
    rng = np.random.default_rng(seed)
    pitch = {c: 400 + 350 * i for i, c in enumerate(LETTERS)}

    def row(i: int) -> dict[str, Any]:
        words = [
            "".join(rng.choice(list(LETTERS), size=int(rng.integers(1, 4))))
            for _ in range(int(rng.integers(1, 4)))
        ]
        parts = [np.zeros(160)]
        for word in words:
            for c in word:
                n = int(rng.integers(320, 480))
                parts.append(0.4 * np.sin(2 * np.pi * pitch[c] * np.arange(n) / SR))
                parts.append(np.zeros(60))
            parts.append(np.zeros(240))
        x = np.concatenate(parts)
        x = x + 0.02 * rng.standard_normal(len(x))
        return {"audio": {"bytes": wav_bytes(x), "path": f"utt{i}.wav"}, "sentence": " ".join(words)}

    return _audio_dataset({s: [row(i) for i in range(n)] for s, n in (("train", 120), ("validation", 40))})


@dataclass
class DataCollatorCTCWithPadding:
    """The HF CTC fine-tuning blog's collator: inputs and labels padded per batch, labels with -100."""

    processor: Any
    padding: bool = True

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        inputs = [{"input_values": f["input_values"]} for f in features]
        labels = [{"input_ids": f["labels"]} for f in features]
        batch = self.processor.pad(inputs, padding=self.padding, return_tensors="pt")
        labels_batch = self.processor.pad(labels=labels, padding=self.padding, return_tensors="pt")
        batch["labels"] = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
        return batch


def train_ctc(out: Path, *, card: str = "create_model_card") -> dict[str, Any]:
    """The CTC fine-tuning blog: char vocab, Wav2Vec2Processor, greedy decoding, jiwer WER/CER."""
    import jiwer
    from datasets import Audio
    from transformers import (
        Trainer,
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    ds = speech_data()
    raw = ds.cast_column("audio", Audio(decode=False))
    vocab = {c: i for i, c in enumerate(sorted(set(LETTERS + " ")))}
    vocab["|"] = vocab.pop(" ")
    vocab["[UNK]"] = len(vocab)
    vocab["[PAD]"] = len(vocab)
    model_dir = out / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = Wav2Vec2CTCTokenizer(
        str(out / "vocab.json"), unk_token="[UNK]", pad_token="[PAD]", word_delimiter_token="|"
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SR, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )
    processor = Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)

    def prep(row: dict[str, Any]) -> dict[str, Any]:
        row["input_values"] = processor(read_wav(row["audio"]), sampling_rate=SR).input_values[0]
        row["labels"] = processor(text=row["sentence"]).input_ids
        return row

    enc = raw.map(prep, remove_columns=["audio", "sentence"])

    def compute_metrics(pred: Any) -> dict[str, float]:
        pred_ids = np.argmax(pred.predictions, axis=-1)
        pred.label_ids[pred.label_ids == -100] = processor.tokenizer.pad_token_id
        pred_str = processor.batch_decode(pred_ids)
        label_str = processor.batch_decode(pred.label_ids, group_tokens=False)
        return {"wer": float(jiwer.wer(label_str, pred_str)), "cer": float(jiwer.cer(label_str, pred_str))}

    config = Wav2Vec2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32, 32, 32),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 8, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        mask_time_prob=0.0,
        ctc_loss_reduction="mean",
        pad_token_id=tokenizer.pad_token_id,
    )
    trainer = Trainer(
        model=_seeded(Wav2Vec2ForCTC, config),
        args=_args(model_dir, num_train_epochs=12, learning_rate=1e-2, per_device_eval_batch_size=6),
        train_dataset=enc["train"],
        eval_dataset=enc["validation"],
        processing_class=processor,
        data_collator=DataCollatorCTCWithPadding(processor),
        compute_metrics=compute_metrics,
        callbacks=_callbacks(card),
    )
    return _finish(trainer, out, ds["validation"], card=card)
