"""One entry per issue-#13 task: from a checkpoint folder, an evaluation split and the card's claims
to the settings that reproduce the card (or the closest ones) and every reproduced number.

The task-specific logic lives in ``generation`` (summarization, translation, text2text),
``speech_seq2seq`` (Whisper), ``extractive_qa``, ``language_modeling`` (causal and masked LM);
this module picks the model class, the columns and the metric names, and calls it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardsmith.card.metric_names import ACCURACY, LOSS, PERPLEXITY
from cardsmith.errors import DatasetError, EvaluationError
from cardsmith.rerun.tasks.extractive_qa import QA_METRICS
from cardsmith.rerun.tasks.generation import SEQ2SEQ_METRICS, Claim, SearchResult, card_claims
from cardsmith.rerun.tasks.speech_seq2seq import ASR_METRICS

SUMMARIZATION = "summarization"
TRANSLATION = "translation"
TEXT2TEXT = "text2text-generation"
SPEECH = "automatic-speech-recognition"
QA = "question-answering"
CAUSAL = "causal-lm"
MASKED = "masked-lm"
TASKS = (SUMMARIZATION, TRANSLATION, TEXT2TEXT, SPEECH, QA, CAUSAL, MASKED)

#: What a language-model rerun recomputes.
LM_METRICS = frozenset({LOSS, ACCURACY, PERPLEXITY})
METRIC_NAMES: dict[str, frozenset[str]] = {
    SUMMARIZATION: SEQ2SEQ_METRICS,
    TRANSLATION: SEQ2SEQ_METRICS,
    TEXT2TEXT: SEQ2SEQ_METRICS,
    SPEECH: ASR_METRICS,
    QA: QA_METRICS,
    CAUSAL: LM_METRICS,
    MASKED: LM_METRICS,
}
AUTO_CLASS = {
    SUMMARIZATION: "AutoModelForSeq2SeqLM",
    TRANSLATION: "AutoModelForSeq2SeqLM",
    TEXT2TEXT: "AutoModelForSeq2SeqLM",
    SPEECH: "AutoModelForSpeechSeq2Seq",
    QA: "AutoModelForQuestionAnswering",
    CAUSAL: "AutoModelForCausalLM",
    MASKED: "AutoModelForMaskedLM",
}
#: Conventional column names: (inputs, targets), most common first.
SOURCE_COLUMNS = [
    "document",
    "article",
    "dialogue",
    "text",
    "input",
    "source",
    "inputs",
    "content",
    "sentence",
]
TARGET_COLUMNS = ["summary", "highlights", "abstract", "target", "output", "targets", "label", "labels"]
SPEECH_TEXT_COLUMNS = [
    "sentence",
    "text",
    "transcription",
    "transcript",
    "normalized_text",
    "raw_transcription",
]


def seq2seq_task(config: dict[str, Any], claimed_names: Sequence[str]) -> str | None:
    """The task of an encoder-decoder checkpoint: Whisper-like speech, else what the card's metrics say."""
    archs = [a for a in (config.get("architectures") or []) if isinstance(a, str)]
    model_type = str(config.get("model_type", "")).lower()
    if model_type in ("whisper", "speech-encoder-decoder", "speech_to_text") or any(
        a.startswith(("Whisper", "SpeechEncoderDecoder", "Speech2Text")) for a in archs
    ):
        return SPEECH
    if not any(a.endswith(("ForConditionalGeneration", "MTModel")) or "EncoderDecoder" in a for a in archs):
        return None
    low = [n.lower() for n in claimed_names]
    if any("rouge" in n for n in low):
        return SUMMARIZATION
    if any("bleu" in n for n in low):
        return TRANSLATION
    return TEXT2TEXT


def task_from_config(config: dict[str, Any], claimed_names: Sequence[str] = ()) -> str | None:
    """One of :data:`TASKS` from ``config.json``'s architecture, or ``None``."""
    archs = [a for a in (config.get("architectures") or []) if isinstance(a, str)]
    if any(a.endswith("ForQuestionAnswering") for a in archs):
        return QA
    if any(a.endswith("ForMaskedLM") for a in archs):
        return MASKED
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs) and not config.get(
        "is_encoder_decoder"
    ):
        return CAUSAL
    return seq2seq_task(config, claimed_names)


