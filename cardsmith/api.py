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
from cardsmith.errors import WriteRefusedError

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
        from cardsmith.train.from_trainer import card_from_trainer, live_num_labels

        card = cls.of(card_from_trainer(trainer, **kwargs))
        card._num_labels = live_num_labels(getattr(trainer, "model", None))
        return card

    @classmethod
    def from_output_dir(cls, path: str | Path, **kwargs: Any) -> ModelCard:
        """Build a card from a training output folder (trainer_state.json, config.json); no pickle."""
        from cardsmith.train.output_dir import card_from_output_dir

        return cls.of(card_from_output_dir(path, **kwargs))

    def to_markdown(self) -> str:
        """Render the card: generated parts in the Trainer's layout, everything else as written."""
        from cardsmith.card.render import render_card

        return render_card(self)

    @classmethod
    def from_hub_card(cls, hub_card: Any) -> ModelCard:
        """A ``huggingface_hub.ModelCard`` (or any ``RepoCard``) as a cardsmith card: its full text
        (front matter and body), as huggingface_hub writes it."""
        return cls.from_markdown(str(hub_card))

    # -- use ---------------------------------------------------------------------------------------

    def audit(
        self, *, select: list[str] | str | None = None, ignore: list[str] | str | None = None
    ) -> AuditReport:
        """Run the auditor's rules on this card (``select``/``ignore``: rule names or codes, as a list
        or one comma-separated string such as ``"CS108,missing-license"``)."""
        from cardsmith.audit.engine import audit_card

        return audit_card(self, select=select, ignore=ignore, num_labels=self._num_labels)

    def to_hub_card(self) -> Any:
        """This card as a ``huggingface_hub.ModelCard`` (its metadata parsed by huggingface_hub: a card
        whose ``model-index`` huggingface_hub rejects raises ``ValueError``, as ``ModelCard.load`` would)."""
        from huggingface_hub import ModelCard as HubModelCard

        return HubModelCard(self.to_markdown())

    def save(self, path: str | Path) -> Path:
        """Write this card's Markdown to ``path`` (a file, or a folder for its README.md), atomically.

        Exactly this card is written (no merge with a file already there: ``write_card`` in
        ``cardsmith.train.merge`` merges); a replaced file keeps its mode, a new one gets the mode a
        plain ``open(path, "w")`` gives.
        """
        from cardsmith.card.io import atomic_write_text

        target = Path(path)
        if target.is_dir():
            target = target / "README.md"
        return atomic_write_text(target, self.to_markdown())

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        repo_type: str = "model",
        commit_message: str | None = None,
        commit_description: str | None = None,
        revision: str | None = None,
        create_pr: bool | None = None,
    ) -> Any:
        """Upload this card as ``README.md`` of ``repo_id`` through ``huggingface_hub.HfApi.upload_file``.

        The bytes uploaded are exactly :meth:`to_markdown`; the metadata is first checked the way
        huggingface_hub reads it: metadata it rejects (an invalid ``model-index``) raises
        :class:`~cardsmith.errors.WriteRefusedError` and nothing is uploaded. Returns what
        ``upload_file`` returns (the commit's URL/info).
        """
        from huggingface_hub import HfApi

        text = self.to_markdown()
        try:
            self.to_hub_card()
        except ValueError as exc:
            raise WriteRefusedError(
                f"not pushed to {repo_id}: huggingface_hub rejects this card's metadata: {exc}"
            ) from None
        return HfApi(token=token).upload_file(
            path_or_fileobj=text.encode("utf-8"),
            path_in_repo="README.md",
            repo_id=repo_id,
            repo_type=repo_type,
            commit_message=commit_message or "Update model card (cardsmith)",
            commit_description=commit_description,
            revision=revision,
            create_pr=create_pr,
        )

    def section_text(self, title: str) -> str | None:
        """The free text under a heading (case-insensitive title match), up to the next heading."""
        from cardsmith.card import sections

        if self.blocks:
            lines = sections.body_lines(self)
        else:
            lines = sections.without_front_matter(self.to_markdown().splitlines(keepends=True))
        return sections.section_text(lines, title)
