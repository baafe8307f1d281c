"""Tiny real models for the generation, span and language-modelling reruns (issue #13).

Every model is trained here, on CPU in a few seconds, with the real ``Seq2SeqTrainer``/``Trainer``
the way the HF example scripts and notebooks do it (``run_summarization.py``, ``run_translation.py``,
``run_qa.py`` / the question-answering notebook, ``run_clm.py``, ``run_mlm.py``), and the card is
the one transformers writes (``trainer.create_model_card``). Tokenizers are word-level and built
locally; nothing comes from the Hub.

Each ``train_*`` function returns ``(trainer, eval_file)``: the Trainer after training (its
``state.log_history`` holds the logged numbers) and the evaluation split saved as JSON lines.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import numpy as np

NOUNS = [
    "apple",
    "banana",
    "cherry",
    "grape",
    "lemon",
    "mango",
    "melon",
    "peach",
    "pear",
    "plum",
    "berry",
    "olive",
    "onion",
    "pepper",
    "potato",
    "tomato",
    "carrot",
    "celery",
    "garlic",
    "ginger",
]
ADJECTIVES = [
    "red",
    "blue",
    "green",
    "yellow",
    "black",
    "white",
    "brown",
    "pink",
    "small",
    "large",
    "tiny",
    "huge",
    "old",
    "new",
    "fresh",
    "ripe",
]
ANIMALS = ["cat", "dog", "bird", "fish", "horse", "cow", "sheep", "goat", "lion", "tiger"]
VERBS = ["runs", "eats", "sees", "likes", "finds", "takes", "makes", "wants", "has", "gets"]
FUNCTION = ["the", "a", "and", "of", "in", "on", "with", "to"]
WORDS = NOUNS + ADJECTIVES + ANIMALS + VERBS + FUNCTION
#: The fake "target language" of the translation task: every word gets a suffix.
FOREIGN = {w: w + "o" for w in WORDS}


def word_tokenizer(
    words: list[str], specials: list[str], *, eos: str | None = None, model_max_length: int = 128
) -> Any:
    """A lower-casing word-level fast tokenizer over ``specials + words`` (``eos`` appended if given)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(specials + words))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##")
    kwargs: dict[str, Any] = {"unk_token": "<unk>", "pad_token": "<pad>"}
    if eos:
        backend.post_processor = processors.TemplateProcessing(
            single=f"$A {eos}", pair=f"$A {eos} $B:1 {eos}:1", special_tokens=[(eos, vocab[eos])]
        )
        kwargs["eos_token"] = eos
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=model_max_length, **kwargs)


def bert_word_tokenizer(words: list[str], *, model_max_length: int) -> Any:
    """:func:`word_tokenizer` over BERT's special tokens, with BERT's ``[CLS] $A [SEP]`` template."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = word_tokenizer(words, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]).backend_tokenizer
    vocab = backend.get_vocab()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
    )


def _one_thread() -> None:
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _dataset(columns: dict[str, list[Any]], name: str, split: str) -> Any:
    from datasets import Dataset, DatasetInfo

    return Dataset.from_dict(columns, info=DatasetInfo(dataset_name=name), split=split)


# --------------------------------------------------------------------------------------------------
# Sequence to sequence: summarization (T5), translation (BART)
# --------------------------------------------------------------------------------------------------


def _summary_pair(rng: random.Random) -> tuple[str, str]:
    doc = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    nouns = [w for w in doc if w in NOUNS][:3] or [doc[0]]
    if len(nouns) > 1 and rng.random() < 0.5:  # two sentences: rougeLsum differs from rougeL
        return " ".join(doc), nouns[0] + " . " + " ".join(nouns[1:]) + " ."
    return " ".join(doc), " ".join(nouns)


def _translation_pair(rng: random.Random) -> tuple[str, str]:
    src = [rng.choice(WORDS) for _ in range(rng.randint(3, 9))]
    return " ".join(src), " ".join(FOREIGN[w] for w in src)


def summarization_data(n_train: int = 400, n_eval: int = 44, seed: int = 0) -> Any:
    """``document``/``summary``: the summary is the document's first (up to 3) fruit and vegetables."""
    from datasets import DatasetDict

    rng = random.Random(seed)
    out = {}
    for split, n in (("train", n_train), ("validation", n_eval)):
        rows = [_summary_pair(rng) for _ in range(n)]
        out[split] = _dataset(
            {"document": [r[0] for r in rows], "summary": [r[1] for r in rows]}, "tiny_summaries", split
        )
    return DatasetDict(out)


