"""The ``cardsmith`` console script: a fast path for ``cardsmith audit``, click for everything else.

A pre-push hook runs ``cardsmith audit`` on every push, so its start-up time matters. Importing click
and building the command tree costs about as much as auditing a card, so the common invocations
of ``audit`` (paths, ``--format``, ``--select``, ``--ignore``) are recognised here and run directly.
Anything else - another command, ``--help``, an unknown or malformed option, an error while auditing -
goes through :func:`cardsmith.cli.main`, which owns usage checks and error messages.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_FORMATS = ("text", "json", "sarif")
_LIST_OPTIONS = ("--select", "--ignore")


def _names(values: list[str]) -> list[str] | None:
    """``--select a,b --select c`` -> ``["a", "b", "c"]``; ``None`` when not given (as the click command)."""
    out = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return out or None


def parse_audit_args(argv: list[str]) -> tuple[list[str], str, list[str], list[str]] | None:
    """``(paths, format, select, ignore)`` of a plain ``audit`` command line, else ``None``.

    Only what click would read the same way is accepted: ``audit`` first, paths that do not start
    with ``-``, and ``--format``/``--select``/``--ignore`` with a value (``--opt value`` or
    ``--opt=value``), ``--format`` at most once and with a valid choice.
    """
    if not argv or argv[0] != "audit":
        return None
    paths: list[str] = []
    fmt: str | None = None
    lists: dict[str, list[str]] = {"--select": [], "--ignore": []}
    i = 1
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            if arg == "-":
                return None
            paths.append(arg)
            i += 1
            continue
        name, eq, value = arg.partition("=")
        if not eq:
            if i + 1 >= len(argv):
                return None
            value = argv[i + 1]
            if value.startswith("-"):
                return None
            i += 2
        else:
            i += 1
        if name == "--format":
            if fmt is not None or value not in _FORMATS:
                return None
            fmt = value
        elif name in _LIST_OPTIONS:
            lists[name].append(value)
        else:
            return None
    if not paths:
        return None
    return paths, fmt or "text", lists["--select"], lists["--ignore"]


def _fast_audit(parsed: tuple[list[str], str, list[str], list[str]]) -> int | None:
    """Run a parsed ``audit``; ``None`` when it must go through the click CLI instead."""
    paths, fmt, select, ignore = parsed
    from cardsmith.audit import audit_paths
    from cardsmith.errors import CardsmithError

    try:
        reports: list[Any] = audit_paths(paths, select=_names(select), ignore=_names(ignore))
    except CardsmithError:
        return None  # the click CLI reports it (the audit only reads, so running it again is harmless)
    from cardsmith.output import print_reports

    try:
        print_reports(reports, fmt)
    except Exception as exc:  # as cardsmith.cli.main: never a traceback
        if os.environ.get("CARDSMITH_DEBUG"):
            raise
        from cardsmith.cli import _one_line

        print(f"cardsmith: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
              "(set CARDSMITH_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2
    return 1 if any(r.has_errors for r in reports) else 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point (``cardsmith``); the same behaviour and exit codes as :func:`cardsmith.cli.main`."""
    args = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # see cardsmith.cli.main
    parsed = parse_audit_args(args)
    if parsed is not None and not os.environ.get("CARDSMITH_NO_FAST_PATH"):
        try:
            code = _fast_audit(parsed)
        except KeyboardInterrupt:
            print("cardsmith: interrupted", file=sys.stderr)
            return 130
        except Exception:  # noqa: BLE001 - raised before any output: the click CLI reports it
            code = None
        if code is not None:
            return code
    from cardsmith.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
