"""Printed numbers: what a card's digits say, the Trainer's rounding, and comparison under rounding.

A card prints numbers rounded (usually to four decimals, by transformers' ``_maybe_round``); every
comparison cardsmith makes allows for the rounding of the digits actually printed. This module is
the one place that knows how: :class:`Cell` (a printed value and its precision),
:func:`trainer_round` (how the Trainer prints a float), and :func:`agree` / :func:`same_digits` /
:func:`interval` / :func:`distinct` (what two printed values can mean).
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

#: Tolerance added to every interval comparison (binary floating point noise).
EPS = 1e-9
#: Below this, two rounding intervals only touch (floating point noise of decimal texts).
TOUCH = 1e-12


#: A number with thousands separators: ``18,609``, ``1,234.5`` (groups of exactly three digits).
_GROUPED_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
#: A printed number's digits once sign, percent sign and spaces are taken off (the caller strips
#: them first, so no two whitespace runs are ever adjacent in the pattern: linear on any input).
_DIGITS_RE = re.compile(r"(?P<mant>(?:\d[\d_]*)?(?:\.\d*)?)(?:[eE](?P<exp>[-+]?\d{1,6}))?")


def _number_parts(core: str) -> tuple[str, str, str | None, bool] | None:
    """``(sign, mantissa, exponent, percent)`` of a stripped number text, else None."""
    sign = core[:1] if core[:1] in ("-", "+") else ""
    rest = core[len(sign) :].lstrip()
    percent = rest.endswith("%")
    if percent:
        rest = rest[:-1].rstrip()
    if "," in rest and _GROUPED_RE.fullmatch(rest):
        rest = rest.replace(",", "")  # 18,609 steps: thousands separators
    m = _DIGITS_RE.fullmatch(rest)
    if m is None:
        return None
    return sign, m.group("mant"), m.group("exp"), percent


_SPECIAL = {
    "nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "-infinity": -math.inf,
}


def trainer_round(value: Any, decimals: int = 4) -> str:
    """How the Trainer prints a value: transformers' ``_maybe_round`` (floats with more than four
    decimals are rounded to four; everything else is ``str(value)``)."""
    text = str(value)
    if isinstance(value, float) and len(text.split(".")) > 1 and len(text.split(".")[1]) > decimals:
        return f"{value:.{decimals}f}"
    return text


def _cell(
    cls: type[Cell],
    text: str,
    value: float | None = None,
    decimals: int | None = None,
    percent: bool = False,
    fields_set: frozenset[str] = frozenset({"text"}),
) -> Cell:
    """A :class:`Cell` from already typed values, without running validation."""
    cell = object.__new__(cls)
    object.__setattr__(
        cell, "__dict__", {"text": text, "value": value, "decimals": decimals, "percent": percent}
    )
    object.__setattr__(cell, "__pydantic_fields_set__", set(fields_set))
    object.__setattr__(cell, "__pydantic_extra__", None)
    object.__setattr__(cell, "__pydantic_private__", None)
    return cell


_HALF_ULPS = tuple(0.5 * 10.0 ** (-d) for d in range(32))
_ALL_CELL_FIELDS = frozenset({"text", "value", "decimals", "percent"})
_TEXT_VALUE_DECIMALS = frozenset({"text", "value", "decimals"})


class Cell(BaseModel):
    """One printed value: the text exactly as it appears and, when it is a number, its value.

    ``decimals`` is the number of digits printed after the decimal point (``0.904`` -> 3,
    ``0.9546`` -> 4, ``5`` -> 0), which bounds what the printed text can tell: the true value lies
    within ``half_ulp`` of ``value``. ``None`` for text cells such as ``No log``.
    """

    model_config = ConfigDict(defer_build=True, frozen=True)

    text: str
    value: float | None = None
    decimals: int | None = None
    percent: bool = False

    @classmethod
    def parse(cls, text: str) -> Cell:
        """Read a printed cell: ``0.9546``, ``1e-08``, ``17.71%``, ``**0.5**``, ``No log``, ``nan``."""
        raw = text
        core = text.strip().strip("*_`").strip()
        low = core.lower()
        if type(raw) is not str:  # validation coerces (or refuses) odd input
            return cls(text=raw)
        if low in _SPECIAL:
            return _cell(cls, raw, _SPECIAL[low], None, fields_set=_TEXT_VALUE_DECIMALS)
        parts = _number_parts(core)
        if parts is None or parts[1] in {".", ""}:
            return _cell(cls, raw)
        sign, mant, exp_text, percent = parts
        mant = mant.replace("_", "")
        if not any(ch.isdigit() for ch in mant):
            return _cell(cls, raw)
        exp = int(exp_text) if exp_text else 0
        frac = mant.split(".", 1)[1] if "." in mant else ""
        decimals = max(len(frac) - exp, 0)
        try:
            value = float(f"{sign}{mant}e{exp}")
        except ValueError:  # pragma: no cover - the regex only admits valid floats
            return _cell(cls, raw)
        return _cell(cls, raw, value, decimals, percent, _ALL_CELL_FIELDS)

    @classmethod
    def of(cls, value: float | None, text: str | None = None) -> Cell:
        """A cell for a value known exactly (from a training log).

        ``value`` keeps full precision; ``text`` defaults to how the Trainer prints the value
        (transformers' ``_maybe_round``: ``0.30459123`` -> ``0.3046``, ``878`` -> ``878``,
        ``1.0`` -> ``1.0``), which is what the rendered card shows.
        """
        if value is None:
            return cls(text=text if text is not None else "No log")
        if text is None:
            text = trainer_round(value)
        parsed = cls.parse(text)
        return cls(text=text, value=float(value), decimals=parsed.decimals, percent=parsed.percent)

    @property
    def is_number(self) -> bool:
        return self.value is not None

    @property
    def half_ulp(self) -> float:
        """Half a unit in the last printed place: the rounding uncertainty of ``value``."""
        d = self.decimals
        if d is None:
            return 0.0
        if 0 <= d < 32:
            return _HALF_ULPS[d]
        return 0.5 * 10.0 ** (-d)

    def agrees(self, other: float, *, extra: float = 0.0) -> bool:
        """True when ``other`` rounds to (or could have produced) this printed value."""
        if self.value is None or math.isnan(self.value) or math.isnan(other):
            return False
        return abs(self.value - other) <= self.half_ulp + extra + 1e-12


def printed(cell: Cell | float | str | None) -> str:
    """What a cell prints as: its ``text``, or for a value-only cell (``text == ""``) the Trainer's rounding."""
    if cell is None:
        return ""
    if not isinstance(cell, Cell):
        return trainer_round(cell)
    if cell.text != "" or cell.value is None:
        return cell.text
    return trainer_round(cell.value)