@dataclass
class TaskRerun:
    """What a task rerun needs beyond the task logic itself."""

    model_dir: Path
    task: str
    dataset: Any
    claims: dict[str, Claim]
    eval_batch_size: int = 8
    seed: int = 42
    evaluations: int = 1
    device: Any = "cpu"
    batch_size: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    trust_remote_code: bool = False
    model_name: str = ""
    source_name: str = ""


def claims_for(task: str, headline: Sequence[tuple[str, Any]]) -> dict[str, Claim]:
    """The claims of the card's printed ``(name, Cell)`` pairs that ``task`` can recompute."""
    return card_claims(headline, METRIC_NAMES[task])


def _column(names: Sequence[str], wanted: Sequence[str], given: str | None, what: str) -> str:
    if given:
        if given not in names:
            raise DatasetError(f"the dataset has no column {given!r} (columns: {', '.join(names)})")
        return given
    for name in wanted:
        if name in names:
            return name
    raise DatasetError(f"cannot tell the {what} column among {', '.join(names)}; name it with --*-column")


def _translation_pair(
    rows: Sequence[dict[str, Any]], model_name: str, config: dict[str, Any]
) -> tuple[str, str]:
    keys = list(rows[0]) if rows else []
    if len(keys) != 2:
        raise DatasetError(f"a translation column needs two languages, found {keys}")
    low = model_name.lower().replace("_", "-")
    for a, b in (keys, keys[::-1]):
        if f"{a}-{b}" in low or f"{a}-to-{b}" in low:
            return a, b
    return keys[0], keys[1]


def _load(req: TaskRerun) -> tuple[Any, Any, dict[str, Any]]:
    import transformers

    config = json.loads((req.model_dir / "config.json").read_text(encoding="utf-8"))
    auto = getattr(transformers, AUTO_CLASS[req.task])
    try:
        if req.task == SPEECH:
            processor = transformers.AutoProcessor.from_pretrained(
                str(req.model_dir), trust_remote_code=req.trust_remote_code
            )
        else:
            processor = transformers.AutoTokenizer.from_pretrained(
                str(req.model_dir), trust_remote_code=req.trust_remote_code
            )
        model = auto.from_pretrained(
            str(req.model_dir), use_safetensors=True, trust_remote_code=req.trust_remote_code
        )
    except Exception as exc:  # noqa: BLE001 - one clear line
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise EvaluationError(
            f"cannot load the {req.task} checkpoint: {type(exc).__name__}: {first}"
        ) from None
    model.to(req.device)
    model.eval()
    return model, processor, config


def run_task(req: TaskRerun) -> SearchResult:
    """Rerun ``req.task``: find the settings that reproduce ``req.claims``; every number reproduced."""
    from cardsmith.rerun.tasks import extractive_qa, generation, language_modeling, speech_seq2seq

    if req.task not in TASKS:
        raise EvaluationError(f"{req.task}: not a generation, span or language-model task")
    ds = req.dataset
    names = list(ds.column_names)
    model, processor, config = _load(req)
    size = req.batch_size
    if req.task in (SUMMARIZATION, TRANSLATION, TEXT2TEXT):
        if "translation" in names and not req.columns.get("text"):
            rows = list(ds["translation"])
            src, tgt = _translation_pair(rows, req.model_name or str(req.model_dir), config)
            sources, targets = [r[src] for r in rows], [r[tgt] for r in rows]
        else:
            source = _column(names, SOURCE_COLUMNS, req.columns.get("text"), "input text")
            target = _column(names, TARGET_COLUMNS, req.columns.get("label"), "target text")
            sources, targets = [str(x) for x in ds[source]], [str(x) for x in ds[target]]
        return generation.reproduce_seq2seq(
            model,
            processor,
            config,
            sources,
            targets,
            req.claims,
            task=req.task,
            eval_batch_size=req.eval_batch_size,
            seed=req.seed,
            evaluations=req.evaluations,
            device=req.device,
            batch_size=size or 64,
        )
    if req.task == SPEECH:
        audio = _column(names, ["audio", "speech"], req.columns.get("audio"), "audio")
        text = _column(
            names, SPEECH_TEXT_COLUMNS, req.columns.get("label") or req.columns.get("text"), "transcript"
        )
        from cardsmith.rerun.tasks.common import read_audio

        rate = int(processor.feature_extractor.sampling_rate)
        # Audio features read from their stored bytes/paths (soundfile, no torchcodec), resampled if needed
        arrays, _notes = read_audio(ds, audio, rate, req.source_name)
        audios = [(a, rate) for a in arrays]
        return speech_seq2seq.reproduce_whisper(
            model,
            processor,
            audios,
            [str(t) for t in ds[text]],
            req.claims,
            eval_batch_size=req.eval_batch_size,
            device=req.device,
            batch_size=size or 32,
        )
    if req.task == QA:
        q = _column(names, ["question"], req.columns.get("question"), "question")
        c = _column(names, ["context"], req.columns.get("context"), "context")
        a = _column(names, ["answers"], req.columns.get("answers"), "answers")
        return extractive_qa.reproduce_qa(
            model,
            processor,
            list(ds[q]),
            list(ds[c]),
            list(ds[a]),
            req.claims,
            eval_batch_size=req.eval_batch_size,
            device=req.device,
            batch_size=size or 64,
        )
    text_col = _column(names, ["text", "content", "sentence", "document"], req.columns.get("text"), "text")
    texts = [str(t) for t in ds[text_col]]
    if req.task == CAUSAL:
        return language_modeling.reproduce_causal_lm(
            model,
            processor,
            config,
            texts,
            req.claims,
            eval_batch_size=req.eval_batch_size,
            device=req.device,
            batch_size=size or 16,
        )
    return language_modeling.reproduce_masked_lm(
        model, processor, config, texts, req.claims, eval_batch_size=req.eval_batch_size, device=req.device
    )


