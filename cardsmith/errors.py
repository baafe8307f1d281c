"""One exception hierarchy for cardsmith.

Everything cardsmith raises on purpose derives from :class:`CardsmithError`. The CLI turns any of
these into a one-line message on stderr and exit code 2; anything else is a bug.
"""

from __future__ import annotations


class CardsmithError(Exception):
    """Base of every error cardsmith raises on purpose."""

    exit_code: int = 2


class ParseError(CardsmithError):
    """The input could not be read as a model card."""


class NotACardError(ParseError):
    """The input is readable but is not a model card at all (binary, empty, unrelated text)."""


class InputTooLargeError(ParseError):
    """The input exceeds one of cardsmith's resource bounds (size, rows, nesting, aliases)."""


class RenderError(CardsmithError):
    """A card could not be rendered (for instance, an invalid value set by a caller)."""


class ConfigError(CardsmithError):
    """Invalid configuration: unknown rule names, bad ``[tool.cardsmith]`` table, bad options."""


class UnknownRuleError(ConfigError):
    """A rule name or code that no registered rule has."""


class ResolveError(CardsmithError):
    """A model repository or local folder could not be resolved."""


class DatasetError(CardsmithError):
    """The evaluation dataset could not be loaded, or its columns/labels do not fit the model."""


class UnsupportedTaskError(CardsmithError):
    """The model's task cannot be re-evaluated yet."""


class UntrustedInputError(CardsmithError):
    """Running this would execute untrusted code (pickle, remote code) without permission."""


class EvaluationError(CardsmithError):
    """Re-running the checkpoint failed."""


class HookError(CardsmithError):
    """The git pre-push hook could not be installed or could not read what is being pushed."""


class MissingExtraError(CardsmithError):
    """An optional dependency group (``cardsmith[eval]``, ``cardsmith[plot]``) is not installed."""


class WriteRefusedError(CardsmithError):
    """``verify --write`` would record a number the rerun did not prove; the card is left unchanged.

    ``report`` is the verification's report (printed before the one-line reason).
    """

    def __init__(self, message: str, *, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class EngineError(CardsmithError):
    """A bulk run's engine cannot run: its workers die as they start, or the Ray cluster is unreachable."""