def agree(a: Cell, b: Cell) -> bool:
    """Two printed numbers could denote the same value: their rounding intervals overlap.

    ``0.0005`` and ``0.0006`` do not agree (their intervals meet only at 0.00055); ``0.03`` and
    ``0.0350`` do (``0.03`` is only known to +-0.005).
    """
    av = a.value
    bv = b.value
    if av is None or bv is None or math.isnan(av) or math.isnan(bv):
        return False
    if av == bv:
        return True
    if av == math.inf or av == -math.inf or bv == math.inf or bv == -math.inf:
        return False
    # Intervals that only touch share a single value (the exact midpoint between two printed
    # numbers), which one rounding would have sent both ways: they do not agree.
    return abs(av - bv) < a.half_ulp + b.half_ulp - TOUCH


def same_digits(a: Cell, b: Cell) -> bool:
    """Both texts denote the same number at the shorter of their two printed precisions."""
    if a.value is None or b.value is None or a.decimals is None or b.decimals is None:
        return False
    if not (math.isfinite(a.value) and math.isfinite(b.value)):
        return False
    d = min(a.decimals, b.decimals)
    return round(a.value, d) == round(b.value, d) and abs(a.value - b.value) <= 0.5 * 10.0 ** (-d) + EPS


def interval(c: Cell) -> tuple[float, float]:
    assert c.value is not None
    return c.value - c.half_ulp, c.value + c.half_ulp


def distinct(a: Cell, b: Cell) -> bool:
    """Both numeric and not explainable as the same value."""
    return a.value is not None and b.value is not None and not agree(a, b)