# --------------------------------------------------------------------------------------------------
# The rerun task protocol (cardsmith.rerun.tasks.base): one Task class per issue-#13 task
# --------------------------------------------------------------------------------------------------


def _evaluations(card: Any) -> int:
    """How many evaluations the run logged before (and including) the headline: the table's rows, plus
    one for a final ``trainer.evaluate()``; at least 1."""
    table = getattr(card, "results", None)
    rows = len(getattr(table, "rows", None) or [])
    return max(rows, 0) + 1


def _seed(card: Any) -> int:
    hp = getattr(card, "hyperparameters", None)
    seed = getattr(hp, "seed", None) if hp is not None else None
    return int(seed) if isinstance(seed, int) else 42


def _model_name(card: Any, model_path: Path) -> str:
    title = getattr(card, "title", None)
    return f"{title or ''} {model_path.name}"


def run_protocol(task: str, ctx: Any) -> Any:
    """Run ``task`` for a :class:`~cardsmith.rerun.tasks.base.TaskContext`; a ``TaskResult`` whose
    verdicts judge every claim the task recomputes (scale, sampling error and settings included).

    The claims' canonical keys (:func:`cardsmith.card.metric_names.canonical_metric`) are the keys
    the task computes (``loss``, ``rouge1``... ``gen_len``, ``bleu``, ``exact_match``, ``f1``,
    ``wer``, ``cer``, ``accuracy``, ``perplexity``).
    """
    from cardsmith.rerun.run import pick_device
    from cardsmith.rerun.tasks.base import TaskResult, Verdict

    known = METRIC_NAMES[task]
    claims = {
        str(c.key): Claim(float(c.cell.value), float(c.cell.half_ulp))
        for c in ctx.claims
        if c.key in known and c.cell.value is not None
    }
    device = pick_device(ctx.device)
    req = TaskRerun(
        model_dir=Path(ctx.model_path),
        task=task,
        dataset=ctx.dataset,
        claims=claims,
        eval_batch_size=ctx.eval_batch_size,
        seed=_seed(ctx.card),
        evaluations=_evaluations(ctx.card),
        device=device,
        batch_size=ctx.batch_size,
        columns=dict(ctx.columns),
        trust_remote_code=ctx.trust_remote_code,
        model_name=_model_name(ctx.card, Path(ctx.model_path)),
        source_name=str(getattr(ctx.source, "name", "") or ""),
    )
    result = run_task(req)
    verdicts = {
        key: Verdict(value=r.value, match=r.match, note=r.note or None, within=r.within)
        for key, r in result.metrics.items()
    }
    return TaskResult(
        values={},
        settings=dict(result.settings),
        examples=len(ctx.dataset),
        device=str(getattr(device, "type", device)),
        seconds=round(result.seconds, 3),
        verdicts=verdicts,
    )
