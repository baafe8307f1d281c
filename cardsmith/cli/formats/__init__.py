"""Output formats of audit and verify reports: one module per format (``text``, ``json``, ``sarif``).

A new format is a module here with a function from a list of
:class:`~cardsmith.audit.report.AuditReport` to text, and a line in :func:`print_reports`.
"""

from __future__ import annotations

from typing import TextIO

from cardsmith.audit.report import AuditReport
from cardsmith.cli.formats.text import format_text, is_tty, print_rich, stream_of

#: The names ``--format`` accepts.
FORMATS = ("text", "json", "sarif")


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
            from cardsmith.cli.formats.sarif import sarif_log

            data = sarif_log(reports)
        stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "text":
        if is_tty(stream):
            print_rich(reports, stream)
        else:
            stream.write(format_text(reports))
    else:
        from cardsmith.errors import ConfigError

        raise ConfigError(f"unknown output format {fmt!r} (text, json or sarif)")
    stream.flush()
