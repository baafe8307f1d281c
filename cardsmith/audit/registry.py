"""How a rule is declared: :class:`Rule`, the :func:`rule` decorator, and what a rule sees.

Every rule has a stable kebab-case ``name`` (readable as "ignore <name>"), a stable ``code``
(``CS1xx`` contradictions, ``CS2xx`` training dynamics, ``CS3xx`` completeness and information,
``CS4xx`` reproduction, ``CS9xx`` suppression comments), a ``severity`` and a docstring in the form
"What it does / Why is this bad / Example", checked when the registry is built. Rules are pure
functions of :class:`AuditContext` (the card and its facts); the engine supplies anything read from
beside the card. The rules themselves live in :mod:`cardsmith.audit.rules`, one module per family,
and are registered in one explicit tuple, the one the engine runs (:data:`cardsmith.audit.engine.RULES`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from cardsmith.audit.findings import Finding, Location, Severity

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.audit.facts import CardFacts, Column, Row
    from cardsmith.card.model import Card
    from cardsmith.card.numbers import Cell

#: Where the rules are documented (SARIF ``helpUri``): the README's rule table.
HELP_URI = "https://github.com/cardsmith/cardsmith/blob/main/README.md#rules"


TABLE = "Training results"


HEADLINE = "Headline"


HYPERPARAMETERS = "Training hyperparameters"


MODEL_INDEX = "model-index"


METADATA = "Metadata"


Hit = tuple[str, Location]


#: ``Location(...)`` without validation (the rules pass typed values): no validator is ever built.
place = Location.model_construct


class AuditContext:
    """What a rule sees: the card, its facts, and what the engine knows from beside the card.

    ``num_labels`` (from the model's ``config.json``, or a live model's config) is asked of the
    engine's ``num_labels_of`` on first use only, so an audit that does not need it reads nothing.
    """

    __slots__ = ("_num_labels", "_num_labels_of", "card", "facts")

    def __init__(
        self, card: Card, facts: CardFacts, num_labels_of: Callable[[], int | None] | None = None
    ) -> None:
        self.card = card
        self.facts = facts
        self._num_labels_of = num_labels_of
        self._num_labels: int | None | bool = False

    def __repr__(self) -> str:
        return f"AuditContext(card={self.card!r}, facts={self.facts!r})"

    @property
    def num_labels(self) -> int | None:
        """Number of labels of the model (``id2label`` / ``num_labels``), None when unknown."""
        if self._num_labels is False:
            self._num_labels = self._num_labels_of() if self._num_labels_of is not None else None
        return self._num_labels  # type: ignore[return-value]


class Rule:
    """One declared rule. ``check`` yields ``(message, location)`` pairs; ``None`` for rules that
    another part of cardsmith produces (the evaluator's reproduction rules, the engine's
    suppression rules). Immutable; equal when all fields are equal.

    (A plain class rather than a frozen dataclass: generating the dataclass's methods is a
    noticeable part of ``cardsmith audit``'s start-up.)
    """

    __slots__ = ("check", "code", "doc", "name", "produced_by", "severity", "summary")
    _FIELDS = ("name", "code", "severity", "summary", "check", "doc", "produced_by")

    name: str
    code: str
    severity: Severity
    summary: str
    check: Callable[[AuditContext], Iterable[Hit]] | None
    doc: str
    produced_by: str

    def __init__(
        self,
        name: str,
        code: str,
        severity: Severity,
        summary: str,
        check: Callable[[AuditContext], Iterable[Hit]] | None,
        doc: str,
        produced_by: str = "audit",
    ) -> None:
        for key, value in zip(self._FIELDS, (name, code, severity, summary, check, doc, produced_by)):
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {key!r}: Rule is immutable")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"cannot delete field {key!r}: Rule is immutable")

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Rule(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self._FIELDS) + ")"

    @property
    def help_uri(self) -> str:
        return HELP_URI

    def finding(self, message: str, location: Location | None = None) -> Finding:
        """A finding of this rule (its code, name and severity) with ``message`` at ``location``."""
        return Finding.model_construct(
            rule=self.code,
            name=self.name,
            severity=self.severity,
            message=message,
            location=location if location is not None else place(),
        )

    @property
    def markdown(self) -> str:
        """The rule's documentation in Markdown (``cardsmith rules NAME``, SARIF's ``help.markdown``)."""
        parts = self.sections
        example = parts.get("Example", "")
        return (
            f"**{self.name}** ({self.code}, {self.severity}): {self.summary}\n\n"
            f"{parts.get('What it does', '')}\n\n**Why is this bad?** {parts.get('Why is this bad', '')}\n\n"
            f"**Example**\n\n```\n{example}\n```\n"
        )

    @property
    def sections(self) -> dict[str, str]:
        """The docstring's parts: ``What it does``, ``Why is this bad``, ``Example``."""
        out: dict[str, str] = {}
        current: str | None = None
        for line in self.doc.splitlines():
            head = line.strip().rstrip(":")
            if head in _DOC_PARTS:
                current = head
                out[current] = ""
                continue
            if current is not None:
                out[current] += line + "\n"
        return {k: _dedent(v).strip("\n") for k, v in out.items()}


