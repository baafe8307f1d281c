"""``verify --write``: record a rerun's results in the card (model-index and its own section), atomically."""

from __future__ import annotations

from cardsmith.audit.report import Reproduction
from cardsmith.card import sections
from cardsmith.card.io import atomic_write_text
from cardsmith.card.metric_names import canonical_metric
from cardsmith.card.model import Block, Card, IndexDataset, IndexMetric, IndexResult, ModelIndexEntry
from cardsmith.card.render import render_card
from cardsmith.rerun.resolve import ResolvedModel


def reproduction_section(reproduction: Reproduction, newline: str = "\n") -> str:
    """The ``## Reproduction`` section: where and how the numbers were re-run, and what came out."""
    split = f", split `{reproduction.split}`" if reproduction.split else ""
    lines = [
        "## Reproduction",
        "",
        f"Re-evaluated with `cardsmith verify --rerun` on `{reproduction.dataset}`{split} "
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
    return newline.join(lines) + newline


def update_model_index(card: Card, reproduction: Reproduction) -> None:
    """Write the reproduced values into ``model-index`` (creating the result when there is none)."""
    reproduced = [m for m in reproduction.metrics if m.reproduced is not None]
    if not reproduced:
        return
    entries = card.metadata.model_index
    if not entries:
        entries = [ModelIndexEntry(name=card.title or "model", results=[])]
    entry = entries[0]
    if not entry.results:
        dataset_name = reproduction.dataset.split(" (", 1)[0]
        entry.results.append(
            IndexResult(
                dataset=IndexDataset(name=dataset_name, type=dataset_name, split=reproduction.split),
                metrics=[],
            )
        )
    result = entry.results[0]
    if result.dataset is not None and reproduction.split and not result.dataset.split:
        result.dataset.split = reproduction.split
    for m in reproduced:
        key = canonical_metric(m.name)
        target = None
        for existing in result.metrics:
            names = {canonical_metric(existing.name or ""), canonical_metric(existing.type or "")}
            if key is not None and key in names:
                target = existing
                break
        if target is None:
            if key == "loss":
                continue  # model-index lists metrics; the loss stays in the section
            result.metrics.append(IndexMetric(name=m.name, type=key or m.name, value=m.reproduced))
        else:
            target.value = m.reproduced
    card.metadata.model_index = entries  # the renderer folds the typed model-index back into the YAML


def write_reproduction(model: ResolvedModel, card: Card, reproduction: Reproduction) -> None:
    """Record the rerun in the card file (model-index values and a ``## Reproduction`` section), atomically."""
    update_model_index(card, reproduction)
    card.blocks = with_reproduction_section(card, reproduction)
    atomic_write_text(model.card_path, render_card(card))


def with_reproduction_section(card: Card, reproduction: Reproduction) -> list[Block]:
    """The card's blocks with its ``## Reproduction`` section replaced (or appended) by the rerun's."""
    text = reproduction_section(reproduction, card.newline)
    lines = sections.body_lines(card)
    found = sections.find(lines, "Reproduction", level=2)
    if found is not None and found.subtree_end < len(lines):
        text += card.newline  # a blank line before the heading that follows
    return sections.replace_section(card, found, text)
