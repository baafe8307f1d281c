"""Update a card in place: regenerate what cardsmith owns, keep everything a person wrote.

cardsmith owns the numbers and facts it computes from a run:

* metadata values: ``model-index``, ``base_model``, ``datasets``, ``metrics``, the
  ``generated_from_trainer`` tag (added to the card's tags), ``library_name`` / ``license`` /
  ``language`` only when the card has none;
* the intro sentence's base model and dataset (when the new card knows them), the headline and the
  sentence after it that says which checkpoint it reports, the hyperparameters, the results table
  and the framework versions.

Everything else is the person's: the title (unless it is the model-index name cardsmith wrote), filled-in sections ("Model description" and the
rest), extra sections, extra metadata keys and their order, links and images. :func:`merge_cards`
starts from the existing card and swaps in the owned parts; the renderer writes every other block
back verbatim.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from cardsmith.card import sections
from cardsmith.card.io import atomic_write_text
from cardsmith.card.model import Block, Card, Metadata
from cardsmith.card.render import layout, render_card

#: File name of the training-curves image written beside the card.
CURVES_FILENAME = "training_curves.png"
#: The line linking the image from the card's "Training results" section.
CURVES_LINK = f"![Training curves]({CURVES_FILENAME})"

_OWNED_KEYS = ("base_model", "datasets", "metrics")
_IF_MISSING_KEYS = ("library_name", "license", "language")


def _merge_metadata(old: Metadata, new: Metadata) -> Metadata:
    """The existing front matter, key order kept, with cardsmith's computed values swapped in."""
    data: dict[str, Any] = copy.deepcopy(old.data)
    new_data = new.data
    for key in _IF_MISSING_KEYS:
        if data.get(key) in (None, "", []) and new_data.get(key) not in (None, "", []):
            data[key] = copy.deepcopy(new_data[key])
    for key in _OWNED_KEYS:
        if new_data.get(key) not in (None, "", []):
            data[key] = copy.deepcopy(new_data[key])
    new_tags = new_data.get("tags")
    if isinstance(new_tags, list) and new_tags:
        tags = data.get("tags")
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list):
            tags = []
        for tag in new_tags:
            if tag not in tags:
                tags.append(tag)
        data["tags"] = tags
    model_index = new.model_index
    index_key = (
        old.model_index_key
        if old.model_index is not None or old.model_index_key in data
        else new.model_index_key
    )
    if "model-index" in new_data:
        if index_key != "model-index" and index_key in data:
            data[index_key] = copy.deepcopy(new_data["model-index"])
        else:
            index_key = "model-index"
            data["model-index"] = copy.deepcopy(new_data["model-index"])
    else:
        model_index = old.model_index
    raw = old.raw if data == old.data else None
    return Metadata(data=data, model_index=copy.deepcopy(model_index), model_index_key=index_key, raw=raw)


def _generated_title(card: Card) -> bool:
    """The title is the model's name as the model-index gives it (not one a person chose)."""
    entries = card.metadata.model_index or []
    name = entries[0].name if entries else None
    return bool(card.title and name and card.title.strip() == str(name).strip())


def merge_cards(existing: Card, new: Card) -> Card:
    """``existing`` with the parts cardsmith owns regenerated from ``new`` (see the module doc)."""
    from cardsmith.train.record import attach_headline_note, headline_note

    merged = existing.model_copy(deep=True)
    merged.metadata = _merge_metadata(existing.metadata, new.metadata)
    if new.base_model:
        merged.base_model = new.base_model
    if new.dataset_name:
        merged.dataset_name = new.dataset_name
    if new.title and (not merged.title or _generated_title(existing)):
        merged.title = new.title
    merged.headline = [h.model_copy(deep=True) for h in new.headline]
    if new.hyperparameters is not None:
        merged.hyperparameters = new.hyperparameters.model_copy(deep=True)
    merged.results = new.results.model_copy(deep=True) if new.results is not None else None
    if new.framework_versions:
        merged.framework_versions = [fv.model_copy() for fv in new.framework_versions]
    merged.notes = list(new.notes)
    if merged.blocks:
        merged = attach_headline_note(merged, headline_note(new))
    return merged


def add_curves_link(card: Card, link: str = CURVES_LINK) -> Card:
    """Link the training-curves image from "Training results" (once: idempotent on re-render)."""
    card = layout(card)  # a card built in memory: the Trainer's template, in blocks
    target = link[link.index("](") + 1 :] if "](" in link else link
    if any(target in b.text for b in card.blocks if b.kind == "text"):
        return card
    nl = card.newline
    idx = next((i for i, b in enumerate(card.blocks) if b.kind == "results"), None)
    if idx is None:
        # No table: put it at the end of the "Training results" section, else before the versions.
        section = sections.find(sections.body_lines(card), "Training results")
        if section is not None:
            idx = sections.block_of_line(card, section.end - 1)
    if idx is None:
        idx = next((i for i, b in enumerate(card.blocks) if b.kind == "framework_versions"), None)
        if idx is not None:
            idx -= 1
    block = Block(kind="text", text=f"{nl}{link}{nl}")
    if idx is None:
        card.blocks.append(block)
    else:
        card.blocks.insert(idx + 1, block)
    return card


def merge_into(card: Card, target: str | Path) -> Card:
    """``card`` as it would be written to ``target``: merged into the card already there, if any.

    What ``cardsmith render SOURCE`` prints is this, so the preview is what ``-o`` writes.
    """
    path = Path(target)
    if path.is_dir():
        path = path / "README.md"
    if not path.exists():
        return card
    from cardsmith.card.parse import load_card

    return merge_cards(load_card(path), card)


def write_card(
    card: Card,
    path: str | Path,
    *,
    plot: bool = False,
    state: dict[str, Any] | None = None,
    log_history: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``card`` to ``path`` atomically; an existing file is parsed and merged (what a person
    wrote is kept). With ``plot=True`` the training curves are drawn into ``training_curves.png``
    beside the card and linked from its "Training results" section; ``state`` (the run's
    ``trainer_state.json`` as a dict) gives the plot every logged loss and the best checkpoint."""
    target = Path(path)
    if target.is_dir():
        target = target / "README.md"
    card = merge_into(card, target)
    if plot:
        from cardsmith.train.plot import plot_training_curves

        plot_training_curves(card, target.parent / CURVES_FILENAME, state=state, log_history=log_history)
        card = add_curves_link(card)
    return atomic_write_text(target, render_card(card))
