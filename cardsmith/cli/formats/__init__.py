"""Output formats of audit and verify reports: one module per format (``text``, ``json``, ``sarif``).

A new format is a module here with a function from a list of
:class:`~cardsmith.audit.report.AuditReport` to text, and a line in :func:`print_reports`.
"""

from __future__ import annotations

import functools
import re
from typing import TextIO

from cardsmith.audit.report import AuditReport
from cardsmith.cli.formats.text import format_text, is_tty, print_rich, stream_of

#: The names ``--format`` accepts.
FORMATS = ("text", "json", "sarif")


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:  # an undecodable file-name byte: shown as printable() shows it
        from cardsmith.card.io import printable

        return "\\\\" + printable(ch)[1:]
    return f"\\u{code:04x}"


@functools.cache
def _json_unsafe_re() -> re.Pattern[str]:
    """What :func:`json_text` escapes (compiled on first use: a text audit does not need it)."""
    return re.compile("[\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def json_text(text: str) -> str:
    """JSON text that is valid UTF-8 and safe on a terminal, meaning what it meant.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 controls but leaves DEL, C1 controls and bidi
    overrides as they are (now ``\\u`` escapes), and lone surrogates (file names that are not
    UTF-8) cannot be encoded at all: they become the text ``\\xNN``, as the text format shows them.
    """
    if text.isascii() and "\x7f" not in text:
        return text
    return _json_unsafe_re().sub(lambda m: _json_escape(m.group()), text)


def print_reports(reports: list[AuditReport], fmt: str, out: TextIO | None = None) -> None:
    """Print reports as ``text``, ``json`` or ``sarif``."""
    stream = stream_of(out)
    if fmt in {"json", "sarif"}:
        # Imported here: a pre-push hook's text audit starts without them.
        import json

        if fmt == "json":
            from cardsmith.cli.formats.json import reports_json

            data = reports_json(reports)
        else:
            from cardsmith.audit.engine import RULES
            from cardsmith.cli.formats.sarif import sarif_log

            data = sarif_log(reports, RULES)
        stream.write(json_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
    elif fmt == "text":
        if is_tty(stream):
            print_rich(reports, stream)
        else:
            stream.write(format_text(reports))
    else:
        from cardsmith.errors import ConfigError

        raise ConfigError(f"unknown output format {fmt!r} (text, json or sarif)")
    stream.flush()
