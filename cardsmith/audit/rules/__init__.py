"""Every rule of the auditor, in ONE explicit tuple (:data:`RULES`), and lookups by name or code.

A new rule goes in the family module it belongs to (``contradictions``, ``dynamics``,
``completeness``, ``metadata``, ``reproduction``, ``suppression``), with ``fixtures/rules/<name>/{pass,fail}.md``, and
is listed here; ``cardsmith rules`` and the README's rule table are generated from this tuple.
"""

from __future__ import annotations

from collections.abc import Iterable

from cardsmith.audit.findings import Finding, Location
from cardsmith.audit.registry import Rule, build_registry
from cardsmith.audit.rules import completeness, contradictions, dynamics, metadata, reproduction, suppression
from cardsmith.errors import UnknownRuleError

#: Every rule, in the order ``cardsmith rules`` lists them.
RULES: tuple[Rule, ...] = build_registry(
    [
        contradictions.loss_equals_metric,
        contradictions.loss_equals_metric_once,
        contradictions.shifted_cell,
        contradictions.headline_mismatch,
        contradictions.headline_after_last_row,
        contradictions.model_index_mismatch,
        contradictions.headline_not_final_or_best,
        contradictions.steps_not_proportional,
        contradictions.progress_not_monotonic,
        contradictions.metric_out_of_range,
        contradictions.f1_not_harmonic_mean,
        contradictions.loss_too_low_for_accuracy,
        contradictions.batch_size_inconsistent,
        contradictions.epochs_exceed_config,
        contradictions.multi_gpu_one_device,
        dynamics.frozen_metric,
        dynamics.training_loss_rising,
        dynamics.best_checkpoint_not_reported,
        dynamics.chance_level_loss,
        dynamics.zero_metric,
        dynamics.training_loss_repeated,
        dynamics.warmup_spans_run,
        completeness.table_truncated,
        completeness.missing_base_model,
        completeness.missing_dataset,
        completeness.missing_license,
        metadata.model_index_invalid,
        completeness.placeholder_section,
        completeness.empty_model_index,
        completeness.implied_metrics,
        completeness.task_metric_missing,
        completeness.front_matter_unclosed,
        completeness.unreadable_card,
        completeness.unreadable_value,
        completeness.headline_not_read,
        reproduction.metric_not_reproduced,
        reproduction.loss_not_reproduced,
        suppression.unused_suppression,
        suppression.invalid_suppression,
    ]
)

_BY_KEY: dict[str, Rule] = {}

for _r in RULES:
    _BY_KEY[_r.name] = _r
    _BY_KEY[_r.code.lower()] = _r


def get_rule(name_or_code: str) -> Rule:
    """A rule by name or code (case-insensitive); :class:`UnknownRuleError` otherwise."""
    key = name_or_code.strip().lower()
    found = _BY_KEY.get(key)
    if found is None:
        import difflib

        close = difflib.get_close_matches(key, [r.name for r in RULES], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UnknownRuleError(f"unknown rule {name_or_code!r}{hint}; `cardsmith rules` lists them")
    return found


def resolve(names: Iterable[str] | str | None) -> set[str] | None:
    """Names or codes (a list, or one comma-separated string) -> rule names; ``None`` stays ``None``.
    Unknown names raise."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [part.strip() for part in names.split(",") if part.strip()]
    return {get_rule(n).name for n in names}


def finding(name: str, message: str, location: Location | None = None) -> Finding:
    """A finding of the registered rule ``name`` (or code), with its code and severity filled in."""
    return get_rule(name).finding(message, location)
