"""``cardsmith audit --from`` and ``cardsmith verify --from``: THE adapter between a bulk item and
cardsmith's audit and verify.

:func:`audit_from` and :func:`verify_from` open the source, set the run up and hand :func:`run_item`
(with :func:`preload`, which a worker runs before its first item) to :func:`cardsmith.bulk.pipeline.execute`.
They return the command's exit code: 0 = no item with an error-severity finding or a failure, 1 = at
least one, 130 = interrupted (what was written stays; ``--resume`` finishes the run). Bad options, a
missing source or an unreachable cluster raise :class:`~cardsmith.errors.CardsmithError` (exit 2)
before anything is written.

:func:`run_item` is the item function: an :class:`~cardsmith.bulk.items.Item` goes in (a card's
text from a dump, a card path, or a repo with its verify options), its
:class:`~cardsmith.bulk.items.Result` comes out. This is the only module of :mod:`cardsmith.bulk`
that knows where the auditor and the verifier live.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cardsmith.bulk.items import Item, Result, Settings, failure, make_result
from cardsmith.bulk.pipeline import execute
from cardsmith.bulk.sources import open_audit_source, open_verify_list
from cardsmith.errors import CardsmithError, ConfigError

#: Cards per task: an audit takes milliseconds, so cards travel to workers in chunks.
AUDIT_CHUNK = {"local": 16, "ray": 64}


def audit_from(
    source: str | Path,
    *,
    card_column: str | None = None,
    id_column: str | None = None,
    output: Path | None = None,
    summary: Path | None = None,
    engine: str = "local",
    workers: int | None = None,
    resume: bool = False,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    address: str | None = None,
    item_timeout: float | None = None,
    progress: bool | None = None,
    locate: Callable[[Any, str | None], list[int | None]] | None = None,
    min_severity: str = "info",
) -> int:
    """Audit every card of ``source`` (see :mod:`cardsmith.bulk.sources`).

    ``locate`` gives the findings' card lines (see :class:`~cardsmith.bulk.items.Settings`); findings
    below ``min_severity`` are left out of the lines and the summary."""
    check_rule_names(select, ignore)
    opened = open_audit_source(source, card_column=card_column, id_column=id_column)
    settings = Settings(
        kind="audit",
        select=tuple(select) if select is not None else None,
        ignore=tuple(ignore) if ignore is not None else None,
        locate=locate,
        min_severity=min_severity,
    )
    return execute(
        opened,
        settings,
        fn=run_item,
        prepare=preload,
        output=output,
        summary=summary,
        engine=engine,
        workers=workers,
        resume=resume,
        address=address,
        item_timeout=item_timeout,
        progress=progress,
        chunk=AUDIT_CHUNK.get(engine, 16),
        what="cards",
    )


def verify_from(
    source: str | Path,
    *,
    rerun: bool = False,
    output: Path | None = None,
    summary: Path | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    item_timeout: float | None = None,
    resume: bool = False,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    trust_remote_code: bool = False,
    defaults: dict[str, Any] | None = None,
    progress: bool | None = None,
    locate: Callable[[Any, str | None], list[int | None]] | None = None,
) -> int:
    """Verify every repo or folder of the list ``source``, each as ``cardsmith verify`` would."""
    check_rule_names(select, ignore)
    opened = open_verify_list(source)
    settings = Settings(
        kind="verify",
        select=tuple(select) if select is not None else None,
        ignore=tuple(ignore) if ignore is not None else None,
        rerun=rerun,
        defaults=dict(defaults or {}),
        trust_remote_code=trust_remote_code,
        locate=locate,
    )
    return execute(
        opened,
        settings,
        fn=run_item,
        prepare=preload,
        output=output,
        summary=summary,
        engine=engine,
        workers=workers,
        resume=resume,
        address=address,
        item_timeout=item_timeout,
        progress=progress,
        chunk=1,
        what="repos",
    )


# --------------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------------


#: verify options a list line may not set: they are the run's (``--rerun``, ``--select``...), or would
#: let a list fetched from elsewhere run repository code or edit cards (``--trust-remote-code``, ``--write``).
_RUN_ONLY = frozenset({"repo", "select", "ignore", "rerun", "progress", "write", "trust_remote_code"})


def _reason(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:2000]
    if isinstance(exc, CardsmithError):
        return message or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "out of memory (MemoryError)" + (f": {message}" if message else "")
    if isinstance(exc, ModuleNotFoundError):
        return f'this needs {exc.name}: pip install "cardsmith[eval]"'
    return f"internal error: {type(exc).__name__}: {message}"


def preload(settings: Settings) -> None:
    """Import what the items of ``settings`` will need, once per worker, before the first item's clock
    starts (``--item-timeout`` measures the item, not the worker's start-up). Never raises."""
    import contextlib
    import importlib

    modules = ["cardsmith.audit.engine", "cardsmith.audit.paths", "cardsmith.card.parse"]
    if settings.kind == "verify":
        modules.append("cardsmith.rerun.verify")  # torch & co. load with the first rerun (only if one runs)
    for name in modules:
        with contextlib.suppress(Exception):  # an item that needs it reports the failure itself
            importlib.import_module(name)


def check_rule_names(select: list[str] | None, ignore: list[str] | None) -> None:
    """An unknown rule name in ``--select``/``--ignore`` is an error before the run starts."""
    from cardsmith.audit.engine import resolve

    resolve(select)
    resolve(ignore)


def run_item(item: Item, settings: Settings) -> Result:
    """Audit or verify one item; never raises (a failure is the item's entry, with its reason)."""
    if item.error is not None:
        return failure(item, item.error)
    try:
        if settings.kind == "verify":
            return _verify(item, settings)
        return _audit(item, settings)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - one item never ends the run
        return failure(item, _reason(exc))


# --------------------------------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------------------------------


def _audit(item: Item, settings: Settings) -> Result:
    from cardsmith.audit.engine import audit_card
    from cardsmith.audit.paths import audit_paths, unreadable
    from cardsmith.card.parse import parse_card

    select = list(settings.select) if settings.select is not None else None
    ignore = list(settings.ignore) if settings.ignore is not None else None
    if item.path is not None and item.text is None:
        report = audit_paths([item.path], select=select, ignore=ignore)[0]
        return _audit_result(item, report, item.path, settings)
    path = item.path if item.path is not None else item.id
    try:
        card = parse_card(item.text or "")
    except (CardsmithError, ValueError, RecursionError) as exc:
        report = unreadable(path, _reason(exc), select=select, ignore=ignore, config={})
        return _audit_result(item, report, path, settings)
    report = audit_card(card, select=select, ignore=ignore, config={})
    report.path = path
    return _audit_result(item, report, path, settings, item.text)


def _audit_result(item: Item, report: Any, path: str, settings: Settings, text: str | None = None) -> Result:
    """A card's report as its entry; a card that could not be read also gets ``error``, the reason."""
    from cardsmith.audit.paths import is_unreadable

    report = report.at_least(settings.min_severity)
    error = None
    if is_unreadable(report):
        messages = [f.message for f in report.findings if f.name == "unreadable-card"]
        error = messages[0] if messages else "the card cannot be read"
        return make_result(item.id, report.to_json_dict(), error, path)
    return make_result(item.id, _report_json(report, settings, text), error, path)


def _report_json(report: Any, settings: Settings, text: str | None = None) -> dict[str, Any]:
    """``report`` as the JSON format writes it (with each finding's card line, when known)."""
    data: dict[str, Any] = report.to_json_dict()
    if settings.locate is None or not report.findings:
        return data
    try:
        lines = settings.locate(report, text)
    except Exception:  # noqa: BLE001 - line numbers are a best effort; the findings stand without them
        return data
    for out, line in zip(data["findings"], lines):
        if line is not None and isinstance(out.get("location"), dict):
            out["location"]["line"] = line
    return data


# --------------------------------------------------------------------------------------------------
# Verify
# --------------------------------------------------------------------------------------------------


def verify_options() -> dict[str, str]:
    """The options a verify list line may set, with their types: the rerun's
    (:class:`~cardsmith.rerun.options.RerunOptions`) and the repository's ``revision``."""
    from cardsmith.rerun.options import RerunOptions

    return {**RerunOptions.option_types(), "revision": "str | None"}


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """A list line's value (CSV gives strings) as the option's type; ``None`` for an empty cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kinds = {part.strip() for part in str(annotation).split("|")}
    if isinstance(value, str) and "int" in kinds:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"option {name}: {value!r} is not a whole number") from None
    if isinstance(value, str) and kinds == {"bool"}:
        low = value.strip().lower()
        if low in {"1", "true", "yes"}:
            return True
        if low in {"0", "false", "no"}:
            return False
        raise ConfigError(f"option {name}: {value!r} is not true or false")
    return value


def line_options(options: dict[str, Any]) -> dict[str, Any]:
    """A list line's options (``revision`` and the rerun's); an unknown or forbidden one is an error."""
    allowed = verify_options()
    out: dict[str, Any] = {}
    for raw, value in options.items():
        name = str(raw).strip().replace("-", "_")
        if name in _RUN_ONLY:
            raise ConfigError(f"option {raw!r} cannot be set per line (it is an option of the whole run)")
        if name not in allowed:
            raise ConfigError(f"unknown option {raw!r} (a list line may set: {', '.join(sorted(allowed))})")
        coerced = _coerce(name, value, allowed[name])
        if coerced is not None:
            out[name] = coerced
    return out


def _verify(item: Item, settings: Settings) -> Result:
    from cardsmith.rerun.options import RerunOptions
    from cardsmith.rerun.verify import verify_repo

    repo = item.path or item.id
    options = {**settings.defaults, **line_options(item.options)}
    common: dict[str, Any] = {
        "select": list(settings.select) if settings.select is not None else None,
        "ignore": list(settings.ignore) if settings.ignore is not None else None,
        "revision": options.pop("revision", None),
        "trust_remote_code": settings.trust_remote_code,
    }
    # Without --rerun only the card is audited: a list's data columns (dataset, split...) wait for
    # a run with --rerun instead of making every line an error.
    rerun = RerunOptions(**options, progress=False) if settings.rerun else None
    try:
        report = verify_repo(repo, rerun=rerun, **common)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the item's entry says why
        reason = _reason(exc)
        if not settings.rerun:
            return make_result(item.id, None, reason, repo)
        # The rerun failed: the entry still carries what the card's own audit found.
        try:
            report = verify_repo(repo, **common)
        except (Exception, SystemExit):  # noqa: BLE001 - the first reason is the one to report
            return make_result(item.id, None, reason, repo)
        return make_result(item.id, _report_json(report, settings), reason, repo)
    return make_result(item.id, _report_json(report, settings), None, repo)
