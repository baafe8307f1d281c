"""The issue-#13 rerun tasks as protocol classes (:mod:`cardsmith.rerun.tasks.base`).

Each class names its task and the line of the README's task table; :func:`runners.run_protocol`
does the work (settings search, the Trainer's loss, every claimed metric judged on the card's scale).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cardsmith.rerun.tasks import runners
from cardsmith.rerun.tasks.base import Task


class _Generative(Task):
    def run(self, ctx: Any) -> Any:
        return runners.run_protocol(self.name, ctx)


class Summarization(_Generative):
    name: ClassVar[str] = runners.SUMMARIZATION
    reproduces: ClassVar[str] = (
        "loss (Seq2SeqTrainer: plain mean of batch means), ROUGE-1/2/L/Lsum (stemming on/off, sentences on "
        "their own lines or not, evaluate's bootstrap median replayed from the seed, or the mean), Gen Len; "
        "generation config of the checkpoint, else max_length 128, else 4 beams; source prefix"
    )


class Translation(_Generative):
    name: ClassVar[str] = runners.TRANSLATION
    reproduces: ClassVar[str] = (
        "loss (Seq2SeqTrainer), sacreBLEU (13a, exp smoothing; percent or fraction), Gen Len; generation "
        "config of the checkpoint, else max_length 128, else 4 beams"
    )


class Text2Text(_Generative):
    name: ClassVar[str] = runners.TEXT2TEXT
    reproduces: ClassVar[str] = (
        "as summarization/translation: loss, ROUGE, BLEU, Gen Len with the same settings"
    )


class WhisperSpeechRecognition(_Generative):
    name: ClassVar[str] = runners.SPEECH
    reproduces: ClassVar[str] = (
        "sequence-to-sequence speech (Whisper): loss (Seq2SeqTrainer), WER/CER with no normalisation or "
        "BasicTextNormalizer, percent or fraction; generation config, else max_length 225"
    )


class QuestionAnswering(_Generative):
    name: ClassVar[str] = runners.QA
    reproduces: ClassVar[str] = (
        "loss on the answer-labelled features (padded to max_length as the Trainer was), exact match / F1 "
        "(SQuAD v1.1 or v2 normalisation, n-best 20, max answer 30); max_length/doc_stride 384/128, 512/128, 256/64"
    )


class CausalLM(_Generative):
    name: ClassVar[str] = runners.CAUSAL
    reproduces: ClassVar[str] = (
        "loss (transformers 5 Trainer: shifted losses over all label tokens, or over shifted ones), accuracy, "
        "perplexity; group_texts block size: run_clm's default, 128, 256, 512, 1024, the model's maximum"
    )


class MaskedLM(_Generative):
    name: ClassVar[str] = runners.MASKED
    reproduces: ClassVar[str] = (
        "loss, masked-token accuracy, perplexity within the sampling error of random 15% masking (8 seeds, "
        "3 sd); group_texts block size or line by line"
    )
