"""CS9xx: suppression comments. Declared here, produced by the engine (:mod:`cardsmith.audit.engine`)."""

from __future__ import annotations

from collections.abc import Iterator

from cardsmith.audit.registry import (
    AuditContext,
    Hit,
    rule,
)


@rule(
    "unused-suppression",
    "CS901",
    "info",
    "an inline `<!-- cardsmith: disable=NAME -->` suppresses a rule that does not fire",
    produced_by="engine",
)
def unused_suppression(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports each rule named in an inline ``<!-- cardsmith: disable=NAME[,NAME] -->`` comment
        that ran on the card and found nothing to suppress.
    Why is this bad:
        A stale suppression hides the rule for good: the day the card regresses, nobody is told.
        Remove the name from the comment.
    Example:
        <!-- cardsmith: disable=frozen-metric -->   (and no metric is frozen)
    """
    return iter(())


@rule(
    "invalid-suppression",
    "CS902",
    "warning",
    "an inline `<!-- cardsmith: disable=... -->` names a rule that does not exist",
    produced_by="engine",
)
def invalid_suppression(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Reports each name or code in an inline ``<!-- cardsmith: disable=... -->`` comment that no
        rule has.
    Why is this bad:
        A misspelt suppression suppresses nothing while looking as if it did.
    Example:
        <!-- cardsmith: disable=frozen-metrics -->   (the rule is frozen-metric)
    """
    return iter(())
