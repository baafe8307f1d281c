"""cardsmith: write, audit and verify Hugging Face model cards.

The light core (schema, parser, renderer, auditor, CLI, hook) imports no torch, transformers or
datasets; :class:`CardCallback` and the evaluator load them on first use. ``ModelCard`` is imported
on first access too, so that ``import cardsmith`` (and the CLI's start) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cardsmith.errors import CardsmithError
from cardsmith.version import __version__

__all__ = ["CardCallback", "CardsmithError", "ModelCard", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.api import ModelCard
    from cardsmith.train.callback import CardCallback


def __getattr__(name: str) -> Any:
    if name == "ModelCard":
        from cardsmith.api import ModelCard

        return ModelCard
    if name == "CardCallback":
        try:
            from cardsmith.train.callback import CardCallback
        except ModuleNotFoundError as exc:
            if exc.name not in {"transformers", "torch"}:
                raise
            from cardsmith.errors import MissingExtraError

            raise MissingExtraError(f'CardCallback needs {exc.name}: pip install "cardsmith[eval]"') from None
        return CardCallback
    raise AttributeError(f"module 'cardsmith' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
