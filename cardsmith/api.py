"""The library's front door: :class:`ModelCard`, the card with everything one does with it.

:class:`cardsmith.card.model.Card` is the data (a Pydantic model, nothing else); ``ModelCard`` is
that model plus the verbs of the SPEC's library API, each a thin call into the room that does the
work: ``card/`` (parse, render, files), ``audit/`` (the engine) and ``train/`` (cards from a Trainer
or an output folder). Nothing below this module imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr

from cardsmith.card.model import Card

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.audit.report import AuditReport


class ModelCard(Card):
    """A model card: metadata, the Trainer-generated parts, and every line a person wrote."""

    #: The live model's number of labels, when the card was built from a Trainer (``from_trainer``):
    #: chance-level-loss needs it, and no ``config.json`` is written yet then. Not part of the schema.
    _num_labels: int | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, card: Card) -> ModelCard:
        """The same card as a ``ModelCard`` (no copy of its parts, no validation)."""
        if isinstance(card, cls):
            return card
        return cls.model_construct(_fields_set=set(card.model_fields_set), **dict(card))

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def from_markdown(cls, text: str) -> ModelCard:
        """Parse a model card's Markdown (with optional YAML front matter)."""
        from cardsmith.card.parse import parse_card

        return cls.of(parse_card(text))

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        """Read a card file, a model folder (its README.md) or a card JSON file."""
        from cardsmith.card.parse import load_card

        return cls.of(load_card(path))

    @classmethod
    def from_trainer(cls, trainer: Any, **kwargs: Any) -> ModelCard:
        """Build an accurate card from a ``transformers.Trainer`` after ``trainer.train()``."""
        from cardsmith.train.callback import live_num_labels
        from cardsmith.train.from_trainer import card_from_trainer

        card = cls.of(card_from_trainer(trainer, **kwargs))
        card._num_labels = live_num_labels(getattr(trainer, "model", None))
        return card

    @classmethod
    def from_output_dir(cls, path: str | Path, **kwargs: Any) -> ModelCard:
        """Build a card from a training output folder (trainer_state.json, config.json); no pickle."""
        from cardsmith.train.output_dir import card_from_output_dir

        return cls.of(card_from_output_dir(path, **kwargs))

    # -- use ---------------------------------------------------------------------------------------

    def to_markdown(self) -> str:
        """Render the card: generated parts in the Trainer's layout, everything else as written."""
        from cardsmith.card.render import render_card

        return render_card(self)

    def audit(self, *, select: list[str] | None = None, ignore: list[str] | None = None) -> AuditReport:
        """Run the auditor's rules on this card."""
        from cardsmith.audit.engine import audit_card

        return audit_card(self, select=select, ignore=ignore, num_labels=self._num_labels)

    def section_text(self, title: str) -> str | None:
        """The free text under a heading (case-insensitive title match), up to the next heading."""
        from cardsmith.card import sections

        if self.blocks:
            lines = sections.body_lines(self)
        else:
            lines = sections.without_front_matter(self.to_markdown().splitlines(keepends=True))
        return sections.section_text(lines, title)
