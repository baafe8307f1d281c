"""The ``--from`` options of ``cardsmith audit`` and ``cardsmith verify`` (bulk runs, :mod:`cardsmith.bulk`).

``app.py`` adds them to its commands with :func:`audit_from_options` / :func:`verify_from_options`;
when ``--from`` is given, :func:`audit_from_args` / :func:`verify_from_args` check them and give the
arguments with which ``app.py`` calls :mod:`cardsmith.bulk.run` (:func:`json_lines` locates the
findings for the JSON lines).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.rerun.options import RerunOptions

F = TypeVar("F", bound=Callable[..., Any])

_OUTPUT = click.Path(dir_okay=False, path_type=Path)
_ENGINE = click.Choice(["local", "ray"])


def _common(f: F) -> F:
    for decorator in reversed(
        [
            click.option(
                "--output",
                "bulk_output",
                type=_OUTPUT,
                help="With --from: append one JSON line per item here as it finishes (default: stdout).",
            ),
            click.option(
                "--summary",
                "bulk_summary",
                type=_OUTPUT,
                help="With --from: write the run's summary (items, errors, findings per rule) here as JSON.",
            ),
            click.option(
                "--engine",
                "bulk_engine",
                type=_ENGINE,
                default="local",
                show_default=True,
                help='With --from: a process pool on this machine, or Ray (pip install "cardsmith[scale]").',
            ),
            click.option(
                "--workers",
                "bulk_workers",
                type=click.IntRange(min=1),
                help="With --from: parallel workers (default: the CPUs; with --engine ray: the cluster's).",
            ),
            click.option(
                "--address",
                "bulk_address",
                help="With --engine ray: the cluster (auto, ray://host:10001); default: a local one for the run.",
            ),
            click.option(
                "--item-timeout",
                "bulk_item_timeout",
                type=click.FloatRange(min=0, min_open=True),
                help="With --from: seconds one item may take; past it, its entry says 'timed out'.",
            ),
            click.option(
                "--resume",
                "bulk_resume",
                is_flag=True,
                help="With --from: continue the run of --output, skipping the items already in it.",
            ),
        ]
    ):
        f = decorator(f)
    return f


def audit_from_options(f: F) -> F:
    """``--from SOURCE --card-column --id-column`` and the common bulk options."""
    f = _common(f)
    f = click.option(
        "--id-column", "bulk_id_column", help="With --from DUMP: the column holding each card's id."
    )(f)
    f = click.option(
        "--card-column", "bulk_card_column", help="With --from DUMP: the column holding the card text."
    )(f)
    return click.option(
        "--from",
        "bulk_source",
        help="Bulk audit: a text file of paths, a folder tree, or a Parquet/JSONL dump of cards (one JSON line per card).",
    )(f)


def verify_from_options(f: F) -> F:
    """``--from LIST`` and the common bulk options."""
    f = _common(f)
    return click.option(
        "--from",
        "bulk_source",
        help="Bulk verify: a list of repo ids or folders (text, or CSV/JSONL with dataset, split... per line).",
    )(f)


def _bulk(options: dict[str, Any]) -> dict[str, Any]:
    """Pop the bulk options out of a command's keyword arguments."""
    return {key.removeprefix("bulk_"): options.pop(key) for key in list(options) if key.startswith("bulk_")}


def _check_alone(used: dict[str, Any], what: str) -> None:
    given = [f"--{k.replace('_', '-')}" for k, v in used.items() if v not in (None, False, "local")]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise click.UsageError(f"{', '.join(given)} {verb} only to a bulk run: add --from {what}")


def no_format_with_from() -> None:
    """A bulk run writes JSON lines: a ``--format`` given with ``--from`` is a usage error, not a no-op."""
    ctx = click.get_current_context()
    if ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError(
            "--format applies to one audit or verify; with --from every item is a JSON line "
            "(--output FILE, default stdout) and the summary is text (--summary FILE for JSON)"
        )


def json_lines(report: Any, text: str | None) -> list[int | None]:
    """The 1-based card line of each finding of ``report``, as the JSON format gives it (``text``: the
    card's text when it came from a dump, else the report's path is read)."""
    from cardsmith.cli.formats.locate import LineIndex, source_lines

    lines = text.splitlines() if text is not None else source_lines(report.path)
    if not lines:
        return [None] * len(report.findings)
    located = LineIndex(lines)
    return [located.locate(f.location) for f in report.findings]


def audit_from_args(paths: tuple[str, ...], options: dict[str, Any]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`cardsmith.bulk.run.audit_from` for ``audit --from``, the bulk
    options taken out of ``options``; ``None`` when ``--from`` is not given (a plain audit)."""
    bulk = _bulk(options)
    if bulk["source"] is None:
        del bulk["source"]
        _check_alone(bulk, "SOURCE")
        if not paths:
            raise click.UsageError("give the cards to audit: PATH... or --from SOURCE")
        return None
    if paths:
        raise click.UsageError("give PATH... or --from SOURCE, not both")
    return bulk


def rerun_options(options: dict[str, Any]) -> RerunOptions | None:
    """The :class:`RerunOptions` of ``verify``'s keyword arguments (taken out of ``options``), or
    ``None`` without ``--rerun``; a data option given without ``--rerun`` is a usage error."""
    from cardsmith.rerun.options import RerunOptions

    rerun = RerunOptions(**{name: options.pop(name) for name in RerunOptions.option_types()})
    if options.get("rerun"):
        return rerun
    given = rerun.data_given()
    if given:
        raise click.UsageError(f"{', '.join(given)} only apply to a rerun; add --rerun")
    return None


def verify_from_args(repo: str | None, options: dict[str, Any]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`cardsmith.bulk.run.verify_from` for ``verify --from``; ``None``
    when ``--from`` is not given (one repo).

    The bulk options are taken out of ``options``; what is left are ``verify``'s own options.
    """
    bulk = _bulk(options)
    if bulk["source"] is None:
        del bulk["source"]
        _check_alone(bulk, "LIST")
        if repo is None:
            raise click.UsageError("give the repo to verify: REPO or --from LIST")
        return None
    if repo is not None:
        raise click.UsageError("give REPO or --from LIST, not both")
    if options.get("write"):
        raise click.UsageError("--write is for one repo at a time, not for --from LIST")
    from cardsmith.rerun.options import RerunOptions

    rerun = rerun_options(options)  # as for one repo: data options without --rerun are a mistake
    # what every line of the list gets unless it sets it: the options given, not their defaults
    default = dataclasses.asdict(RerunOptions())
    given = dataclasses.asdict(rerun) if rerun is not None else default
    defaults = {k: v for k, v in given.items() if k != "progress" and v != default[k]}
    if options.get("revision") is not None:
        defaults["revision"] = options["revision"]
    return {
        **bulk,
        "rerun": rerun is not None,
        "trust_remote_code": bool(options.get("trust_remote_code")),
        "defaults": defaults,
    }
