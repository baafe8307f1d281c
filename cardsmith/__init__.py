"""cardsmith: write, audit and verify Hugging Face model cards.

The light core (schema, parser, renderer, auditor, CLI, hook) imports no torch, transformers or
datasets; :class:`CardCallback` and the evaluator load them on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cardsmith.errors import CardsmithError
from cardsmith.schema import ModelCard

__version__ = "0.1.0"

__all__ = ["CardCallback", "CardsmithError", "ModelCard", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.callback import CardCallback


def __getattr__(name: str) -> Any:
    if name == "CardCallback":
        from cardsmith.callback import CardCallback

        return CardCallback
    raise AttributeError(f"module 'cardsmith' has no attribute {name!r}")
