"""Run a checkpoint over the evaluation data, fast, and keep what the Trainer's numbers need.

Speed comes from what ``Trainer.evaluate`` does not do: examples are sorted by length and batched
with dynamic padding (little compute is spent on padding), the forward pass runs under
``torch.inference_mode``, and nothing is gathered but argmax predictions and per-example loss terms.
Exactness comes from fp32 by default (``bf16``/``fp16`` on request) and from keeping, for every
example, its summed loss and its number of loss terms, so that :func:`cardsmith.rerun.metrics.trainer_loss`
can regroup them into the Trainer's batches (dataset order, ``eval_batch_size`` each) afterwards.

The device is picked automatically: cuda, then mps, then cpu.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardsmith.errors import EvaluationError, MissingExtraError, UnsupportedTaskError
from cardsmith.rerun.data import SEQUENCE, TOKEN, EvalData

#: Examples per forward pass when ``--batch-size`` is not given.
DEFAULT_BATCH_SIZE = 32
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass
class EvalOutput:
    """Per-example results, in dataset order.

    ``predictions``/``references``: label ids (one per example, or one list per example for
    token classification, over the words that carry a label). ``loss_sums``/``loss_counts``: each
    example's summed loss and number of loss terms.
    """

    predictions: list[Any]
    references: list[Any]
    loss_sums: list[float]
    loss_counts: list[int]
    device: str
    dtype: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def examples(self) -> int:
        return len(self.predictions)


#: What ``verify --rerun`` imports (the ``eval`` extra), checked before any work starts.
EVAL_MODULES = ("torch", "transformers", "datasets", "sklearn", "seqeval")


def require_eval_extra() -> None:
    """Fail early and clearly when the ``eval`` extra is not installed."""
    import importlib.util

    missing = []
    for name in EVAL_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f're-running needs the eval extra ({", ".join(missing)} missing): pip install "cardsmith[eval]"'
        )


def pick_device(requested: str = "auto") -> Any:
    """``auto`` -> cuda, else mps, else cpu; an explicit device that is not there is an error."""
    try:
        import torch
    except ImportError:  # pragma: no cover - the eval extra is installed in tests
        raise MissingExtraError('re-running needs the eval extra: pip install "cardsmith[eval]"') from None
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if requested in (None, "", "auto"):
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if requested == "cuda" and not cuda:
        raise EvaluationError("--device cuda: no CUDA device is available")
    if requested == "mps" and not mps:
        raise EvaluationError("--device mps: no Apple MPS device is available")
    return torch.device(requested)


def load_model(
    path: Path, task: str, *, device: Any, dtype: str = "fp32", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """``AutoModelFor...from_pretrained(path, use_safetensors=True)`` and ``AutoTokenizer``, in eval mode."""
    torch_dtype_name(dtype)  # an unknown dtype is said before anything loads
    tokenizer = load_processor("AutoTokenizer", path, trust_remote_code=trust_remote_code, what="tokenizer")
    auto = "AutoModelForTokenClassification" if task == TOKEN else "AutoModelForSequenceClassification"
    model = load_auto(auto, path, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    return model, tokenizer


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence transformers' and datasets' own progress bars and info logs for the duration."""
    import datasets
    import transformers

    bars = transformers.utils.logging.is_progress_bar_enabled()
    verbosity = transformers.utils.logging.get_verbosity()
    ds_bars = datasets.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    datasets.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            transformers.utils.logging.enable_progress_bar()
        transformers.utils.logging.set_verbosity(verbosity)
        if ds_bars:
            datasets.utils.logging.enable_progress_bar()


def torch_dtype_name(dtype: str) -> str:
    """The torch dtype of a ``--dtype`` name (``bf16`` -> ``bfloat16``); an unknown name is an error."""
    if dtype not in DTYPES:
        raise EvaluationError(f"unknown dtype {dtype!r} (fp32, bf16, fp16)")
    return DTYPES[dtype]


