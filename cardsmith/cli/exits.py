"""The one table from what went wrong to what the user reads and the exit code (SPEC: 0, 1, 2).

Both entry points (the click app and the fast path) end every command through :func:`exit_for`, so
an error reads and exits the same whichever path ran it: one line on standard error, never a
traceback (``CARDSMITH_DEBUG=1`` re-raises internal errors to show one).
"""

from __future__ import annotations

import os
import sys

from cardsmith.errors import CardsmithError

#: Nothing at error severity.
OK = 0
#: At least one error-severity finding (a failed reproduction is one).
FINDINGS = 1
#: The command could not do its job: usage, unknown rule or option, nothing readable, model or data missing.
FAILED = 2
#: Interrupted (Ctrl-C), as shells report SIGINT.
INTERRUPTED = 130

#: Optional modules and the extra that installs them.
EXTRA_OF: dict[str, str] = {
    **{
        name: "eval"
        for name in (
            "torch",
            "transformers",
            "datasets",
            "sklearn",
            "seqeval",
            "accelerate",
            "safetensors",
            "tokenizers",
            "scipy",
            "jiwer",
            "rouge_score",
            "sacrebleu",
            "soundfile",
            "PIL",
        )
    },
    "matplotlib": "plot",
    "ray": "scale",
    "pyarrow": "scale",
}


def one_line(message: str) -> str:
    """A message on one line (white space runs collapsed), at most 2,000 characters."""
    return " ".join(message.split())[:2000]


def _say(message: str) -> None:
    from cardsmith.card.io import printable  # messages quote cards and file names

    print(f"cardsmith: {printable(message)}", file=sys.stderr)


def exit_for(exc: BaseException) -> int:
    """Report ``exc`` on standard error in one line and return the exit code it maps to.

    Rows of the table, in order: ``SystemExit`` (its code); Ctrl-C (130); click's usage errors and
    aborts (2); :class:`~cardsmith.errors.CardsmithError` (its ``exit_code``, 2); a missing optional
    dependency (2, naming the extra to install); anything else is an internal error (2), re-raised
    when ``CARDSMITH_DEBUG`` is set.
    """
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (OK if code is None else FAILED)
    if isinstance(exc, KeyboardInterrupt):
        _say("interrupted")
        return INTERRUPTED
    click = sys.modules.get("click")
    if click is not None:
        if isinstance(exc, click.exceptions.Abort):
            _say("aborted")
            return FAILED
        if isinstance(exc, click.ClickException):
            _say(f"error: {exc.format_message()}")
            return FAILED
    if isinstance(exc, CardsmithError):
        _say(f"error: {one_line(str(exc))}")
        return exc.exit_code
    if isinstance(exc, ModuleNotFoundError):
        extra = EXTRA_OF.get((exc.name or "").split(".")[0])
        if extra is not None:
            _say(f'error: this needs {exc.name}: pip install "cardsmith[{extra}]"')
            return FAILED
    if type(exc).__name__ == "PanicException":  # pyo3: a Rust library (tokenizers) panicked on its input
        _say(f"error: a Rust library (tokenizers) panicked on this input: {one_line(str(exc))}")
        return FAILED
    if os.environ.get("CARDSMITH_DEBUG") and isinstance(exc, Exception):
        raise exc
    # Anything else, a BaseException that is no Exception too (a Rust panic in a tokenizer): one line.
    _say(
        f"internal error: {type(exc).__name__}: {one_line(str(exc))} (set CARDSMITH_DEBUG=1 for a traceback)"
    )
    return FAILED
