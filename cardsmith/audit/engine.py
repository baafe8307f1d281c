"""The audit engine: runs the rules on cards, applies selection, configuration and suppressions.

- ``select`` / ``ignore`` (names or codes) come from the CLI and from ``[tool.cardsmith]`` in the
  nearest ``pyproject.toml`` above the card (walking up from the card's folder, stopping at the
  folder that holds ``.git``). The CLI's ``select`` replaces the configured one; ``ignore`` lists add
  up. An unknown name is an error (:class:`~cardsmith.errors.UnknownRuleError`), never a no-op.
- ``<!-- cardsmith: disable=NAME[,NAME] -->`` anywhere in a card suppresses those rules for that
  card; a suppression that suppresses nothing is reported (``unused-suppression``), an unknown name
  in it too (``invalid-suppression``).
- Findings are sorted by severity (errors first), then by where they point.
"""

from __future__ import annotations

import functools
import gc
import re
from pathlib import Path
from typing import Any

from cardsmith.errors import ConfigError, ParseError, UnknownRuleError
from cardsmith.audit.report import SEVERITY_ORDER, AuditReport, Finding, Location
from cardsmith.audit.registry import RULES, finding, get_rule, resolve, run_rules
from cardsmith.card.model import ModelCard

_DISABLE_RE = re.compile(r"<!--\s*cardsmith\s*:\s*disable\s*=\s*(?P<names>[^>]*?)\s*-->", re.IGNORECASE)
_SECTION_ORDER = {"Metadata": 0, "model-index": 1, "Headline": 2, "Training hyperparameters": 3,
                  "Training results": 4}


def suppressions(card: ModelCard) -> list[str]:
    """The names in the card's ``<!-- cardsmith: disable=... -->`` comments, in order."""
    text = "".join(b.text for b in card.blocks)
    names: list[str] = []
    for m in _DISABLE_RE.finditer(text):
        for part in m.group("names").split(","):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    return names


def sort_key(f: Finding) -> tuple[Any, ...]:
    loc = f.location
    return (SEVERITY_ORDER.get(f.severity, 9), _SECTION_ORDER.get(loc.section or "", 5), loc.section or "",
            loc.row if loc.row is not None else -1, loc.column or "", f.rule)


def _selection(select: list[str] | None, ignore: list[str] | None,
               config: dict[str, list[str]] | None) -> set[str]:
    cfg = config or {}
    sel = resolve(select) if select is not None else resolve(cfg.get("select"))
    ign = (resolve(ignore) or set()) | (resolve(cfg.get("ignore")) or set())
    chosen = {r.name for r in RULES} if sel is None else sel
    return chosen - ign


def audit_card(card: ModelCard, *, select: list[str] | None = None, ignore: list[str] | None = None,
               path: str | Path | None = None, config: dict[str, list[str]] | None = None) -> AuditReport:
    """Audit one card; ``path`` is only reported (and locates ``config.json`` for chance-level-loss).

    ``config`` is a ``[tool.cardsmith]`` table already read (``audit_paths`` reads it from the
    card's repository); ``select`` replaces its ``select``, ``ignore`` adds to its ``ignore``.
    """
    p = Path(path) if path is not None else None
    if config is None and p is not None and p.exists():
        pyproject = find_pyproject(p.parent if p.is_file() else p)
        config = read_config(pyproject) if pyproject is not None else None
    chosen = _selection(select, ignore, config)
    # A long table's facts are hundreds of thousands of small objects that cannot form cycles; the
    # cyclic GC would scan them over and over while the rules run: pause it (as the parser does).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        raw = run_rules(card, selected=chosen, path=p)
    finally:
        if gc_was_enabled:
            gc.enable()
    findings: list[Finding] = []
    disabled = suppressions(card)
    known: dict[str, str] = {}
    for name in disabled:
        try:
            known[get_rule(name).name] = name
        except UnknownRuleError:
            if "invalid-suppression" in chosen:
                findings.append(finding(
                    "invalid-suppression",
                    f"the inline comment disables {name!r}, which is not a rule (`cardsmith rules` lists them)",
                    Location.model_construct(section="Suppressions", column=name)))
    used: set[str] = set()
    for f in raw:
        if f.name in known:
            used.add(f.name)
            continue
        findings.append(f)
    for name, written in known.items():
        rule = get_rule(name)
        if name not in used and rule.check is not None and name in chosen and "unused-suppression" in chosen:
            findings.append(finding(
                "unused-suppression",
                f"the inline comment disables {written}, but {name} finds nothing in this card",
                Location.model_construct(section="Suppressions", column=written)))
    findings.sort(key=sort_key)
    return AuditReport.model_construct(path=str(path) if path is not None else None, findings=findings)


