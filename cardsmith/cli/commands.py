"""The bodies of the commands that both entry points run (the fast path and the click app)."""

from __future__ import annotations

import sys
from typing import Any

from cardsmith.cli.exits import FINDINGS, OK


def split_names(values: list[str] | tuple[str, ...]) -> list[str] | None:
    """``--select a,b --select c`` -> ``["a", "b", "c"]``; ``None`` when not given."""
    out = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return out or None


def run_audit(paths: list[str], fmt: str, select: list[str] | None, ignore: list[str] | None) -> int:
    """``cardsmith audit``: audit the paths, print the reports, return the exit code (0 or 1)."""
    from cardsmith.audit.paths import audit_paths
    from cardsmith.cli.formats import print_reports

    reports: list[Any] = audit_paths(paths, select=select, ignore=ignore)
    print_reports(reports, fmt)
    return FINDINGS if any(r.has_errors for r in reports) else OK


def run_hook(remote: str | None, url: str | None) -> int:
    """``cardsmith hook run``: the pre-push check of the refs on standard input (1 refuses the push)."""
    from cardsmith.cli.formats import print_reports
    from cardsmith.hook.run import run_pre_push

    return run_pre_push(
        sys.stdin, remote=remote, url=url, show=lambda reports: print_reports(reports, "text")
    )
