"""What the single-forward-pass tasks share: loading, batching, the forward pass, images and audio.

* :func:`load_auto`: ``AutoModelFor...from_pretrained(use_safetensors=True)`` in eval mode, and a
  processor class' ``from_pretrained``, each failure one clear line.
* :func:`sorted_batches` (longest first, for models whose padding is masked) and
  :func:`trainer_batches` (dataset order, ``eval_batch_size`` each: what ``Trainer.evaluate`` feeds
  the model, needed where padding changes the outputs).
* :func:`forward`: the model call under one error message.
* :func:`read_images` and :func:`read_audio`: the ``image``/``audio`` columns of ``datasets``
  (``Image``/``Audio`` features, ``{"bytes", "path"}`` structs, file paths, decoded arrays) without
  network and without torchcodec: audio is read with soundfile (libsndfile) from the stored bytes
  (``Audio(decode=False)``), mixed down to mono and resampled with scipy when its rate differs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cardsmith.errors import DatasetError
from cardsmith.rerun.run import Progress, encode_texts, forward, load_auto, load_processor, max_length, short

#: Examples per forward pass when ``--batch-size`` is not given.
DEFAULT_BATCH_SIZE = 32

IMAGE_COLUMNS = ["image", "img", "picture", "photo"]
AUDIO_COLUMNS = ["audio", "speech", "wav", "file", "path"]
LABEL_COLUMNS = ["label", "labels", "label_id", "class", "target", "fine_label"]
TRANSCRIPT_COLUMNS = ["text", "sentence", "transcription", "transcript", "normalized_text", "raw_text"]


def sorted_batches(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Example indices in batches of ``size``, longest first: little padding, any order is fine."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[i : i + size] for i in range(0, len(order), size)]


def trainer_batches(n: int, eval_batch_size: int) -> list[list[int]]:
    """The Trainer's evaluation batches: dataset order, ``eval_batch_size`` each (the last one shorter)."""
    return [list(range(i, min(i + eval_batch_size, n))) for i in range(0, n, eval_batch_size)]


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------


def _base_dir(source_name: str) -> Path:
    path = Path(source_name).expanduser()
    return path.parent if path.is_file() else path if path.is_dir() else Path.cwd()


def _open_image(value: Any, base: Path, index: int) -> Any:
    from PIL import Image

    if hasattr(value, "convert") and hasattr(value, "size"):
        return value
    try:
        if isinstance(value, dict):
            if value.get("bytes"):
                return Image.open(io.BytesIO(value["bytes"]))
            value = value.get("path")
        if isinstance(value, str) and value:
            path = Path(value)
            return Image.open(path if path.is_absolute() else base / path)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"example {index}: the image cannot be read ({short(exc)})") from None
    raise DatasetError(f"example {index}: no image (an Image feature, image bytes or a file path)")


def read_images(dataset: Any, column: str, indices: Sequence[int], source_name: str) -> list[Any]:
    """The images of ``indices`` as RGB PIL images (decoded by datasets' ``Image`` feature or by PIL)."""
    base = _base_dir(source_name)
    rows = dataset.select(list(indices))[column] if len(indices) != len(dataset) else dataset[column]
    return [_open_image(value, base, i).convert("RGB") for i, value in zip(indices, rows)]


# --------------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------------


