"""What the auditor and the evaluator report for a card: its findings (:mod:`cardsmith.audit.findings`),
a reproduction's results, and the JSON shape of it all.

The JSON shape is the outside contract of ``../shared/SPEC.md``::

    {"cards": [{"path": ..., "findings": [...], "reproduction": {...}}]}

``reproduction`` appears only when a rerun was made.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cardsmith.audit.findings import SEVERITY_ORDER, Finding

#: Validators are built on first validation, not at import (as for :mod:`cardsmith.audit.findings`).
_DEFERRED = ConfigDict(defer_build=True)


class ReproducedMetric(BaseModel):
    model_config = _DEFERRED

    name: str = Field(description="The metric's name as the card writes it ('Loss' for the eval loss).")
    claimed: float | None
    reproduced: float | None
    match: bool
    note: str | None = None
    within: str | None = Field(
        default=None,
        description="Set when the match holds only within this band, not the printed rounding "
        "(a masked LM's random masking: its sampling error); such a number is not recorded by --write.",
    )


class Reproduction(BaseModel):
    model_config = _DEFERRED

    device: str
    dataset: str
    split: str | None = None
    examples: int
    task: str | None = Field(default=None, description="The task that was rerun (a --task name).")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Every hidden setting that reproduced the card (averaging, threshold, scale...).",
    )
    metrics: list[ReproducedMetric] = Field(default_factory=list)
    averaging: str | None = Field(
        default=None, description="The averaging that reproduced precision/recall/F1, if any."
    )
    seconds: float | None = None


class AuditReport(BaseModel):
    """One card's result: its findings, what the numbers imply, and an optional reproduction."""

    model_config = _DEFERRED

    path: str | None = None
    findings: list[Finding] = Field(default_factory=list)
    reproduction: Reproduction | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def names(self) -> list[str]:
        return [f.name for f in self.findings]

    def at_least(self, min_severity: str) -> "AuditReport":
        """This report with the findings below ``min_severity`` left out (``--min-severity``,
        ``--quiet``); errors are always kept, so the exit code is the same either way."""
        floor = SEVERITY_ORDER[min_severity]
        kept = [f for f in self.findings if SEVERITY_ORDER.get(f.severity, 0) <= floor]
        return self if len(kept) == len(self.findings) else self.model_copy(update={"findings": kept})

    def to_json_dict(self) -> dict[str, object]:
        from cardsmith.card.plain import plain_dump  # model_dump(mode="json"), without building serializers

        out: dict[str, object] = {
            "path": self.path,
            "findings": [plain_dump(f) for f in self.findings],
        }
        if self.reproduction is not None:
            out["reproduction"] = plain_dump(self.reproduction, exclude_none=True)
        return out
