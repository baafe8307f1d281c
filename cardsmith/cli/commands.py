"""The bodies of the commands that both entry points run (the fast path and the click app)."""

from __future__ import annotations

import sys
from typing import Any

from cardsmith.cli.exits import FINDINGS, OK


def split_names(values: list[str] | tuple[str, ...]) -> list[str] | None:
    """``--select a,b --select c`` -> ``["a", "b", "c"]``; ``None`` when not given."""
    out = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return out or None


def run_audit(
    paths: list[str], fmt: str, select: list[str] | None, ignore: list[str] | None, min_severity: str = "info"
) -> int:
    """``cardsmith audit``: audit the paths, print the reports, return the exit code.

    1 when any card has an error finding (an unreadable path is one); 2 (a :class:`ParseError`)
    only when no path at all could be read. ``min_severity`` hides lesser findings from the output
    (the exit code still follows the errors).
    """
    from cardsmith.audit.paths import audit_paths, is_unreadable
    from cardsmith.cli.formats import print_reports
    from cardsmith.errors import ParseError

    reports: list[Any] = audit_paths(paths, select=select, ignore=ignore)
    if reports and all(is_unreadable(r) for r in reports):
        reasons = [f.message for r in reports for f in r.findings]
        first = reasons[0] if reasons else f"cannot read {paths[0]}"
        more = (
            f" (and {len(reports) - 1} more unreadable path{'s' if len(reports) > 2 else ''})"
            if len(reports) > 1
            else ""
        )
        raise ParseError(
            f"nothing could be read: {first.removeprefix('cannot read this card: ').removeprefix('cannot read ')}{more}"
        )
    code = FINDINGS if any(r.has_errors for r in reports) else OK
    print_reports([r.at_least(min_severity) for r in reports], fmt)
    return code


def run_hook(remote: str | None, url: str | None) -> int:
    """``cardsmith hook run``: the pre-push check of the refs on standard input (1 refuses the push)."""
    from cardsmith.cli.formats import print_reports
    from cardsmith.hook.run import run_pre_push

    return run_pre_push(
        sys.stdin, remote=remote, url=url, show=lambda reports: print_reports(reports, "text")
    )
