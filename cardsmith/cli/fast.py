"""The fast path of the ``cardsmith`` console script: ``audit`` and ``hook run`` without click.

A pre-push hook runs ``cardsmith hook run`` (or ``cardsmith audit`` through pre-commit) on every push,
so start-up time matters. Importing click and building the command tree costs about as much as
auditing a card, so the common invocations of ``audit`` (paths, ``--format``, ``--select``,
``--ignore``) and ``hook run [REMOTE [URL]]`` are recognised here and run directly. Both paths share
the option values (:data:`cardsmith.cli.formats.FORMATS`), the commands' bodies
(:func:`run_audit`, :func:`run_hook`, which the click commands call too) and the one error table
(:func:`cardsmith.cli.exits.exit_for`). Anything else - another command, ``--help``, an unknown or
malformed option - is not served here (:func:`run_fast` returns ``None``): the dispatcher,
:func:`cardsmith.__main__.main`, hands it to :func:`cardsmith.cli.app.main`, which owns usage checks.
"""

from __future__ import annotations

import os

from cardsmith.cli.commands import run_audit, run_hook, split_names
from cardsmith.cli.exits import exit_for
from cardsmith.cli.formats import FORMATS

_LIST_OPTIONS = ("--select", "--ignore")
#: The ``--min-severity`` (or ``--quiet``) of the last parsed ``audit`` command line.
MIN_SEVERITY = ["info"]


def parse_hook_args(argv: list[str]) -> tuple[str | None, str | None] | None:
    """``(remote, url)`` of a ``hook run [REMOTE [URL]]`` command line, else ``None``."""
    if len(argv) < 2 or argv[:2] != ["hook", "run"] or len(argv) > 4:
        return None
    rest = argv[2:]
    if any(a.startswith("-") for a in rest):
        return None
    return (rest[0] if rest else None), (rest[1] if len(rest) > 1 else None)


def parse_audit_args(argv: list[str]) -> tuple[list[str], str, list[str], list[str]] | None:
    """``(paths, format, select, ignore)`` of a plain ``audit`` command line, else ``None``.

    Only what click would read the same way is accepted: ``audit`` first, paths that do not start
    with ``-``, ``--format``/``--select``/``--ignore``/``--min-severity`` with a value (``--opt value``
    or ``--opt=value``), ``--format`` and ``--min-severity`` at most once and with a valid choice, and
    the flag ``--quiet``/``-q``. The minimum severity is left in :data:`MIN_SEVERITY`.
    """
    if not argv or argv[0] != "audit":
        return None
    paths: list[str] = []
    fmt: str | None = None
    level: str | None = None
    quiet = False
    lists: dict[str, list[str]] = {"--select": [], "--ignore": []}
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("--quiet", "-q"):
            quiet = True
            i += 1
            continue
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
            if fmt is not None or value not in FORMATS:
                return None
            fmt = value
        elif name in _LIST_OPTIONS:
            lists[name].append(value)
        elif name == "--min-severity":
            if level is not None or value not in ("info", "warning", "error"):
                return None
            level = value
        else:
            return None
    if not paths:
        return None
    MIN_SEVERITY[0] = level or ("warning" if quiet else "info")
    return paths, fmt or "text", lists["--select"], lists["--ignore"]


def run_fast(args: list[str]) -> int | None:
    """The exit code of ``args`` when the fast path serves them (a plain ``audit``, ``hook run``), else
    ``None``: :mod:`cardsmith.__main__` then hands them to the click app."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # see cardsmith.cli.app.main
    if os.environ.get("CARDSMITH_NO_FAST_PATH"):
        return None
    audit = parse_audit_args(args)
    hook = parse_hook_args(args) if audit is None else None
    if audit is None and hook is None:
        return None
    try:
        if audit is not None:
            paths, fmt, select, ignore = audit
            return run_audit(paths, fmt, split_names(select), split_names(ignore), MIN_SEVERITY[0])
        assert hook is not None
        return run_hook(*hook)
    except BaseException as exc:  # noqa: BLE001 - the one error table, as the click CLI
        return exit_for(exc)
