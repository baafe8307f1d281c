"""CS3xx: completeness and information. What the card leaves out, and what its numbers imply (info)."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator

from cardsmith.audit.facts import column_role, norm_name
from cardsmith.audit.registry import (
    HEADLINE,
    METADATA,
    MODEL_INDEX,
    TABLE,
    AuditContext,
    Hit,
    place,
    rule,
    table_location,
)
from cardsmith.card import sections
from cardsmith.card.model import FRONT_MATTER_UNCLOSED, HEADLINE_NOT_READ


@rule("table-truncated", "CS301", "info", "evaluations are missing from the table (gaps in epochs or steps)")
def table_truncated(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Takes the evaluation interval of the table (the smallest distance between rows, or the
        first row's step) and, when every row sits on that regular schedule, reports the
        evaluations the schedule implies but the table does not show.
    Why is this bad:
        A table that shows the first and the last epoch hides how training went in between
        (overfitting, a collapse, the best checkpoint); the rules that need the whole curve
        cannot check it.
    Example:
        | 1  | 13  | ... |
        | 20 | 260 | ... |    <- 18 evaluations missing
    """
    f = ctx.facts
    col = f.step if f.step is not None else f.epoch
    if col is None:
        return
    pts = [(r, v) for r, v in zip(f.rows, f.values(col)) if v is not None]
    if len(pts) < 2:
        return
    xs = [x for _, x in pts]
    diffs = [b - a for a, b in itertools.pairwise(xs)]
    if any(d <= 0 for d in diffs):
        return
    base = min(diffs + ([xs[0]] if xs[0] > 0 else []))  # type: ignore[operator]
    if base <= 0:
        return
    tol = 0.05

    def multiple(d: float) -> float:
        return d / base

    # a regular schedule: every gap a whole multiple of the base (the last one may be shorter)
    for i, d in enumerate(diffs):
        m = multiple(d)
        if abs(m - round(m)) > tol and not (i == len(diffs) - 1 and m < 1):
            return
    missing = 0
    spans: list[str] = []
    for i, d in enumerate(diffs):
        k = round(multiple(d)) - 1
        if k >= 1:
            missing += k
            spans.append(
                f"{k} between {f.row_label(pts[i][0]).removeprefix('the row of ')} and "
                f"{f.row_label(pts[i + 1][0]).removeprefix('the row of ')}"
            )
    if missing:
        unit = "steps" if col is f.step else "epochs"
        yield (
            f"{missing} evaluation{'s are' if missing > 1 else ' is'} missing from the table "
            f"(evaluations every {base:g} {unit}): " + "; ".join(spans),
            table_location(f, None, col),
        )


_PLACEHOLDER = "more information needed"


def _is_placeholder(line: str) -> bool:
    """``More information needed``, optionally in brackets and with a period (any case). A scan: the
    former pattern's adjacent ``\\s*`` runs were quadratic on a long line of spaces."""
    s = line.strip()
    if s.startswith("["):
        s = s[1:].lstrip()
    if s[: len(_PLACEHOLDER)].lower() != _PLACEHOLDER:
        return False
    tail = s[len(_PLACEHOLDER) :].lstrip()
    tail = tail.removeprefix("]").removeprefix(".")
    return not tail.strip()


