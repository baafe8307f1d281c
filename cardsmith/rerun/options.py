"""How to rerun a checkpoint: the options of ``verify --rerun``, declared once (:class:`RerunOptions`).

The click command, each line of a bulk verify list (:mod:`cardsmith.bulk.run`) and library callers
build one; :func:`cardsmith.rerun.verify.verify_repo` and :func:`cardsmith.rerun.verify.rerun_card`
take it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

#: Options with a default that a plain audit also accepts (they choose how, not on what, to run).
_HOW = frozenset({"device", "dtype", "progress"})


@dataclass(frozen=True)
class RerunOptions:
    """Where the evaluation data are, which task runs, and how (the ``verify`` options of a rerun).

    ``dataset``: a Hub dataset id, a ``save_to_disk`` folder or a data file (else the card's);
    ``*_column``: the columns of the text (two, comma-separated, for pairs), label, image or
    audio; ``task``: a ``--task`` name (else inferred); ``batch_size``: examples per forward pass;
    ``max_examples``: a subset (shown, never compared); ``progress``: a progress bar on stderr.
    """

    dataset: str | None = None
    dataset_config: str | None = None
    split: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    image_column: str | None = None
    audio_column: str | None = None
    task: str | None = None
    device: str = "auto"
    dtype: str = "fp32"
    batch_size: int | None = None
    max_examples: int | None = None
    progress: bool = True

    @classmethod
    def option_types(cls) -> dict[str, str]:
        """Option name -> its type as declared (``"int | None"``), but ``progress``: what a verify
        list line may set."""
        return {f.name: str(f.type) for f in dataclasses.fields(cls) if f.name != "progress"}

    def data_given(self) -> list[str]:
        """The ``--options`` given that only a rerun uses (all but device, dtype and progress):
        given to a plain audit, they are a mistake, not a no-op."""
        return [
            "--" + f.name.replace("_", "-")
            for f in dataclasses.fields(self)
            if f.name not in _HOW and getattr(self, f.name) is not None
        ]

    @property
    def columns(self) -> dict[str, str]:
        """Role (``text``, ``label``, ``image``, ``audio``) -> the column given for it."""
        given = {
            "text": self.text_column,
            "label": self.label_column,
            "image": self.image_column,
            "audio": self.audio_column,
        }
        return {role: name for role, name in given.items() if name}