# --------------------------------------------------------------------------------------------------
# [tool.cardsmith] in pyproject.toml
# --------------------------------------------------------------------------------------------------


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` from ``start`` upwards, not above the folder holding ``.git``."""
    here = start.resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None


_Q = rb"""[ \t]*["']?"""


@functools.cache
def _config_patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """``[tool.cardsmith...]`` / ``tool.cardsmith... =`` / ``tool = {...}``; a ``[tool]`` header; a
    ``cardsmith = ...`` / ``cardsmith.x = ...`` key (compiled on first use: most cards have no pyproject)."""
    tool_cardsmith = re.compile(
        rb"^[ \t]*(?:\[\[?" + _Q + rb"tool" + _Q + rb"[ \t]*\." + _Q + rb"cardsmith"
        + rb"|" + _Q + rb"tool" + _Q + rb"[ \t]*(?:\." + _Q + rb"cardsmith|=))",
        re.MULTILINE,
    )
    tool_header = re.compile(rb"^[ \t]*\[" + _Q + rb"tool" + _Q + rb"[ \t]*\]", re.MULTILINE)
    cardsmith_key = re.compile(rb"^" + _Q + rb"cardsmith" + _Q + rb"[ \t]*[.=]", re.MULTILINE)
    return tool_cardsmith, tool_header, cardsmith_key


def _may_configure_cardsmith(data: bytes) -> bool:
    """False when a pyproject.toml cannot hold a ``tool.cardsmith`` table in any TOML spelling
    (``[tool.cardsmith]``, dotted keys, an inline ``tool = {...}``, ``cardsmith = ...`` under ``[tool]``)."""
    if b"cardsmith" not in data:
        return False
    tool_cardsmith, tool_header, cardsmith_key = _config_patterns()
    if tool_cardsmith.search(data):
        return True
    return bool(tool_header.search(data) and cardsmith_key.search(data))


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not _may_configure_cardsmith(data):
        return {}  # no [tool.cardsmith] table can be in it: not worth parsing (or importing tomllib)
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigError(f"{path}: reading pyproject.toml needs Python 3.11+ or the tomli package") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def read_config(pyproject: Path) -> dict[str, list[str]]:
    """The ``[tool.cardsmith]`` table of a ``pyproject.toml``: ``select`` and ``ignore`` lists.

    Unknown rule names raise :class:`UnknownRuleError` naming the file; wrong types raise
    :class:`ConfigError`.
    """
    data = _load_toml(pyproject)
    tool = data.get("tool", {})
    table = tool.get("cardsmith") if isinstance(tool, dict) else None
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.cardsmith] must be a table")
    out: dict[str, list[str]] = {}
    for key in ("select", "ignore"):
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{pyproject}: [tool.cardsmith] {key} must be a list of rule names")
        for v in value:
            try:
                get_rule(v)
            except UnknownRuleError as exc:
                raise UnknownRuleError(f"{pyproject}: [tool.cardsmith] {key}: {exc}") from None
        out[key] = list(value)
    return out


# --------------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------------


def audit_paths(paths: list[str], *, select: list[str] | None = None,
                ignore: list[str] | None = None) -> list[AuditReport]:
    """Audit many cards in one call (a folder means its README.md), in the order given.

    Every path is checked before any card is audited, so a missing path fails fast; a card that
    cannot be parsed is an error naming its path.
    """
    from cardsmith.card.parse import card_file, load_card

    resolve(select)
    resolve(ignore)
    files = [card_file(p) for p in paths]
    configs: dict[Path, dict[str, list[str]]] = {}
    found: dict[Path, Path | None] = {}  # folder -> its pyproject.toml (cards often share a folder)
    reports = []
    for given, file in zip(paths, files):
        if file.parent not in found:
            found[file.parent] = find_pyproject(file.parent)
        pyproject = found[file.parent]
        config: dict[str, list[str]] = {}
        if pyproject is not None:
            if pyproject not in configs:
                configs[pyproject] = read_config(pyproject)
            config = configs[pyproject]
        try:
            card = load_card(file)
        except ParseError as exc:
            msg = str(exc)
            raise type(exc)(msg if str(file) in msg or given in msg else f"{given}: {msg}") from None
        reports.append(audit_card(card, select=select, ignore=ignore, path=given if Path(given).is_file()
                                  else str(file), config=config))
    return reports
