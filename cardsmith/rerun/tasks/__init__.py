"""The rerun tasks: one explicit registry from task names to implementations, and task inference.

:data:`TASKS` maps each supported ``--task`` name to ``"module:Class"`` (imported only when that
task runs, so that ``verify`` pays for no task it does not use). :data:`TASK_NAMES` is SPEC's list
of every name ``--task`` accepts; a name in it but not in :data:`TASKS` is "not supported yet".

:func:`infer_task` reads the task from ``config.json`` (``architectures``, ``problem_type``, the
number of labels, ``model_type``) and, when the architecture does not settle it, from the card
(``model-index`` task type, ``pipeline_tag``). See :mod:`cardsmith.rerun.tasks.base` for the protocol.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cardsmith.errors import UnsupportedTaskError

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.card.model import Card
    from cardsmith.rerun.tasks.base import Task

TEXT_CLASSIFICATION = "text-classification"
TOKEN_CLASSIFICATION = "token-classification"
TEXT_REGRESSION = "text-regression"
MULTI_LABEL = "multi-label-classification"
IMAGE_CLASSIFICATION = "image-classification"
AUDIO_CLASSIFICATION = "audio-classification"
SPEECH_RECOGNITION = "automatic-speech-recognition"
SUMMARIZATION = "summarization"
TRANSLATION = "translation"
TEXT2TEXT = "text2text-generation"
QUESTION_ANSWERING = "question-answering"
CAUSAL_LM = "causal-lm"
MASKED_LM = "masked-lm"

#: Every name ``--task`` accepts (SPEC).
TASK_NAMES: tuple[str, ...] = (
    TEXT_CLASSIFICATION,
    TOKEN_CLASSIFICATION,
    TEXT_REGRESSION,
    MULTI_LABEL,
    IMAGE_CLASSIFICATION,
    AUDIO_CLASSIFICATION,
    SPEECH_RECOGNITION,
    SUMMARIZATION,
    TRANSLATION,
    TEXT2TEXT,
    QUESTION_ANSWERING,
    CAUSAL_LM,
    MASKED_LM,
)

#: The implemented tasks: name -> ``"module:Class"`` (the one explicit registry).
TASKS: dict[str, str] = {
    TEXT_CLASSIFICATION: "cardsmith.rerun.tasks.classification:TextClassification",
    TOKEN_CLASSIFICATION: "cardsmith.rerun.tasks.classification:TokenClassification",
    TEXT_REGRESSION: "cardsmith.rerun.tasks.regression:TextRegression",
    MULTI_LABEL: "cardsmith.rerun.tasks.multilabel:MultiLabelClassification",
    IMAGE_CLASSIFICATION: "cardsmith.rerun.tasks.vision:ImageClassification",
    AUDIO_CLASSIFICATION: "cardsmith.rerun.tasks.audio:AudioClassification",
    SPEECH_RECOGNITION: "cardsmith.rerun.tasks.speech:SpeechRecognition",
    SUMMARIZATION: "cardsmith.rerun.tasks.generative:Summarization",
    TRANSLATION: "cardsmith.rerun.tasks.generative:Translation",
    TEXT2TEXT: "cardsmith.rerun.tasks.generative:Text2Text",
    QUESTION_ANSWERING: "cardsmith.rerun.tasks.generative:QuestionAnswering",
    CAUSAL_LM: "cardsmith.rerun.tasks.generative:CausalLM",
    MASKED_LM: "cardsmith.rerun.tasks.generative:MaskedLM",
}

#: Speech models whose ``*ForSequenceClassification`` head classifies audio, not text.
AUDIO_MODEL_TYPES = frozenset(
    {
        "wav2vec2",
        "wav2vec2-conformer",
        "wav2vec2-bert",
        "hubert",
        "wavlm",
        "data2vec-audio",
        "unispeech",
        "unispeech-sat",
        "sew",
        "sew-d",
        "audio-spectrogram-transformer",
        "whisper",
    }
)

#: Hub task types / pipeline tags -> task names (when the architecture does not settle the task).
CARD_TASKS: dict[str, str] = {
    "text-classification": TEXT_CLASSIFICATION,
    "sentiment-analysis": TEXT_CLASSIFICATION,
    "natural-language-inference": TEXT_CLASSIFICATION,
    "zero-shot-classification": TEXT_CLASSIFICATION,
    "token-classification": TOKEN_CLASSIFICATION,
    "ner": TOKEN_CLASSIFICATION,
    "image-classification": IMAGE_CLASSIFICATION,
    "audio-classification": AUDIO_CLASSIFICATION,
    "automatic-speech-recognition": SPEECH_RECOGNITION,
    "summarization": SUMMARIZATION,
    "translation": TRANSLATION,
    "text2text-generation": TEXT2TEXT,
    "question-answering": QUESTION_ANSWERING,
    "text-generation": CAUSAL_LM,
    "causal-lm": CAUSAL_LM,
    "fill-mask": MASKED_LM,
    "masked-lm": MASKED_LM,
    "text-regression": TEXT_REGRESSION,
    "multi-label-classification": MULTI_LABEL,
}


def supported() -> str:
    """The supported task names, for messages."""
    return ", ".join(TASKS)


def get_task(name: str, *, model: str | None = None) -> Task:
    """The task registered as ``name``; a clear :class:`UnsupportedTaskError` naming the supported ones.

    ``model`` (an architecture name) opens the message when given.
    """
    target = TASKS.get(name)
    if target is None:
        lead = f"{model}: " if model else ""
        if name in TASK_NAMES:
            raise UnsupportedTaskError(
                f"{lead}re-evaluating {name} is not supported yet (supported: {supported()})"
            )
        raise UnsupportedTaskError(f"{lead}unknown task {name!r} (supported: {supported()})")
    return load(target)


def load(target: str) -> Task:
    """An instance of the task class at ``"module:Class"``."""
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    task: Task = cls()
    return task


def num_labels_of(config: dict[str, Any]) -> int:
    """The number of labels of a config dict (``id2label``'s size, else ``num_labels``, else 2)."""
    id2label = config.get("id2label")
    if isinstance(id2label, dict) and id2label:
        return len(id2label)
    try:
        return int(config.get("num_labels") or 2)
    except (TypeError, ValueError):
        return 2


def card_task(card: Card | None) -> str | None:
    """The task a card declares: its ``model-index`` task type, else its ``pipeline_tag``."""
    if card is None:
        return None
    for entry in card.metadata.model_index or []:
        for result in entry.results:
            task = getattr(result, "task", None)
            kind = getattr(task, "type", None) if task is not None else None
            if isinstance(kind, str) and kind.strip().lower() in CARD_TASKS:
                return CARD_TASKS[kind.strip().lower()]
    tag = card.metadata.get("pipeline_tag")
    if isinstance(tag, str) and tag.strip().lower() in CARD_TASKS:
        return CARD_TASKS[tag.strip().lower()]
    return None


def _sequence_task(config: dict[str, Any]) -> str:
    """A ``*ForSequenceClassification`` head: regression, multi-label, audio or text classification."""
    problem = config.get("problem_type")
    if str(config.get("model_type") or "").lower() in AUDIO_MODEL_TYPES:
        return AUDIO_CLASSIFICATION
    if problem == "regression" or (problem is None and num_labels_of(config) == 1):
        return TEXT_REGRESSION
    if problem == "multi_label_classification":
        return MULTI_LABEL
    return TEXT_CLASSIFICATION


def _arch_task(arch: str, config: dict[str, Any], declared: str | None) -> str | None:
    if arch.endswith("ForSequenceClassification"):
        return _sequence_task(config)
    if arch.endswith("ForTokenClassification"):
        return TOKEN_CLASSIFICATION
    if arch.endswith(("ForImageClassification", "ForImageClassificationWithTeacher")):
        if config.get("problem_type") == "multi_label_classification":
            return MULTI_LABEL
        return IMAGE_CLASSIFICATION
    if arch.endswith("ForAudioClassification"):
        return AUDIO_CLASSIFICATION
    if arch.endswith(("ForCTC", "ForSpeechSeq2Seq")):
        return SPEECH_RECOGNITION
    if arch.startswith("Whisper") and arch.endswith("ForConditionalGeneration"):
        return SPEECH_RECOGNITION
    if arch.endswith("ForQuestionAnswering"):
        return QUESTION_ANSWERING
    if arch.endswith(("ForCausalLM", "LMHeadModel")):
        return CAUSAL_LM
    if arch.endswith("ForMaskedLM"):
        return MASKED_LM
    if arch.endswith(("ForConditionalGeneration", "ForSeq2SeqLM")):
        if declared in (SUMMARIZATION, TRANSLATION, TEXT2TEXT):
            return declared
        return TEXT2TEXT
    return None


def architecture(config: dict[str, Any]) -> str | None:
    """``config.json``'s first architecture, if it names one."""
    archs = config.get("architectures")
    return archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None


def _seq2seq_by_metrics(card: Card | None) -> str | None:
    """A seq2seq card's task from its ``metrics`` metadata (the Trainer writes ``metrics: [rouge]`` for
    the summarization recipes, ``[bleu]``/``[sacrebleu]`` for translation)."""
    if card is None:
        return None
    listed = card.metadata.get("metrics")
    names = {str(m).strip().lower() for m in listed} if isinstance(listed, list) else set()
    if "rouge" in names:
        return SUMMARIZATION
    if names & {"bleu", "sacrebleu"}:
        return TRANSLATION
    return None


def infer_task(config: dict[str, Any], card: Card | None = None) -> str:
    """The task to rerun, from ``config.json`` and the card (see the module docstring)."""
    declared = card_task(card)
    archs = config.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None
    if arch is None:
        raw_map = config.get("auto_map")
        auto_map: dict[str, Any] = raw_map if isinstance(raw_map, dict) else {}
        for key in auto_map:
            if isinstance(key, str) and key.startswith("AutoModelFor"):
                arch = "Custom" + key.removeprefix("AutoModel")
                break
    if arch is not None:
        found = _arch_task(arch, config, declared)
        if found == TEXT2TEXT and declared is None:
            found = _seq2seq_by_metrics(card) or found
        if found is not None:
            return found
    if declared is not None:
        if declared == TEXT_CLASSIFICATION:
            return _sequence_task(config)
        return declared
    what = f"{arch}: " if arch else "config.json names no architecture and the card no task; "
    raise UnsupportedTaskError(f"{what}cannot tell the task; pass --task (supported: {supported()})")