def translation_data(n_train: int = 400, n_eval: int = 44, seed: int = 1) -> Any:
    """``translation: {"en": ..., "xx": ...}`` as the WMT/OPUS datasets hold it."""
    from datasets import DatasetDict

    rng = random.Random(seed)
    out = {}
    for split, n in (("train", n_train), ("validation", n_eval)):
        rows = [_translation_pair(rng) for _ in range(n)]
        out[split] = _dataset(
            {"translation": [{"en": s, "xx": t} for s, t in rows]}, "tiny_translation", split
        )
    return DatasetDict(out)


def rouge_compute_metrics(tokenizer: Any, *, stem: bool = True) -> Any:
    """``run_summarization.py``'s ``compute_metrics``: evaluate's rouge (bootstrap aggregator) and gen_len.

    ``evaluate.load("rouge")`` needs the Hub; its computation is ``rouge_score`` with
    ``BootstrapAggregator``, done here the same way. Sentences go on their own lines (the
    recipe's ``nltk.sent_tokenize``; Punkt's untrained splitter when its model is not installed).
    """
    from rouge_score import rouge_scorer, scoring

    from cardsmith.rerun.tasks.text_scores import sentence_splitter

    split, _ = sentence_splitter()

    def compute(eval_pred: Any) -> dict[str, float]:
        preds, labels = eval_pred
        if isinstance(preds, tuple):
            preds = preds[0]
        preds = np.where(preds != -100, preds, tokenizer.pad_token_id)
        decoded_preds = tokenizer.batch_decode(preds, skip_special_tokens=True)
        labels = np.where(labels != -100, labels, tokenizer.pad_token_id)
        decoded_labels = tokenizer.batch_decode(labels, skip_special_tokens=True)
        decoded_preds = ["\n".join(split(p.strip())) for p in decoded_preds]
        decoded_labels = ["\n".join(split(label.strip())) for label in decoded_labels]
        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=stem)
        aggregator = scoring.BootstrapAggregator()
        for ref, pred in zip(decoded_labels, decoded_preds):
            aggregator.add_scores(scorer.score(ref, pred))
        result = {k: v.mid.fmeasure for k, v in aggregator.aggregate().items()}
        result["gen_len"] = np.mean([np.count_nonzero(p != tokenizer.pad_token_id) for p in preds])
        return {k: round(float(v), 4) for k, v in result.items()}

    return compute


def bleu_compute_metrics(tokenizer: Any) -> Any:
    """``run_translation.py``'s ``compute_metrics``: evaluate's sacrebleu ``score`` and gen_len."""
    import sacrebleu

    def compute(eval_pred: Any) -> dict[str, float]:
        preds, labels = eval_pred
        if isinstance(preds, tuple):
            preds = preds[0]
        preds = np.where(preds != -100, preds, tokenizer.pad_token_id)
        decoded_preds = [p.strip() for p in tokenizer.batch_decode(preds, skip_special_tokens=True)]
        labels = np.where(labels != -100, labels, tokenizer.pad_token_id)
        decoded_labels = [label.strip() for label in tokenizer.batch_decode(labels, skip_special_tokens=True)]
        bleu = sacrebleu.corpus_bleu(decoded_preds, [decoded_labels], smooth_method="exp").score
        gen_len = np.mean([np.count_nonzero(p != tokenizer.pad_token_id) for p in preds])
        return {"bleu": round(float(bleu), 4), "gen_len": round(float(gen_len), 4)}

    return compute