def _resample(array: Any, rate: int, target: int) -> Any:
    """Polyphase resampling (scipy) from ``rate`` to ``target`` Hz."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(array, int(target) // g, int(rate) // g).astype("float32")


def _decode_audio(value: Any, base: Path, index: int) -> tuple[Any, int]:
    import numpy as np
    import soundfile

    if isinstance(value, dict) and value.get("array") is not None:
        rate = value.get("sampling_rate")
        if not rate:
            raise DatasetError(f"example {index}: an audio array without its sampling_rate")
        return np.asarray(value["array"], dtype="float32"), int(rate)
    data: Any = None
    name = ""
    if isinstance(value, dict):
        data = value.get("bytes")
        name = str(value.get("path") or "")
        if not data and name:
            data = None
    elif isinstance(value, str):
        name = value
    try:
        if data:
            array, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=False)
        elif name:
            path = Path(name)
            array, rate = soundfile.read(str(path if path.is_absolute() else base / path), dtype="float32")
        else:
            raise DatasetError(f"example {index}: no audio (an Audio feature, audio bytes or a file path)")
    except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:
        raise DatasetError(
            f"example {index}: the audio {name or '(bytes)'} cannot be decoded by soundfile/libsndfile "
            f"({short(exc)}); datasets' own decoder needs torchcodec (FFmpeg), which cardsmith does not "
            "use: convert the audio to WAV or FLAC"
        ) from None
    return array, int(rate)


def read_audio(
    dataset: Any, column: str, sampling_rate: int, source_name: str
) -> tuple[list[Any], list[str]]:
    """Every example's audio as float32 mono at ``sampling_rate``; and notes (mixing, resampling).

    An ``Audio`` feature is read undecoded (``Audio(decode=False)``: its stored bytes or path),
    so that no torchcodec/FFmpeg is needed.
    """
    import numpy as np
    from datasets import Audio

    feature = dataset.features.get(column)
    if isinstance(feature, Audio):
        dataset = dataset.cast_column(column, Audio(decode=False))
    base = _base_dir(source_name)
    out: list[Any] = []
    rates: set[int] = set()
    mixed = 0
    for i, value in enumerate(dataset[column]):
        array, rate = _decode_audio(value, base, i)
        if array.ndim == 2:  # soundfile: (frames, channels)
            array = array.mean(axis=1).astype("float32")
            mixed += 1
        if rate != sampling_rate:
            rates.add(rate)
            array = _resample(array, rate, sampling_rate)
        out.append(np.ascontiguousarray(array, dtype="float32"))
    notes = []
    if mixed:
        notes.append(f"{mixed} multi-channel clips mixed down to mono")
    if rates:
        notes.append(
            f"resampled from {', '.join(str(r) for r in sorted(rates))} Hz to {sampling_rate} Hz with scipy "
            "(datasets resamples with FFmpeg: tiny differences are possible)"
        )
    return out, notes


def chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------


def text_logits(
    model: Any,
    ids: list[list[int]],
    type_ids: list[list[int]] | None,
    pad_id: int,
    *,
    batch_size: int,
    device: Any,
    progress: bool,
) -> Iterator[tuple[list[int], Any]]:
    """``(batch indices, float32 logits)`` over length-sorted, dynamically padded batches."""
    import torch

    with Progress(len(ids), progress) as bar, torch.inference_mode():
        for batch in sorted_batches([len(x) for x in ids], batch_size):
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), int(pad_id), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            types = torch.zeros((len(batch), width), dtype=torch.long) if type_ids is not None else None
            for row, i in enumerate(batch):
                n = len(ids[i])
                input_ids[row, :n] = torch.tensor(ids[i], dtype=torch.long)
                mask[row, :n] = 1
                if types is not None and type_ids is not None:
                    types[row, :n] = torch.tensor(type_ids[i], dtype=torch.long)
            inputs = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
            if types is not None:
                inputs["token_type_ids"] = types.to(device)
            yield batch, forward(model, inputs).logits.float()
            bar.advance(len(batch))


def text_columns(ctx: Any) -> list[str]:
    """The input text column(s): ``--text-column`` (one, or two for pairs), else the conventional names."""
    from cardsmith.rerun.data import PAIR_COLUMNS, TEXT_COLUMNS

    names = list(ctx.dataset.column_names)
    given = [c.strip() for c in (ctx.columns.get("text") or "").split(",") if c.strip()]
    for col in given:
        if col not in names:
            raise DatasetError(f"no column {col!r} in the dataset (columns: {', '.join(names)})")
    if len(given) > 2:
        raise DatasetError("--text-column takes at most 2 columns")
    if given:
        return given
    for a, b in PAIR_COLUMNS:
        if a in names and b in names:
            return [a, b]
    for col in TEXT_COLUMNS:
        if col in names:
            return [col]
    raise DatasetError(f"cannot tell the input column (columns: {', '.join(names)}); pass --text-column")


def classifier_inputs(
    ctx: Any, kind: str, columns: list[str], auto_model: str, auto_processor: str, what: str
) -> tuple[str, list[int], Any, Any, Any]:
    """What an image or audio classifier's rerun starts from: ``(input column, label ids, device,
    model, processor)``, the input column found by its conventional names (``columns``) or ``--*-column``."""
    from cardsmith.rerun.data import label_ids

    column = ctx.column(kind, columns)
    label_column = ctx.column("label", LABEL_COLUMNS, exclude=[column])
    refs = label_ids(ctx.dataset, label_column, ctx.config, ctx.source.name)
    device, model, processor = load_model_and_processor(ctx, auto_model, auto_processor, what)
    return column, refs, device, model, processor


def load_model_and_processor(
    ctx: Any, auto_model: str, auto_processor: str, what: str
) -> tuple[Any, Any, Any]:
    """``(device, model, processor)``: the checkpoint's model (``auto_model``, e.g.
    ``AutoModelForCTC``) on the chosen device and its processor (``auto_processor``; ``what`` names it
    in errors)."""
    from cardsmith.rerun.run import pick_device

    device = pick_device(ctx.device)
    model = load_auto(
        auto_model, ctx.model_path, device=device, dtype=ctx.dtype, trust_remote_code=ctx.trust_remote_code
    )
    processor = load_processor(
        auto_processor, ctx.model_path, trust_remote_code=ctx.trust_remote_code, what=what
    )
    return device, model, processor


def sequence_logits(ctx: Any, texts: Sequence[str]) -> tuple[Any, int, Iterator[tuple[list[int], Any]]]:
    """The checkpoint's sequence-classification head over the ``texts`` columns of the rerun's data:
    the device, the number of examples, and ``(batch indices, float32 logits)`` over length-sorted
    batches."""
    device, model, tokenizer = load_model_and_processor(
        ctx, "AutoModelForSequenceClassification", "AutoTokenizer", "tokenizer"
    )
    ids, type_ids = encode_texts(tokenizer, ctx.dataset, texts, max_length(tokenizer, model))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batches = text_logits(
        model,
        ids,
        type_ids,
        int(pad),
        batch_size=ctx.batch_size or DEFAULT_BATCH_SIZE,
        device=device,
        progress=ctx.progress,
    )
    return device, len(ids), batches
