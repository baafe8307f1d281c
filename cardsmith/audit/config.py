"""``[tool.cardsmith]`` in ``pyproject.toml``: the rule selection a repository configures.

The nearest ``pyproject.toml`` above a card (walking up from the card's folder, stopping at the
folder that holds ``.git``) may hold ``select`` and ``ignore`` lists of rule names or codes. This
module finds, reads and types the table; the policy (:func:`cardsmith.audit.engine.read_config`)
checks its names against the rule list.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from cardsmith.errors import CardsmithError, ConfigError


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


_BLANKS = re.compile(rb"[ \t]+")


@functools.cache
def _config_patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """``[tool.cardsmith...]`` / ``tool.cardsmith... =`` / ``tool = {...}``; a ``[tool]`` header; a
    ``cardsmith = ...`` / ``cardsmith.x = ...`` key (compiled on first use: most cards have no pyproject)."""
    tool_cardsmith = re.compile(
        rb"^[ \t]*(?:\[\[?"
        + _Q
        + rb"tool"
        + _Q
        + rb"[ \t]*\."
        + _Q
        + rb"cardsmith"
        + rb"|"
        + _Q
        + rb"tool"
        + _Q
        + rb"[ \t]*(?:\."
        + _Q
        + rb"cardsmith|=))",
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
    # One blank for every run of blanks: the patterns' optional quotes sit between [ \t]* runs,
    # which a long run of blanks would make quadratic (a pushed pyproject.toml is untrusted).
    data = _BLANKS.sub(b" ", data)
    tool_cardsmith, tool_header, cardsmith_key = _config_patterns()
    if tool_cardsmith.search(data):
        return True
    return bool(tool_header.search(data) and cardsmith_key.search(data))


#: Largest pyproject.toml read.
MAX_PYPROJECT_BYTES = 4 * 1024 * 1024


def _load_toml(path: Path, data: bytes | None = None) -> dict[str, Any]:
    if data is None:
        from cardsmith.card.io import read_bytes

        try:  # bounded, a regular file (a FIFO is not waited on)
            data = read_bytes(path, limit=MAX_PYPROJECT_BYTES, what="pyproject.toml")
        except CardsmithError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
    if not _may_configure_cardsmith(data):
        return {}  # no [tool.cardsmith] table can be in it: not worth parsing (or importing tomllib)
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigError(
                f"{path}: reading pyproject.toml needs Python 3.11+ or the tomli package"
            ) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


#: The keys a ``[tool.cardsmith]`` table may hold; any other key is an error, not a silent no-op.
CONFIG_KEYS = ("select", "ignore")


def read_table(pyproject: Path, data: bytes | None = None) -> dict[str, list[str]]:
    """The ``[tool.cardsmith]`` table of a ``pyproject.toml``: ``select`` and ``ignore`` lists of
    strings (the names are not checked here). ``data``: the file's bytes when they come from
    elsewhere (the hook reads the pushed commit's).

    Wrong keys or types raise :class:`ConfigError`.
    """
    table_data = _load_toml(pyproject, data)
    tool = table_data.get("tool", {})
    table = tool.get("cardsmith") if isinstance(tool, dict) else None
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.cardsmith] must be a table")
    unknown = sorted(str(key) for key in table if key not in CONFIG_KEYS)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], CONFIG_KEYS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(
            f"{pyproject}: [tool.cardsmith] has unknown key(s) {', '.join(map(repr, unknown))}"
            f"{hint}; the keys are {', '.join(CONFIG_KEYS)}"
        )
    out: dict[str, list[str]] = {}
    for key in ("select", "ignore"):
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{pyproject}: [tool.cardsmith] {key} must be a list of rule names")
        out[key] = list(value)
    return out
