"""The ``cardsmith`` console script: a fast path for ``cardsmith audit``, click for everything else.

A pre-push hook runs ``cardsmith audit`` on every push, so its start-up time matters. Importing click
and building the command tree costs about as much as auditing a card, so the common invocations
of ``audit`` (paths, ``--format``, ``--select``, ``--ignore``) are recognised here and run directly.
Anything else - another command, ``--help``, an unknown or malformed option, an error while auditing -
goes through :func:`cardsmith.cli.app.main`, which owns usage checks and error messages.
"""

from __future__ import annotations

import gc
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
    from cardsmith.audit.engine import audit_paths
    from cardsmith.errors import CardsmithError

    try:
        reports: list[Any] = audit_paths(paths, select=_names(select), ignore=_names(ignore))
    except CardsmithError:
        return None  # the click CLI reports it (the audit only reads, so running it again is harmless)
    from cardsmith.cli.formats.text import print_reports

    try:
        print_reports(reports, fmt)
    except Exception as exc:  # as cardsmith.cli.app.main: never a traceback
        if os.environ.get("CARDSMITH_DEBUG"):
            raise
        from cardsmith.cli.app import _one_line

        print(f"cardsmith: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
              "(set CARDSMITH_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2
    return 1 if any(r.has_errors for r in reports) else 0


def _run(args: list[str], *, gc_paused: bool = False) -> tuple[int, bool]:
    """The exit code, and whether the fast path produced it. ``gc_paused``: the caller disabled the
    cyclic garbage collector for the fast path; it is enabled again for anything else."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # see cardsmith.cli.app.main
    parsed = parse_audit_args(args)
    if parsed is not None and not os.environ.get("CARDSMITH_NO_FAST_PATH"):
        try:
            code = _fast_audit(parsed)
        except KeyboardInterrupt:
            print("cardsmith: interrupted", file=sys.stderr)
            return 130, False
        except Exception:  # noqa: BLE001 - raised before any output: the click CLI reports it
            code = None
        if code is not None:
            return code, True
    if gc_paused:
        gc.enable()
    from cardsmith.cli.app import main as cli_main

    return cli_main(args), False


def main(argv: list[str] | None = None) -> int:
    """The CLI (``python -m cardsmith``): the same behaviour and exit codes as :func:`cardsmith.cli.app.main`."""
    return _run(sys.argv[1:] if argv is None else list(argv))[0]


def console_main() -> None:
    """The ``cardsmith`` console script: :func:`main`, then exit.

    After a fast-path audit, whose output is flushed, the process ends with ``os._exit``: tearing
    down an interpreter that has loaded pydantic takes about as long as auditing a card, and an
    audit leaves nothing to clean up (no files, threads or atexit handlers of its own). The fast
    path also runs without the cyclic garbage collector; any other command runs with it.
    """
    # The garbage collector would run some 40 times while pydantic and the card models load, and
    # find a few hundred objects at most: not worth its time in a process that exits right after.
    gc.disable()
    code, fast = _run(sys.argv[1:], gc_paused=True)
    if fast:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - e.g. a closed pipe: let the normal exit report it
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
