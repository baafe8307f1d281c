"""What a rule yields: a :class:`Finding` of some :data:`Severity`, pointing at a :class:`Location`.

The rules (:mod:`cardsmith.audit.registry`, :mod:`cardsmith.audit.rules`) and the rerun's comparison
build findings; :mod:`cardsmith.audit.report` gathers one card's findings (and a reproduction) into
the report the commands print.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
#: Validators are built on first validation, not at import: the auditor builds its findings with
#: ``model_construct``, so ``cardsmith audit`` never pays for them.
_DEFERRED = ConfigDict(defer_build=True)


class Location(BaseModel):
    """Where a finding points: a section, and for table cells a 1-based row and a column name."""

    model_config = _DEFERRED

    section: str | None = None
    row: int | None = None
    column: str | None = None


class Finding(BaseModel):
    model_config = _DEFERRED

    rule: str = Field(description="The rule's stable code, e.g. CS101.")
    name: str = Field(description="The rule's stable kebab-case name, e.g. loss-equals-metric.")
    severity: Severity
    message: str
    location: Location = Field(default_factory=Location)