#: The three parts of every rule's docstring, in the style of ruff's rule pages.
_DOC_PARTS = ("What it does", "Why is this bad", "Example")


def _headings(doc: str) -> tuple[str, ...]:
    """The part headings of a rule docstring, in order (what :attr:`Rule.sections` splits on)."""
    return tuple(head for line in doc.splitlines() if (head := line.strip().rstrip(":")) in _DOC_PARTS)


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(ln[cut:] for ln in lines)


def rule(
    name: str, code: str, severity: Severity, summary: str, *, produced_by: str = "audit"
) -> Callable[[Callable[[AuditContext], Iterable[Hit]]], Rule]:
    """Declare a rule from its check function (whose docstring is the rule's documentation)."""

    def wrap(fn: Callable[[AuditContext], Iterable[Hit]]) -> Rule:
        return Rule(
            name=name,
            code=code,
            severity=severity,
            summary=summary,
            check=None if produced_by != "audit" else fn,
            doc=_dedent(fn.__doc__ or "").strip(),
            produced_by=produced_by,
        )

    return wrap


def table_location(facts: CardFacts, row: Row | None, column: Column | str | None) -> Location:
    name = column if column is None or isinstance(column, str) else column.name
    return place(section=TABLE, row=row.number if row is not None else None, column=name)


def cell_text(cell: Cell | None) -> str:
    return cell.text.strip() if cell is not None else "?"


def is_finite_number(cell: Cell | None) -> bool:
    return cell is not None and cell.value is not None and math.isfinite(cell.value)


def _kebab_case(name: str) -> bool:
    """``^[a-z][a-z0-9]*(-[a-z0-9]+)*$``, without compiling a pattern at every start-up."""
    parts = name.split("-")
    return name[:1].isalpha() and all(p and p.isascii() and p.isalnum() and p == p.lower() for p in parts)


def _rule_code(code: str) -> bool:
    """``^CS\\d{3}$``."""
    return len(code) == 5 and code.startswith("CS") and code[2:].isascii() and code[2:].isdigit()


def build_registry(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Check and freeze a rule list: kebab-case names, ``CSnnn`` codes, no duplicate name or code,
    and a docstring with all three parts."""
    names: set[str] = set()
    codes: set[str] = set()
    out = []
    for r in rules:
        if not _kebab_case(r.name):
            raise ValueError(f"rule name {r.name!r} is not kebab-case")
        if not _rule_code(r.code):
            raise ValueError(f"rule code {r.code!r} of {r.name} is not CSnnn")
        if r.name in names:
            raise ValueError(f"duplicate rule name {r.name!r}")
        if r.code in codes:
            raise ValueError(f"duplicate rule code {r.code!r} ({r.name})")
        if _headings(r.doc) != _DOC_PARTS:
            raise ValueError(f"rule {r.name} needs a 'What it does / Why is this bad / Example' docstring")
        names.add(r.name)
        codes.add(r.code)
        out.append(r)
    return tuple(out)