def short(exc: BaseException) -> str:
    """The first line of an exception's message, at most 300 characters (for one-line errors)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""


def load_auto(auto_name: str, path: Path, *, device: Any, dtype: str, trust_remote_code: bool) -> Any:
    """``transformers.<auto_name>.from_pretrained(path, use_safetensors=True)``, moved and in eval mode."""
    import torch
    import transformers

    torch_dtype = getattr(torch, torch_dtype_name(dtype))
    auto = getattr(transformers, auto_name)
    try:
        model = auto.from_pretrained(
            str(path),
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            dtype=torch_dtype,
        )
    except Exception as exc:  # noqa: BLE001 - a broken checkpoint: one clear line
        raise EvaluationError(
            f"cannot load the model from {path}: {type(exc).__name__}: {short(exc)}"
        ) from None
    model.to(device)
    model.eval()
    return model


def load_processor(auto_name: str, path: Path, *, trust_remote_code: bool, what: str) -> Any:
    """``transformers.<auto_name>.from_pretrained(path)`` (tokenizer, image processor, feature extractor)."""
    import transformers

    try:
        return getattr(transformers, auto_name).from_pretrained(
            str(path), trust_remote_code=trust_remote_code
        )
    except Exception as exc:  # noqa: BLE001
        raise EvaluationError(
            f"cannot load the {what} from {path}: {type(exc).__name__}: {short(exc)}"
        ) from None


def forward(model: Any, inputs: dict[str, Any]) -> Any:
    """``model(**inputs)``; a model that cannot run is one clear line."""
    try:
        return model(**inputs)
    except Exception as exc:  # noqa: BLE001
        raise EvaluationError(f"the forward pass failed: {type(exc).__name__}: {short(exc)}") from None


def max_length(tokenizer: Any, model: Any) -> int:
    """The longest input a rerun tokenizes: the tokenizer's and the model's limit (512 when neither says)."""
    limit = getattr(tokenizer, "model_max_length", None)
    pos = getattr(model.config, "max_position_embeddings", None)
    candidates = [v for v in (limit, pos) if isinstance(v, int) and 0 < v < 1_000_000]
    return min(candidates) if candidates else 512


def encode(
    data: EvalData, tokenizer: Any, max_length: int
) -> tuple[list[list[int]], list[list[int]] | None, list[list[int]] | None]:
    """Tokenize every example (no padding): input ids, token type ids, and for token tasks the labels.

    Token classification labels each word's first sub-token and sets -100 elsewhere (special tokens,
    later sub-tokens), as transformers' ``run_ner`` example does with ``word_ids()``.
    """
    ds = data.dataset
    if data.task == TOKEN:
        if not getattr(tokenizer, "is_fast", False):
            raise UnsupportedTaskError("token classification needs a fast tokenizer (tokenizer.json)")
        words = [list(w) for w in ds[data.text_columns[0]]]
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        labels: list[list[int]] = []
        for i, tags in enumerate(data.references):
            previous = None
            row: list[int] = []
            for word_id in enc.word_ids(batch_index=i):
                if word_id is None or word_id == previous:
                    row.append(-100)
                else:
                    row.append(int(tags[word_id]))
                previous = word_id
            labels.append(row)
        return enc["input_ids"], enc.get("token_type_ids"), labels
    ids, type_ids = encode_texts(tokenizer, ds, data.text_columns, max_length)
    return ids, type_ids, None


def encode_texts(
    tokenizer: Any, dataset: Any, columns: Sequence[str], limit: int
) -> tuple[list[list[int]], list[list[int]] | None]:
    """``tokenizer(texts[, pairs], truncation=True)`` as the recipes do; input ids and token type ids."""
    first = [str(t) if t is not None else "" for t in dataset[columns[0]]]
    if len(columns) == 2:
        second = [str(t) if t is not None else "" for t in dataset[columns[1]]]
        enc = tokenizer(first, second, truncation=True, max_length=limit)
    else:
        enc = tokenizer(first, truncation=True, max_length=limit)
    return enc["input_ids"], enc.get("token_type_ids")


class Progress:
    """The rerun's one progress bar: rich, on stderr, examples done and examples/s; nothing when
    disabled (``--no-progress``). Every task's evaluation loop advances it."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.done = 0
        self.start = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:  # noqa: PYI034
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]evaluating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("eval", total=self.total, rate="")
        return self

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            rate = self.done / max(time.perf_counter() - self.start, 1e-9)
            self._bar.update(self._task, advance=n, rate=f"{rate:,.0f} examples/s")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def run_evaluation(
    model_path: Path,
    data: EvalData,
    *,
    device: str = "auto",
    dtype: str = "fp32",
    batch_size: int | None = None,
    trust_remote_code: bool = False,
    progress: bool = True,
) -> EvalOutput:
    """Evaluate the checkpoint at ``model_path`` on ``data``; per-example predictions and loss terms."""
    import torch

    start = time.perf_counter()
    dev = pick_device(device)
    model, tokenizer = load_model(
        model_path, data.task, device=dev, dtype=dtype, trust_remote_code=trust_remote_code
    )
    ids, type_ids, token_labels = encode(data, tokenizer, max_length(tokenizer, model))
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = getattr(model.config, "pad_token_id", None) or 0
    n = len(ids)
    order = sorted(range(n), key=lambda i: len(ids[i]), reverse=True)
    size = batch_size or DEFAULT_BATCH_SIZE
    predictions: list[Any] = [None] * n
    references: list[Any] = [None] * n
    sums = [0.0] * n
    counts = [0] * n
    seq_refs = data.references if data.task == SEQUENCE else None
    num_labels = int(model.config.num_labels)

    with Progress(n, progress) as bar, torch.inference_mode():
        for begin in range(0, n, size):
            batch = order[begin : begin + size]
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), int(pad_id), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            types = torch.zeros((len(batch), width), dtype=torch.long) if type_ids is not None else None
            labels = (
                torch.full((len(batch), width), -100, dtype=torch.long) if token_labels is not None else None
            )
            for row, i in enumerate(batch):
                length = len(ids[i])
                input_ids[row, :length] = torch.tensor(ids[i], dtype=torch.long)
                mask[row, :length] = 1
                if types is not None and type_ids is not None:
                    types[row, :length] = torch.tensor(type_ids[i], dtype=torch.long)
                if labels is not None and token_labels is not None:
                    labels[row, :length] = torch.tensor(token_labels[i], dtype=torch.long)
            inputs = {"input_ids": input_ids.to(dev), "attention_mask": mask.to(dev)}
            if types is not None:
                inputs["token_type_ids"] = types.to(dev)
            try:
                logits = model(**inputs).logits.float()
            except Exception as exc:  # noqa: BLE001 - a model that cannot run: one clear line
                raise EvaluationError(
                    f"the forward pass failed: {type(exc).__name__}: {short(exc)}"
                ) from None
            if data.task == TOKEN and labels is not None:
                labels = labels.to(dev)
                losses = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, num_labels), labels.reshape(-1), ignore_index=-100, reduction="none"
                ).reshape(labels.shape)
                valid = labels.ne(-100)
                row_sums = (losses * valid).sum(dim=1).double().cpu().tolist()
                row_counts = valid.sum(dim=1).cpu().tolist()
                preds = logits.argmax(dim=-1).cpu()
                labels_cpu = labels.cpu()
                valid_cpu = valid.cpu()
                for row, i in enumerate(batch):
                    keep = valid_cpu[row]
                    predictions[i] = preds[row][keep].tolist()
                    references[i] = labels_cpu[row][keep].tolist()
                    sums[i] = float(row_sums[row])
                    counts[i] = int(row_counts[row])
            else:
                assert seq_refs is not None
                target = torch.tensor([seq_refs[i] for i in batch], dtype=torch.long, device=dev)
                losses = torch.nn.functional.cross_entropy(logits, target, reduction="none")
                loss_list = losses.double().cpu().tolist()
                pred_list = logits.argmax(dim=-1).cpu().tolist()
                for row, i in enumerate(batch):
                    predictions[i] = int(pred_list[row])
                    references[i] = int(seq_refs[i])
                    sums[i] = float(loss_list[row])
                    counts[i] = 1
            bar.advance(len(batch))
    seconds = time.perf_counter() - start
    return EvalOutput(
        predictions=predictions,
        references=references,
        loss_sums=sums,
        loss_counts=counts,
        device=str(dev.type),
        dtype=dtype,
        seconds=seconds,
    )