@rule("placeholder-section", "CS305", "info", 'a section still says "More information needed"')
def placeholder_section(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Lists the sections whose whole text is the Trainer's placeholder "More information needed"
        (or the Hub template's "[More Information Needed]").
    Why is this bad:
        The Trainer writes these placeholders for the author to fill in; a published card that
        keeps them does not say what the model is for, its limits, or what data it saw.
    Example:
        ## Intended uses & limitations

        More information needed
    """
    lines = sections.body_lines(ctx.card)
    names = []
    for section in sections.headings(lines):
        body = sections.text_of(lines, section)
        if body and all(_is_placeholder(ln) for ln in body.splitlines() if ln.strip()):
            names.append(section.title)
    if names:
        yield (
            f'{len(names)} section{"s say" if len(names) > 1 else " says"} "More information needed": '
            + ", ".join(names),
            place(section=names[0]),
        )


@rule("missing-base-model", "CS302", "info", "the card does not name its base model")
def missing_base_model(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when neither the ``base_model`` metadata nor the "fine-tuned version of [X]" sentence
        names a base model.
    Why is this bad:
        The Hub links fine-tunes to their base model from ``base_model``; without it users cannot
        see where the model came from, its license or its known limits.
    Example:
        This model is a fine-tuned version of [](https://huggingface.co/) on ...
    """
    md = ctx.card.metadata
    body = (ctx.card.base_model or "").strip()
    if md.base_model is None and body.lower() in {"", "none", "null"}:
        yield (
            'the card names no base model (no base_model metadata, no "fine-tuned version of" link)',
            place(section=METADATA, column="base_model"),
        )


@rule("missing-dataset", "CS303", "info", "the card does not name its training/evaluation dataset")
def missing_dataset(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the ``datasets`` metadata is empty and the body says "an unknown dataset" or
        "the None dataset" (or names none).
    Why is this bad:
        Results mean nothing without the data they were measured on; the dataset is also what
        ``cardsmith verify --rerun`` needs to reproduce them.
    Example:
        This model is a fine-tuned version of [bert-base-cased](...) on an unknown dataset.
    """
    md = ctx.card.metadata
    datasets = [d for d in md.datasets if d.strip().lower() not in {"none", "null", ""}]
    body = (ctx.card.dataset_name or "").strip().lower()
    if not datasets and body in {"", "none", "null", "unknown", "an unknown", "an unknown dataset"}:
        written = "".join(b.text for b in ctx.card.blocks if b.kind in ("intro", "text"))
        # (a card built in memory, without blocks, renders "on an unknown dataset")
        if not ctx.card.blocks or re.search(r"\bon an unknown dataset\b", written):
            says = 'the text says "an unknown dataset"'
        elif body in {"none", "null"} or re.search(
            r"\bon the (?:None|null) datasets?\b", written, re.IGNORECASE
        ):
            says = 'the text says "the None dataset"'
        else:
            says = "the text names none either"
        yield (
            f"the card names no dataset (no datasets metadata; {says})",
            place(section=METADATA, column="datasets"),
        )


@rule("missing-license", "CS304", "info", "the metadata has no license")
def missing_license(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the YAML front matter has no ``license`` key.
    Why is this bad:
        Without a license nobody may legally reuse the weights; the Hub shows the license from this
        key.
    Example:
        ---
        tags: [generated_from_trainer]
        ---
    """
    if ctx.card.metadata.license is None:
        yield ("the metadata has no license", place(section=METADATA, column="license"))


@rule("empty-model-index", "CS306", "info", "the `model-index` has no results (`results: []`)")
def empty_model_index(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the metadata has a ``model-index`` whose entries have no metric values
        (``results: []``, or results with a task but no metrics).
    Why is this bad:
        The Hub's evaluation widget and leaderboards read ``model-index``; the Trainer writes
        ``results: []`` when it had no dataset name, so the card's numbers are invisible there.
    Example:
        model-index:
        - name: my-model
          results: []
    """
    mi = ctx.card.metadata.model_index
    if mi is None:
        return
    if not any(m.value is not None for e in mi for r in e.results for m in r.metrics):
        yield ("the model-index has no metric values (results: [])", place(section=MODEL_INDEX))


@rule(
    "implied-metrics",
    "CS307",
    "info",
    "what the numbers imply: the metric scale (fraction or percent) and the averaging",
)
def implied_metrics(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports the scale of the card's bounded metrics (fraction in [0, 1] or percent in
        [0, 100]) and the averaging that the identities between precision, recall, F1 and accuracy
        imply: micro (all four equal), weighted (recall equals accuracy in every row), binary or
        seqeval (F1 is the harmonic mean of precision and recall; not binary when the model's
        ``config.json`` declares more than two labels), macro (it is not).
    Why is this bad:
        It is not: it is information. The equalities of micro and weighted averaging look like
        copied cells but are identities, so the other rules take them into account; and the
        averaging is what a re-evaluation must use to reproduce the numbers.
    Example:
        Recall 0.5352, 0.5432, ... equal to Accuracy 0.5352, 0.5432, ...: weighted averaging
    """
    f = ctx.facts
    parts = []
    if f.scale is not None:
        parts.append(f"metrics on the {f.scale} scale ({'[0, 100]' if f.scale == 'percent' else '[0, 1]'})")
    if f.averaging == "binary" and (k := ctx.num_labels) is not None and k > 2:
        # The identity holds, but binary averaging needs two labels: say only what the numbers show.
        parts.append(
            "F1 is the harmonic mean of precision and recall, as binary averaging gives, but the "
            f"model's config.json declares {k} labels: entity-level (seqeval) scores or a "
            "coincidence; the averaging is not determined"
        )
    elif f.averaging is not None:
        parts.append(f"{f.averaging} averaging ({f.averaging_evidence})")
    if parts:
        yield ("the numbers imply " + "; ".join(parts), place(section=TABLE if f.rows else HEADLINE))


#: Names of the error rates that an automatic-speech-recognition card reports (WER, CER, PER, ...).
_ASR_METRIC_WORDS = {"wer", "cer", "ter", "mer", "wil"}


@functools.cache
def _error_rate_prose() -> re.Pattern[str]:
    """An error rate named in prose (compiled on first use: only speech cards are searched)."""
    return re.compile(r"\b(?:wer|cer|word error rate|character error rate)\b")


def _is_error_rate_name(name: str | None) -> bool:
    if not name:
        return False
    low = name.lower()
    words = set(re.split(r"[^a-z0-9]+", low))
    return (
        bool(words & _ASR_METRIC_WORDS) or low.strip() == "per" or "error rate" in low or "error_rate" in low
    )


def _card_task(ctx: AuditContext) -> str | None:
    """The card's task as its metadata names it (model-index task type, pipeline_tag, tags)."""
    meta = ctx.card.metadata
    data = meta.data if isinstance(meta.data, dict) else {}
    for entry in meta.model_index or []:
        for res in entry.results:
            task = getattr(res, "task", None)
            typ = getattr(task, "type", None) if task is not None else None
            if isinstance(typ, str) and typ.strip():
                return typ.strip()
    tag = data.get("pipeline_tag")
    if isinstance(tag, str) and tag.strip():
        return tag.strip()
    tags = data.get("tags")
    if isinstance(tags, list) and "automatic-speech-recognition" in tags:
        return "automatic-speech-recognition"
    # no metadata says it: a card about fine-tuning Whisper on speech, whose only numbers are losses
    head = "".join(b.text for b in ctx.card.blocks)[:4000].lower()
    if (
        "whisper" in head
        and ("speech" in head or "transcri" in head)
        and not any(c.role == "metric" for c in ctx.facts.columns)
        and all(
            norm_name(h.name) in {"loss", "validation loss", "eval loss"}
            or column_role(h.name, has_val_loss_column=False) == "pseudo"
            for h in ctx.card.headline
        )
    ):
        return "automatic-speech-recognition"
    return None


@rule(
    "task-metric-missing",
    "CS350",
    "warning",
    "the card's task has a standard metric that the card never reports (an ASR card without WER)",
)
def task_metric_missing(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reads the card's task from its metadata (``model-index`` task type, ``pipeline_tag`` or the
        ``automatic-speech-recognition`` tag); without such metadata, a card that speaks of
        fine-tuning Whisper on speech and prints nothing but losses is a speech-recognition card too. For automatic speech recognition it fires when no error
        rate (WER, CER, PER, ...) appears in the headline, the results table or ``model-index``.
    Why is this bad:
        A speech recogniser is judged by its error rate; the evaluation loss alone says nothing a
        user can compare with other models, and often hides that the metric was never computed
        (``compute_metrics`` missing) or the output is unusable.
    Example:
        pipeline_tag: automatic-speech-recognition
        - Loss: 0.4017            <- and no Wer anywhere
    """
    if _card_task(ctx) != "automatic-speech-recognition":
        return
    card, f = ctx.card, ctx.facts
    if _error_rate_prose().search("".join(b.text for b in card.blocks).lower()):
        return  # stated in the prose or another table
    names = [h.name for h in card.headline] + [c.name for c in f.columns if c.role == "metric"]
    for entry in card.metadata.model_index or []:
        for res in entry.results:
            names += [x for m in res.metrics for x in (m.name, m.type) if isinstance(x, str)]
    if any(_is_error_rate_name(n) for n in names):
        return
    message = (
        "the card is an automatic-speech-recognition card but reports no WER or CER (headline, results table "
        "and model-index have none): its quality is not stated"
    )
    yield (message, place(section=HEADLINE if card.headline else METADATA))


@rule(
    "front-matter-unclosed",
    "CS150",
    "error",
    "the YAML front matter never closes: the Hub ignores the card's metadata",
)
def front_matter_unclosed(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the card's first line is ``---`` and no later line closes the front matter
        (``---`` or ``...``). The card is then read as huggingface_hub reads it: no metadata, the
        whole file as text, and every other rule runs on that.
    Why is this bad:
        The Hub (and ``huggingface_hub.ModelCard``) find no metadata in such a card: its license,
        datasets, base model and ``model-index`` results are silently ignored, although the file
        looks as if it had them.
    Example:
        ---
        license: apache-2.0
        model-index: ...
        # my-model            <- no closing '---' before the Markdown starts
    """
    if FRONT_MATTER_UNCLOSED in ctx.card.notes:
        yield (
            FRONT_MATTER_UNCLOSED + ": the Hub reads no metadata from this card (license, datasets, "
            "model-index are ignored)",
            place(section=METADATA),
        )


@rule(
    "headline-not-read",
    "CS156",
    "info",
    'a headline under an edited lead line ("... on the test set:") is not read, so it is compared with nothing',
)
def headline_not_read(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Fires when the card has no headline under the Trainer's lead line ("It achieves the following
        results on the evaluation set:") but a paragraph opening the same way with other words
        ("... on the test set:"). The parser reads only the Trainer's lead, so those results are not
        compared with the table or the model-index.
    Why is this bad:
        An edited lead usually means the results come from another evaluation (the test split); the
        auditor cannot tell which, and says so rather than drop the headline silently.
    Example:
        It achieves the following results on the test set:
        - Loss: 0.1443
        - Wer: 21.03
    """
    if ctx.card.headline:
        return
    for note in ctx.card.notes:
        if note.startswith(HEADLINE_NOT_READ):
            yield (
                f"{note}; its values are compared with nothing (not the table, not the model-index)",
                place(section=HEADLINE),
            )


@rule(
    "unreadable-card",
    "CS151",
    "error",
    "a path cannot be read or parsed as a card (the reason is in the message); the other paths are still audited",
    produced_by="engine",
)
def unreadable_card(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        In an audit of several paths, each path stands alone: a path that is missing, a folder
        without a ``README.md``, a file that is not text (binary, not UTF-8) or a card that cannot be
        parsed becomes an entry of the report with this error and the reason, and every other card
        is still audited. The exit code then follows the findings (1); it is 2 only when no path
        at all could be read.
    Why is this bad:
        A card that cannot be read cannot be checked, and the Hub cannot show it either; one such
        file must not hide the findings of all the others.
    Example:
        cardsmith audit cards/*.md     <- cards/logo.md is a PNG: "not a text file"
    """
    return iter(())


#: A cell that holds only what numbers are made of (digits, spaces, point, comma, sign, exponent, percent).
_NUMERIC_LOOKING = re.compile(r"^[\s\d.,+\-eE%]*\d[\s\d.,+\-eE%]*$")
#: At most this many unreadable values are named one by one; the rest are counted.
_MAX_NAMED = 5


@rule(
    "unreadable-value",
    "CS155",
    "warning",
    "a results-table cell or headline value looks like a number but cannot be read (it is not compared)",
)
def unreadable_value(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports each results-table cell and headline value made only of what numbers are made of
        (digits, point, comma, sign, exponent, percent, spaces) that is nevertheless not a number
        cardsmith can read: ``0 .283908``, ``12,3456``. Numbers with thousands separators
        (``18,609``) and emphasised values (``*0.12*``) are read, and ``No log`` or ``-`` are text.
    Why is this bad:
        A value that cannot be read is left out of every comparison: a headline or a row that
        contradicts the rest would pass unnoticed. Saying so is better than dropping it silently.
    Example:
        | 0.4512 | 2.0 | 3584 | 0 .283908 | 0.9012 |     <- a space inside the validation loss
    """
    card, f = ctx.card, ctx.facts
    found: list[Hit] = []
    for h in card.headline:
        text = h.value.text.strip().strip("*_`").strip()
        if h.value.value is None and _NUMERIC_LOOKING.match(text):
            found.append(
                (
                    f"the headline value of {h.name} ({text!r}) looks like a number but cannot be read; it is not compared",
                    place(section=HEADLINE, column=h.name),
                )
            )
    for col in f.columns:
        for row, cell in zip(f.rows, f.cells(col)):
            if cell is None or cell.value is not None:
                continue
            text = cell.text.strip().strip("*_`").strip()
            if _NUMERIC_LOOKING.match(text):
                found.append(
                    (
                        f"the {col.name} of {f.row_label(row)} ({text!r}) looks like a number but cannot be read; it is not compared",
                        table_location(f, row, col),
                    )
                )
    yield from found[:_MAX_NAMED]
    if len(found) > _MAX_NAMED:
        yield (
            f"{len(found) - _MAX_NAMED} more values look like numbers but cannot be read",
            place(section=TABLE),
        )
