"""``verify --write``: record a proved rerun in the card, atomically, in the parts cardsmith owns.

What is written, and only when the rerun proved it (:func:`write_refusal` says why not otherwise):

* one ``model-index`` result of cardsmith's own, marked ``source: {name: cardsmith, url: ...}``, with
  the task, the dataset as the Hub expects it (``name``/``type``/``config``/``split``, never a local
  path) and the proved metrics, each ``verified: false`` (``verified`` is for the Hub's own
  evaluation service). A second ``--write`` replaces that result; the Trainer's and a person's
  results are left as they are.
* its own section between :data:`SECTION_START` and :data:`SECTION_END`. A second ``--write``
  replaces only the text between the markers; a person's ``## Reproduction`` section is theirs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardsmith.audit.report import ReproducedMetric, Reproduction
from cardsmith.card.io import atomic_write_text
from cardsmith.card.metric_names import canonical_metric
from cardsmith.card.model import Card, IndexDataset, IndexMetric, IndexResult, IndexTask, ModelIndexEntry
from cardsmith.card.render import render_card
from cardsmith.rerun.claims import fmt_value
from cardsmith.rerun.resolve import ResolvedModel

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.rerun.claims import Claim

#: Where the model-index results cardsmith writes say they come from.
CARDSMITH_SOURCE = {"name": "cardsmith", "url": "https://pypi.org/project/cardsmith/"}
#: The lines around the section ``--write`` owns: only the text between them is ever rewritten.
SECTION_START = "<!-- cardsmith-reproduction:start (written by `cardsmith verify --write`) -->"
SECTION_END = "<!-- cardsmith-reproduction:end -->"
#: The note on every metric of a rerun that evaluated a subset (``--max-examples``).
SUBSET_NOTE = "subset"

_START = "<!-- cardsmith-reproduction:start"
_END = "<!-- cardsmith-reproduction:end"


def used_subset(reproduction: Reproduction) -> bool:
    """Whether the rerun evaluated only part of the split (``--max-examples``)."""
    return any((m.note or "").startswith(SUBSET_NOTE) for m in reproduction.metrics)


def proved_metrics(reproduction: Reproduction) -> list[ReproducedMetric]:
    """The metrics the rerun proved, in the card's order (the loss stays in the section)."""
    return [
        m
        for m in reproduction.metrics
        if m.match and m.reproduced is not None and canonical_metric(m.name) not in (None, "loss")
    ]


def write_refusal(reproduction: Reproduction, failures: list[tuple[Claim, ReproducedMetric]]) -> str | None:
    """Why the rerun's numbers may not be recorded (a subset, refuted claims, nothing proved), else None."""
    if used_subset(reproduction):
        return (
            f"the rerun used a subset ({reproduction.examples} examples, --max-examples); only numbers "
            "proved on the full split are recorded"
        )
    banded = [m for m in reproduction.metrics if m.match and m.within]
    if banded:
        return (
            f"the rerun matches {', '.join(m.name for m in banded)} only within {banded[0].within}: "
            "a number known only within such a band is not recorded as reproduced"
        )
    if failures:
        refuted = ", ".join(
            f"{claim.name} {claim.cell.text.strip()} (rerun: {fmt_value(metric.reproduced)})"
            for claim, metric in failures
        )
        return f"the rerun refuted {refuted}"
    if not proved_metrics(reproduction):
        return "the rerun proved no metric that the model-index can hold"
    return None


def display_dataset(name: str) -> str:
    """A dataset as a card may name it: a local path is reduced to its file or folder name."""
    base, sep, config = name.partition(" (")
    path = Path(base).expanduser()
    try:
        local = path.exists()
    except OSError:
        local = False
    if local or base.startswith((".", "/", "~")):
        base = path.name or base
    return base + (sep + config if sep else "")


def reproduction_section(reproduction: Reproduction, newline: str = "\n") -> str:
    """cardsmith's own section, markers included: where and how the numbers were re-run, and what came out."""
    split = f", split `{reproduction.split}`" if reproduction.split else ""
    lines = [
        SECTION_START,
        "## Reproduction (cardsmith)",
        "",
        f"Re-evaluated with `cardsmith verify --rerun` on `{display_dataset(reproduction.dataset)}`{split} "
        f"({reproduction.examples} examples, device {reproduction.device}"
        + (f", {reproduction.seconds:.1f} s" if reproduction.seconds is not None else "")
        + ")"
        + (f"; precision/recall/F1 averaging: {reproduction.averaging}" if reproduction.averaging else "")
        + ".",
        "",
        "| Metric | Claimed | Reproduced | Match |",
        "|:-------|--------:|-----------:|:-----:|",
    ]
    for m in reproduction.metrics:
        claimed = "" if m.claimed is None else f"{m.claimed:g}"
        reproduced = "" if m.reproduced is None else f"{m.reproduced:.4f}"
        mark = "yes" if m.match else ("n/a" if m.reproduced is None else "no")
        lines.append(f"| {m.name} | {claimed} | {reproduced} | {mark} |")
    lines.append(SECTION_END)
    return newline.join(lines) + newline