def seq2seq_args(out_dir: Path, overrides: dict[str, Any]) -> Any:
    from transformers import Seq2SeqTrainingArguments

    defaults: dict[str, Any] = {
        "output_dir": str(out_dir),
        "learning_rate": 1e-2,
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 8,
        "num_train_epochs": 6,
        "eval_strategy": "epoch",
        "save_strategy": "no",
        "logging_strategy": "epoch",
        "seed": 42,
        "report_to": [],
        "use_cpu": True,
        "disable_tqdm": True,
        "predict_with_generate": True,
    }
    defaults.update(overrides)
    return Seq2SeqTrainingArguments(**defaults)


def _finish(
    trainer: Any, out_dir: Path, data: Any, model_name: str, dataset_name: str, task: str
) -> tuple[Any, Path]:
    trainer.save_model(str(out_dir))
    trainer.create_model_card(model_name=model_name, dataset=dataset_name, tasks=task)
    eval_file = out_dir.parent / f"{out_dir.name}-eval.jsonl"
    data.to_json(str(eval_file))
    return trainer, eval_file


def train_summarization(out_dir: str | Path, **overrides: Any) -> tuple[Any, Path]:
    """A tiny T5 (``summarize: `` prefix, as the summarization notebook does for T5) with ROUGE."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, T5Config, T5ForConditionalGeneration

    _one_thread()
    out = Path(out_dir)
    raw = summarization_data()
    tokenizer = word_tokenizer(WORDS + [".", "summarize:"], ["<pad>", "</s>", "<unk>"], eos="</s>")
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    torch.manual_seed(42)
    model = T5ForConditionalGeneration(config)

    def preprocess(batch: dict[str, list[Any]]) -> Any:
        inputs = tokenizer(["summarize: " + d for d in batch["document"]], max_length=1024, truncation=True)
        inputs["labels"] = tokenizer(text_target=batch["summary"], max_length=128, truncation=True)[
            "input_ids"
        ]
        return inputs

    encoded = raw.map(preprocess, batched=True, remove_columns=["document", "summary"])
    trainer = Seq2SeqTrainer(
        model=model,
        args=seq2seq_args(out, overrides),
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
        compute_metrics=rouge_compute_metrics(tokenizer),
    )
    trainer.train()
    return _finish(
        trainer, out, raw["validation"], "tiny-t5-summarization", "tiny_summaries", "summarization"
    )


def train_translation(out_dir: str | Path, **overrides: Any) -> tuple[Any, Path]:
    """A tiny T5 translating ``en`` -> ``xx`` (no source prefix: ``run_translation.py``'s default) with sacreBLEU."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, T5Config, T5ForConditionalGeneration

    _one_thread()
    out = Path(out_dir)
    raw = translation_data()
    tokenizer = word_tokenizer(WORDS + list(FOREIGN.values()), ["<pad>", "</s>", "<unk>"], eos="</s>")
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    torch.manual_seed(42)
    model = T5ForConditionalGeneration(config)

    def preprocess(batch: dict[str, list[Any]]) -> Any:
        inputs = tokenizer([t["en"] for t in batch["translation"]], max_length=1024, truncation=True)
        targets = [t["xx"] for t in batch["translation"]]
        inputs["labels"] = tokenizer(text_target=targets, max_length=128, truncation=True)["input_ids"]
        return inputs

    encoded = raw.map(preprocess, batched=True, remove_columns=["translation"])
    trainer = Seq2SeqTrainer(
        model=model,
        args=seq2seq_args(out, overrides),
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
        compute_metrics=bleu_compute_metrics(tokenizer),
    )
    trainer.train()
    return _finish(trainer, out, raw["validation"], "tiny-t5-translation", "tiny_translation", "translation")


# --------------------------------------------------------------------------------------------------
# Language models: causal (GPT-2, run_clm) and masked (BERT, run_mlm)
# --------------------------------------------------------------------------------------------------


def _sentence(rng: random.Random) -> str:
    return (
        f"the {rng.choice(ADJECTIVES)} {rng.choice(ANIMALS)} {rng.choice(VERBS)} "
        f"a {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} ."
    )


def lm_data(n_train: int = 600, n_eval: int = 120, seed: int = 2) -> Any:
    """``text``: one to four short sentences per row."""
    from datasets import DatasetDict

    rng = random.Random(seed)
    out = {}
    for split, n in (("train", n_train), ("validation", n_eval)):
        texts = [" ".join(_sentence(rng) for _ in range(rng.randint(1, 4))) for _ in range(n)]
        out[split] = _dataset({"text": texts}, "tiny_texts", split)
    return DatasetDict(out)


def _group(block_size: int) -> Any:
    def group_texts(examples: dict[str, list[Any]]) -> dict[str, list[Any]]:
        concatenated = {k: list(itertools.chain(*examples[k])) for k in examples}
        total = (len(concatenated[next(iter(examples))]) // block_size) * block_size
        result = {
            k: [t[i : i + block_size] for i in range(0, total, block_size)] for k, t in concatenated.items()
        }
        result["labels"] = result["input_ids"].copy()
        return result

    return group_texts


def _lm_args(out_dir: Path, overrides: dict[str, Any]) -> Any:
    from transformers import TrainingArguments

    defaults: dict[str, Any] = {
        "output_dir": str(out_dir),
        "learning_rate": 5e-3,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 3,
        "num_train_epochs": 3,
        "eval_strategy": "epoch",
        "save_strategy": "no",
        "logging_strategy": "epoch",
        "seed": 42,
        "report_to": [],
        "use_cpu": True,
        "disable_tqdm": True,
    }
    defaults.update(overrides)
    return TrainingArguments(**defaults)


def train_causal_lm(out_dir: str | Path, *, block_size: int = 128, **overrides: Any) -> tuple[Any, Path]:
    """A tiny GPT-2 (n_positions 256) with ``run_clm``'s ``group_texts`` at ``block_size`` and its accuracy."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, default_data_collator

    _one_thread()
    out = Path(out_dir)
    raw = lm_data()
    tokenizer = word_tokenizer(WORDS + ["."], ["<pad>", "<|endoftext|>", "<unk>"], model_max_length=256)
    tokenizer.eos_token = tokenizer.bos_token = "<|endoftext|>"
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=256,
        bos_token_id=1,
        eos_token_id=1,
    )
    torch.manual_seed(42)
    model = GPT2LMHeadModel(config)
    tokenized = raw.map(lambda b: tokenizer(b["text"]), batched=True, remove_columns=["text"])
    lm = tokenized.map(_group(block_size), batched=True)

    def preprocess_logits_for_metrics(logits: Any, labels: Any) -> Any:
        if isinstance(logits, tuple):
            logits = logits[0]
        return logits.argmax(dim=-1)

    def compute_metrics(eval_preds: Any) -> dict[str, float]:
        preds, labels = eval_preds
        labels = labels[:, 1:].reshape(-1)
        preds = preds[:, :-1].reshape(-1)
        return {"accuracy": float((preds == labels).mean())}

    trainer = Trainer(
        model=model,
        args=_lm_args(out, overrides),
        train_dataset=lm["train"],
        eval_dataset=lm["validation"],
        processing_class=tokenizer,
        data_collator=default_data_collator,
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=preprocess_logits_for_metrics,
    )
    trainer.train()
    return _finish(trainer, out, raw["validation"], "tiny-gpt2-clm", "tiny_texts", "text-generation")


def train_masked_lm(
    out_dir: str | Path, *, block_size: int = 128, n_eval: int = 2000, **overrides: Any
) -> tuple[Any, Path]:
    """A tiny BERT masked LM with ``run_mlm``'s ``group_texts`` and random 15% masking at evaluation."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling, Trainer

    _one_thread()
    out = Path(out_dir)
    raw = lm_data(n_eval=n_eval)
    tokenizer = bert_word_tokenizer(WORDS + ["."], model_max_length=256)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        pad_token_id=0,
    )
    torch.manual_seed(42)
    model = BertForMaskedLM(config)
    tokenized = raw.map(
        lambda b: tokenizer(b["text"], return_special_tokens_mask=True), batched=True, remove_columns=["text"]
    )
    group = _group(block_size)

    def group_no_labels(examples: dict[str, list[Any]]) -> dict[str, list[Any]]:
        result = group(examples)
        result.pop("labels")
        return result

    lm = tokenized.map(group_no_labels, batched=True)

    def preprocess_logits_for_metrics(logits: Any, labels: Any) -> Any:
        if isinstance(logits, tuple):
            logits = logits[0]
        return logits.argmax(dim=-1)

    def compute_metrics(eval_preds: Any) -> dict[str, float]:
        preds, labels = eval_preds
        labels = labels.reshape(-1)
        preds = preds.reshape(-1)
        mask = labels != -100
        return {"accuracy": float((preds[mask] == labels[mask]).mean())}

    overrides.setdefault("per_device_eval_batch_size", 16)
    overrides.setdefault("num_train_epochs", 2)
    trainer = Trainer(
        model=model,
        args=_lm_args(out, overrides),
        train_dataset=lm["train"],
        eval_dataset=lm["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15),
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=preprocess_logits_for_metrics,
    )
    trainer.train()
    return _finish(trainer, out, raw["validation"], "tiny-bert-mlm", "tiny_texts", "fill-mask")


# --------------------------------------------------------------------------------------------------
# Extractive question answering (BERT, run_qa.py / the question-answering notebook)
# --------------------------------------------------------------------------------------------------


def qa_data(n_train: int = 300, n_eval: int = 40, seed: int = 3) -> Any:
    """SQuAD-style ``id``/``question``/``context``/``answers``: which fruit does an animal take?"""
    from datasets import DatasetDict

    rng = random.Random(seed)
    out = {}
    for split, n in (("train", n_train), ("validation", n_eval)):
        rows: dict[str, list[Any]] = {"id": [], "question": [], "context": [], "answers": []}
        for k in range(n):
            animals = rng.sample(ANIMALS, rng.randint(2, 4))
            sentences = []
            for animal in animals:
                sentences.append((animal, rng.choice(VERBS), f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"))
            target = rng.choice(sentences)
            context = ""
            answer_start = 0
            for animal, verb, obj in sentences:
                prefix = f"the {animal} {verb} a "
                if (animal, verb, obj) == target:
                    answer_start = len(context) + len(prefix)
                context += f"{prefix}{obj} . "
            rows["id"].append(f"{split}-{k}")
            rows["question"].append(f" what does the {target[0]} {target[1]} ?")
            rows["context"].append(context.strip())
            rows["answers"].append({"text": [target[2]], "answer_start": [answer_start]})
        out[split] = _dataset(rows, "tiny_squad", split)
    return DatasetDict(out)


def _squad_normalize(s: str) -> str:
    import re
    import string

    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", s).split())


def squad_v1(predictions: list[str], golds: list[list[str]]) -> dict[str, float]:
    """The official SQuAD v1.1 script's exact_match and f1 (percent)."""
    import collections

    def f1(pred: str, gold: str) -> float:
        p, g = _squad_normalize(pred).split(), _squad_normalize(gold).split()
        same = sum((collections.Counter(p) & collections.Counter(g)).values())
        if same == 0:
            return 0.0
        precision, recall = same / len(p), same / len(g)
        return 2 * precision * recall / (precision + recall)

    em = [
        max(float(_squad_normalize(p) == _squad_normalize(g)) for g in gs)
        for p, gs in zip(predictions, golds)
    ]
    f = [max(f1(p, g) for g in gs) for p, gs in zip(predictions, golds)]
    return {"exact_match": 100.0 * sum(em) / len(em), "f1": 100.0 * sum(f) / len(f)}


def postprocess_qa_predictions(
    examples: Any,
    features: Any,
    start_logits: Any,
    end_logits: Any,
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> list[str]:
    """``utils_qa.postprocess_qa_predictions`` (SQuAD v1: no null answer)."""
    import collections

    index = {k: i for i, k in enumerate(examples["id"])}
    per_example = collections.defaultdict(list)
    for i, feature in enumerate(features):
        per_example[index[feature["example_id"]]].append(i)
    answers = []
    for example_index, example in enumerate(examples):
        prelim = []
        for feature_index in per_example[example_index]:
            s, e = start_logits[feature_index], end_logits[feature_index]
            offsets = features[feature_index]["offset_mapping"]
            for si in np.argsort(s)[-1 : -n_best_size - 1 : -1].tolist():
                for ei in np.argsort(e)[-1 : -n_best_size - 1 : -1].tolist():
                    if si >= len(offsets) or ei >= len(offsets) or offsets[si] is None or offsets[ei] is None:
                        continue
                    if len(offsets[si]) < 2 or len(offsets[ei]) < 2:
                        continue
                    if ei < si or ei - si + 1 > max_answer_length:
                        continue
                    prelim.append((s[si] + e[ei], example["context"][offsets[si][0] : offsets[ei][1]]))
        prelim.sort(key=lambda x: x[0], reverse=True)
        answers.append(prelim[0][1] if prelim else "empty")
    return answers


def train_qa(out_dir: str | Path, **overrides: Any) -> tuple[Any, Path]:
    """A tiny BERT QA model; its evaluation logs the loss (notebook) and exact match/F1 (run_qa)."""
    import torch
    from transformers import (
        BertConfig,
        BertForQuestionAnswering,
        DataCollatorWithPadding,
        Trainer,
    )

    _one_thread()
    out = Path(out_dir)
    raw = qa_data()
    tokenizer = bert_word_tokenizer(WORDS + [".", "?", "what", "does"], model_max_length=512)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    torch.manual_seed(42)
    model = BertForQuestionAnswering(config)
    max_length, doc_stride = 384, 128

    def tokenize(examples: dict[str, list[Any]], padding: Any = "max_length") -> Any:
        return tokenizer(
            [q.lstrip() for q in examples["question"]],
            examples["context"],
            truncation="only_second",
            max_length=max_length,
            stride=doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=padding,
        )

    def prepare_train_features(examples: dict[str, list[Any]], padding: Any = "max_length") -> Any:
        tokenized = tokenize(examples, padding)
        sample_mapping = tokenized.pop("overflow_to_sample_mapping")
        offset_mapping = tokenized.pop("offset_mapping")
        tokenized["start_positions"], tokenized["end_positions"] = [], []
        for i, offsets in enumerate(offset_mapping):
            input_ids = tokenized["input_ids"][i]
            cls_index = input_ids.index(tokenizer.cls_token_id)
            sequence_ids = tokenized.sequence_ids(i)
            answers = examples["answers"][sample_mapping[i]]
            start_char = answers["answer_start"][0]
            end_char = start_char + len(answers["text"][0])
            token_start_index = 0
            while sequence_ids[token_start_index] != 1:
                token_start_index += 1
            token_end_index = len(input_ids) - 1
            while sequence_ids[token_end_index] != 1:
                token_end_index -= 1
            if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
                tokenized["start_positions"].append(cls_index)
                tokenized["end_positions"].append(cls_index)
            else:
                while token_start_index < len(offsets) and offsets[token_start_index][0] <= start_char:
                    token_start_index += 1
                tokenized["start_positions"].append(token_start_index - 1)
                while offsets[token_end_index][1] >= end_char:
                    token_end_index -= 1
                tokenized["end_positions"].append(token_end_index + 1)
        return tokenized

    def prepare_validation_features(examples: dict[str, list[Any]]) -> Any:
        tokenized = tokenize(examples)
        sample_mapping = tokenized.pop("overflow_to_sample_mapping")
        tokenized["example_id"] = []
        for i in range(len(tokenized["input_ids"])):
            sequence_ids = tokenized.sequence_ids(i)
            tokenized["example_id"].append(examples["id"][sample_mapping[i]])
            tokenized["offset_mapping"][i] = [
                o if sequence_ids[k] == 1 else None for k, o in enumerate(tokenized["offset_mapping"][i])
            ]
        return tokenized

    columns = raw["train"].column_names
    # training batches padded dynamically (run_qa's --pad_to_max_length False); evaluation features
    # padded to max_length (the notebook's and run_qa's default): the padding is part of the loss
    train_features = raw["train"].map(
        prepare_train_features, batched=True, remove_columns=columns, fn_kwargs={"padding": False}
    )
    eval_labelled = raw["validation"].map(prepare_train_features, batched=True, remove_columns=columns)
    eval_features = raw["validation"].map(prepare_validation_features, batched=True, remove_columns=columns)
    examples = raw["validation"]

    class QuestionAnsweringTrainer(Trainer):  # trainer_qa.py's evaluate, on features that carry the answers
        def evaluate(
            self, eval_dataset: Any = None, ignore_keys: Any = None, metric_key_prefix: str = "eval"
        ) -> dict[str, float]:
            output = self.evaluation_loop(
                self.get_eval_dataloader(), description="Evaluation", metric_key_prefix=metric_key_prefix
            )
            start_logits, end_logits = output.predictions
            predictions = postprocess_qa_predictions(examples, eval_features, start_logits, end_logits)
            metrics = squad_v1(predictions, [a["text"] for a in examples["answers"]])
            metrics = {f"{metric_key_prefix}_{k}": v for k, v in metrics.items()}
            metrics[f"{metric_key_prefix}_loss"] = output.metrics[f"{metric_key_prefix}_loss"]
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

    overrides.setdefault("per_device_eval_batch_size", 12)
    overrides.setdefault("learning_rate", 5e-3)
    trainer = QuestionAnsweringTrainer(
        model=model,
        args=_lm_args(out, overrides),
        train_dataset=train_features,
        eval_dataset=eval_labelled,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    trainer.train()
    return _finish(trainer, out, raw["validation"], "tiny-bert-qa", "tiny_squad", "question-answering")


# --------------------------------------------------------------------------------------------------
# Speech recognition, sequence to sequence (Whisper, the "fine-tune Whisper" blog recipe)
# --------------------------------------------------------------------------------------------------

COLOURS = ["red", "blue", "green", "yellow", "black", "white"]
SAMPLING_RATE = 16000


def _utterance(rng: random.Random) -> tuple[np.ndarray, str]:
    """One to four colour words, each a 0.2 s tone of its own pitch, with a little noise."""
    words = [rng.choice(COLOURS) for _ in range(rng.randint(1, 4))]
    t = np.arange(int(0.2 * SAMPLING_RATE)) / SAMPLING_RATE
    audio = np.concatenate([0.5 * np.sin(2 * np.pi * (300 + 180 * COLOURS.index(w)) * t) for w in words])
    audio = audio + np.random.default_rng(rng.randint(0, 10**6)).normal(0, 0.05, audio.shape)
    return audio.astype(np.float32), " ".join(words).capitalize() + "."


def speech_data(n_train: int = 200, n_eval: int = 30, seed: int = 4) -> Any:
    """``audio`` ({"array", "sampling_rate"}) and ``sentence``, as Common Voice holds them."""
    from datasets import DatasetDict

    rng = random.Random(seed)
    out = {}
    for split, n in (("train", n_train), ("validation", n_eval)):
        rows = [_utterance(rng) for _ in range(n)]
        out[split] = _dataset(
            {
                "audio": [{"array": a.tolist(), "sampling_rate": SAMPLING_RATE} for a, _ in rows],
                "sentence": [s for _, s in rows],
            },
            "tiny_speech",
            split,
        )
    return DatasetDict(out)


def whisper_processor() -> Any:
    """A ``WhisperProcessor`` built locally: a byte-level BPE over the colour words, Whisper's special
    tokens, and a 1-second, 16-mel feature extractor."""
    import json

    from tokenizers import ByteLevelBPETokenizer
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    bpe = ByteLevelBPETokenizer()
    corpus = [" ".join(COLOURS).capitalize() + ". " + " ".join(w.capitalize() for w in COLOURS)] * 10
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1, show_progress=False)
    model_json = json.loads(bpe._tokenizer.to_str())["model"]
    vocab = dict(model_json["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model_json["merges"]]
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
    for token in specials:
        vocab[token] = len(vocab)
    tokenizer = WhisperTokenizer(
        vocab=vocab, merges=merges, pad_token="<|endoftext|>", additional_special_tokens=specials[1:]
    )
    extractor = WhisperFeatureExtractor(
        feature_size=16, sampling_rate=SAMPLING_RATE, hop_length=160, chunk_length=1, n_fft=400
    )
    return WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer)


def train_whisper(out_dir: str | Path, **overrides: Any) -> tuple[Any, Path]:
    """A tiny ``WhisperForConditionalGeneration`` fine-tuned as the blog does (WER in percent)."""
    import jiwer
    import torch
    from transformers import (
        Seq2SeqTrainer,
        WhisperConfig,
        WhisperForConditionalGeneration,
    )

    _one_thread()
    out = Path(out_dir)
    raw = speech_data()
    processor = whisper_processor()
    tokenizer, extractor = processor.tokenizer, processor.feature_extractor
    start_id = tokenizer.convert_tokens_to_ids("<|startoftranscript|>")
    end_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=16,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=50,
        max_target_positions=64,
        decoder_start_token_id=start_id,
        pad_token_id=end_id,
        bos_token_id=end_id,
        eos_token_id=end_id,
        suppress_tokens=[],
        begin_suppress_tokens=None,
    )
    torch.manual_seed(42)
    model = WhisperForConditionalGeneration(config)
    model.generation_config.no_timestamps_token_id = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    model.generation_config.is_multilingual = False

    def prepare(batch: dict[str, Any]) -> dict[str, Any]:
        audio = batch["audio"]
        batch["input_features"] = extractor(
            audio["array"], sampling_rate=audio["sampling_rate"]
        ).input_features[0]
        batch["labels"] = tokenizer(batch["sentence"]).input_ids
        return batch

    encoded = raw.map(prepare, remove_columns=["audio", "sentence"])

    class DataCollatorSpeechSeq2SeqWithPadding:
        def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
            batch = extractor.pad(
                [{"input_features": f["input_features"]} for f in features], return_tensors="pt"
            )
            labels_batch = tokenizer.pad([{"input_ids": f["labels"]} for f in features], return_tensors="pt")
            labels = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
            if (labels[:, 0] == start_id).all().cpu().item():
                labels = labels[:, 1:]
            batch["labels"] = labels
            return batch

    def compute_metrics(pred: Any) -> dict[str, float]:
        pred_ids, label_ids = pred.predictions, pred.label_ids
        label_ids[label_ids == -100] = tokenizer.pad_token_id
        pred_str = tokenizer.batch_decode(pred_ids, skip_special_tokens=True)
        label_str = tokenizer.batch_decode(label_ids, skip_special_tokens=True)
        return {"wer": 100 * jiwer.wer(label_str, pred_str)}

    overrides.setdefault("generation_max_length", 225)
    overrides.setdefault("num_train_epochs", 5)
    trainer = Seq2SeqTrainer(
        model=model,
        args=seq2seq_args(out, overrides),
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        processing_class=extractor,
        data_collator=DataCollatorSpeechSeq2SeqWithPadding(),
        compute_metrics=compute_metrics,
    )
    trainer.train()
    processor.save_pretrained(str(out))
    return _finish(
        trainer, out, raw["validation"], "tiny-whisper", "tiny_speech", "automatic-speech-recognition"
    )