def replace_owned_section(text: str, section: str, newline: str = "\n") -> str:
    """``text`` with cardsmith's marked section replaced by ``section``, or ``section`` appended.

    Everything outside the markers stays byte for byte.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(_START)), None)
    end = None
    if start is not None:
        end = next((i for i in range(start, len(lines)) if lines[i].lstrip().startswith(_END)), None)
    if start is not None and end is not None:
        return "".join(lines[:start]) + section + "".join(lines[end + 1 :])
    if not text:
        return section
    lead = "" if text.endswith(newline * 2) else (newline if text.endswith(newline) else newline * 2)
    return text + lead + section


#: ``--task`` names that are not Hub pipeline tags, and the tag the Hub files them under.
_HUB_TASK = {
    "text-regression": "text-classification",
    "multi-label-classification": "text-classification",
    "causal-lm": "text-generation",
    "masked-lm": "fill-mask",
    "sequence-classification": "text-classification",
}


def _index_task(card: Card, model: ResolvedModel, reproduction: Reproduction) -> dict[str, str]:
    """The model-index task: the card's own, else the one the rerun ran (as a Hub pipeline tag)."""
    for entry in card.metadata.model_index or []:
        for result in entry.results:
            if result.task is not None and result.task.type:
                task = {"type": str(result.task.type)}
                if result.task.name:
                    task["name"] = str(result.task.name)
                return task
    kind = reproduction.task
    if not kind:
        from cardsmith.rerun.resolve import read_config
        from cardsmith.rerun.tasks import infer_task

        kind = infer_task(read_config(model), card)
    pipeline = _HUB_TASK.get(kind, kind)
    return {"type": pipeline, "name": pipeline.replace("-", " ").title()}


def _saved_info(path: Path, split: str | None) -> dict[str, Any]:
    """The ``dataset_info.json`` of a ``save_to_disk`` folder (or of its split), if readable."""
    info: dict[str, Any] = {}
    for candidate in [path / "dataset_info.json", *([path / split / "dataset_info.json"] if split else [])]:
        try:
            if candidate.stat().st_size > 1 << 20:
                continue
            loaded = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(loaded, dict):
            info = loaded
    return info


def _index_dataset(
    card: Card, reproduction: Reproduction, dataset: str | None, dataset_config: str | None
) -> dict[str, str]:
    """The model-index dataset (name/type/config/split as the Hub expects), never a local path."""
    from cardsmith.rerun.data import DATA_FILE_BUILDERS, card_dataset

    out: dict[str, str]
    config = dataset_config
    if not dataset:
        source = card_dataset(card)
        name = source.name if source is not None else display_dataset(reproduction.dataset.split(" (", 1)[0])
        out = {"name": name, "type": name}
        config = config or (source.config if source is not None else None)
    else:
        path = Path(dataset).expanduser()
        if path.is_file():  # a data file: the datasets builder that read it, as the Trainer names it
            out = {"name": path.name, "type": DATA_FILE_BUILDERS.get(path.suffix.lower(), "json")}
        elif path.is_dir():  # save_to_disk: the name and config the saved dataset carries
            info = _saved_info(path, reproduction.split)
            name = info.get("dataset_name")
            name = name if isinstance(name, str) and name else path.resolve().name
            out = {"name": name, "type": name}
            saved_config = info.get("config_name")
            if not config and isinstance(saved_config, str) and saved_config:
                config = saved_config
        else:
            out = {"name": dataset, "type": dataset}
    if config:
        out["config"] = config
    if reproduction.split:
        out["split"] = reproduction.split
    return out


def _is_ours(result: IndexResult) -> bool:
    source = (result.model_extra or {}).get("source")
    return isinstance(source, dict) and source.get("name") == CARDSMITH_SOURCE["name"]


def update_model_index(
    card: Card,
    model: ResolvedModel,
    reproduction: Reproduction,
    *,
    dataset: str | None = None,
    dataset_config: str | None = None,
) -> None:
    """Put cardsmith's own model-index result (proved metrics only) in place of an earlier one of its own."""
    entries = list(card.metadata.model_index or [])
    if not entries:
        entries = [ModelIndexEntry(name=card.title or model.name, results=[])]
    for entry in entries:
        entry.results = [r for r in entry.results if not _is_ours(r)]
    metrics = [
        IndexMetric(name=m.name, type=canonical_metric(m.name) or m.name, value=m.reproduced, verified=False)
        for m in proved_metrics(reproduction)
    ]
    result = IndexResult(
        task=IndexTask(**_index_task(card, model, reproduction)),
        dataset=IndexDataset(**_index_dataset(card, reproduction, dataset, dataset_config)),
        metrics=metrics,
        source=dict(CARDSMITH_SOURCE),
    )
    if not entries[0].name:
        entries[0].name = card.title or model.name
    entries[0].results.append(result)
    card.metadata.model_index = entries  # the renderer folds the typed model-index back into the YAML


def write_reproduction(
    model: ResolvedModel,
    card: Card,
    reproduction: Reproduction,
    *,
    dataset: str | None = None,
    dataset_config: str | None = None,
) -> None:
    """Record a proved rerun in the card file, atomically (call :func:`write_refusal` first)."""
    update_model_index(card, model, reproduction, dataset=dataset, dataset_config=dataset_config)
    text = replace_owned_section(
        render_card(card), reproduction_section(reproduction, card.newline), card.newline
    )
    atomic_write_text(model.card_path, text)
