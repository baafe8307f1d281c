"""The audit engine: runs the rules on a card and applies the ONE selection and suppression policy.

Every finding, whoever produced it (the rules here, ``verify --rerun``'s comparison, the hook), goes
through :class:`Policy` before it is reported:

- ``select`` / ``ignore`` (names or codes) come from the caller (the CLI) and from
  ``[tool.cardsmith]`` (:mod:`cardsmith.audit.config`). The caller's ``select`` replaces the
  configured one; ``ignore`` lists add up. An unknown name is an error
  (:class:`~cardsmith.errors.UnknownRuleError`), never a no-op.
- ``<!-- cardsmith: disable=NAME[,NAME] -->`` in a card suppresses those rules for that card; a
  suppression that suppresses nothing is reported (``unused-suppression``), an unknown name in it too
  (``invalid-suppression``).
- Findings are sorted by severity (errors first), then by where they point.

The engine, not the rules, reads what lies beside a card (``config.json``'s labels): rules are pure
functions of the card's facts.

The rules it runs are listed here, in ONE explicit tuple (:data:`RULES`), with their lookups by name
or code; each is declared in its family module of :mod:`cardsmith.audit.rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cardsmith.audit.config import find_pyproject, read_table
from cardsmith.audit.facts import CardFacts, analyze
from cardsmith.audit.findings import SEVERITY_ORDER, Finding, Location
from cardsmith.audit.registry import AuditContext, Rule, build_registry
from cardsmith.audit.report import AuditReport
from cardsmith.audit.rules import completeness, contradictions, dynamics, metadata, reproduction, suppression
from cardsmith.audit.suppress import disabled_names
from cardsmith.card.model import Card
from cardsmith.card.parse import gc_paused
from cardsmith.errors import CardsmithError, UnknownRuleError

# --------------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------------

_SECTION_ORDER = {
    "Metadata": 0,
    "model-index": 1,
    "Headline": 2,
    "Training hyperparameters": 3,
    "Training results": 4,
}
#: Largest ``config.json`` read for its labels.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def suppressions(card: Card) -> list[str]:
    """The names in the card's ``<!-- cardsmith: disable=... -->`` comments, in order: real HTML
    comments of its Markdown only, not examples in inline code or code blocks (:mod:`cardsmith.audit.suppress`)."""
    return disabled_names("".join(b.text for b in card.blocks if b.kind != "metadata"))


def sort_key(f: Finding) -> tuple[Any, ...]:
    loc = f.location
    return (
        SEVERITY_ORDER.get(f.severity, 9),
        _SECTION_ORDER.get(loc.section or "", 5),
        loc.section or "",
        loc.row if loc.row is not None else -1,
        loc.column or "",
        f.rule,
    )


def read_config(pyproject: Path, data: bytes | None = None) -> dict[str, list[str]]:
    """The ``[tool.cardsmith]`` table of a ``pyproject.toml`` (:func:`~cardsmith.audit.config.read_table`),
    its rule names checked: an unknown name raises :class:`UnknownRuleError` naming the file and the key."""
    table = read_table(pyproject, data)
    for key, names in table.items():
        for name in names:
            try:
                get_rule(name)
            except UnknownRuleError as exc:
                raise UnknownRuleError(f"{pyproject}: [tool.cardsmith] {key}: {exc}") from None
    return table


def selection(
    select: list[str] | str | None, ignore: list[str] | str | None, config: dict[str, list[str]] | None
) -> set[str]:
    """The names of the rules that run: ``select`` (else the config's, else all) minus every ``ignore``."""
    cfg = config or {}
    sel = resolve(select) if select is not None else resolve(cfg.get("select"))
    ign = (resolve(ignore) or set()) | (resolve(cfg.get("ignore")) or set())
    chosen = {r.name for r in RULES} if sel is None else sel
    return chosen - ign


class Policy:
    """The one selection and suppression policy, for one card: which findings are reported."""

    def __init__(
        self,
        card: Card,
        *,
        select: list[str] | str | None = None,
        ignore: list[str] | str | None = None,
        config: dict[str, list[str]] | None = None,
    ) -> None:
        self.chosen = selection(select, ignore, config)
        self.disabled = suppressions(card)

    def apply(self, raw: Iterable[Finding], *, whole_audit: bool = True) -> list[Finding]:
        """The findings that are selected and not suppressed, plus the suppression findings; sorted.

        ``whole_audit``: ``raw`` holds every rule's findings, so a suppression that matched none of
        them is unused (False for a partial list, such as a rerun's findings alone).
        """
        chosen = self.chosen
        findings: list[Finding] = []
        known: dict[str, str] = {}
        for name in self.disabled:
            try:
                known[get_rule(name).name] = name
            except UnknownRuleError:
                if "invalid-suppression" in chosen:
                    findings.append(
                        finding(
                            "invalid-suppression",
                            f"the inline comment disables {name!r}, which is not a rule (`cardsmith rules` lists them)",
                            Location.model_construct(section="Suppressions", column=name),
                        )
                    )
        used: set[str] = set()
        for f in raw:
            if f.name not in chosen:
                continue
            if f.name in known:
                used.add(f.name)
                continue
            findings.append(f)
        for name, written in known.items():
            rule = get_rule(name)
            if (
                whole_audit
                and name not in used
                and rule.check is not None
                and name in chosen
                and "unused-suppression" in chosen
            ):
                findings.append(
                    finding(
                        "unused-suppression",
                        f"the inline comment disables {written}, but {name} finds nothing in this card",
                        Location.model_construct(section="Suppressions", column=written),
                    )
                )
        findings.sort(key=sort_key)
        return findings


def labels_beside(folder: Path) -> int | None:
    """Number of labels in the ``config.json`` of ``folder`` (``id2label`` / ``num_labels``), if any."""
    from cardsmith.card.io import read_json

    config = folder / "config.json"
    if not config.exists():
        return None
    try:  # bounded, regular files only, no link out of the folder; unreadable: no labels known
        data = read_json(config, limit=MAX_CONFIG_BYTES, within=folder)
    except CardsmithError:
        return None
    return labels_of_config(data)


def labels_of_config(data: object) -> int | None:
    """Number of labels a decoded ``config.json`` declares (``id2label`` / ``num_labels``), if any.

    ``None`` for a model whose ``architectures`` name no classification head (``...ForCausalLM``,
    ``...ForMaskedLM``, ``...ForConditionalGeneration``): transformers saves two placeholder labels
    (``LABEL_0``, ``LABEL_1``) in such configs, which say nothing about what the loss measures.
    """
    if not isinstance(data, dict):
        return None
    architectures = data.get("architectures")
    if (
        isinstance(architectures, list)
        and architectures
        and all(isinstance(a, str) for a in architectures)
        and not any(a.endswith("Classification") for a in architectures)
    ):
        return None
    id2label = data.get("id2label")
    if isinstance(id2label, dict) and len(id2label) >= 2:
        return len(id2label)
    n = data.get("num_labels")
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 2 else None


def run_rules(
    card: Card,
    *,
    selected: set[str] | None = None,
    facts: CardFacts | None = None,
    num_labels_of: Callable[[], int | None] | None = None,
) -> list[Finding]:
    """Run the audit rules (all, or the ``selected`` names) on a card; unsorted, unsuppressed."""
    ctx = AuditContext(card, facts if facts is not None else analyze(card), num_labels_of)
    out: list[Finding] = []
    for r in RULES:
        if r.check is None or (selected is not None and r.name not in selected):
            continue
        for message, location in r.check(ctx):
            out.append(
                Finding.model_construct(
                    rule=r.code, name=r.name, severity=r.severity, message=message, location=location
                )
            )
    return out


def audit_card(
    card: Card,
    *,
    select: list[str] | str | None = None,
    ignore: list[str] | str | None = None,
    path: str | Path | None = None,
    config: dict[str, list[str]] | None = None,
    num_labels: int | None = None,
    produced: Iterable[Finding] = (),
    beside: bool = True,
) -> AuditReport:
    """Audit one card.

    ``path`` is reported, and locates the ``[tool.cardsmith]`` config (unless ``config``, a table
    already read, is given; ``{}`` for none) and the ``config.json`` whose labels chance-level-loss
    needs (unless ``num_labels`` is given, e.g. from a live model). ``produced``: findings of other
    producers (a rerun's comparison) that go through the same policy. ``beside=False``: ``path`` is
    only reported, no file near it is read (the hook audits a pushed tree, not the working tree).
    """
    p = Path(path) if path is not None and beside else None
    if config is None and p is not None and p.exists():
        pyproject = find_pyproject(p.parent if p.is_file() else p)
        config = read_config(pyproject) if pyproject is not None else None
    policy = Policy(card, select=select, ignore=ignore, config=config)

    def num_labels_of() -> int | None:
        if num_labels is not None:
            return num_labels
        if p is None:
            return None
        return labels_beside(p if p.is_dir() else p.parent)

    with gc_paused():  # a long table's facts are many small objects: no collection over them
        raw = run_rules(card, selected=policy.chosen, num_labels_of=num_labels_of)
    raw.extend(produced)
    return AuditReport.model_construct(
        path=str(path) if path is not None else None, findings=policy.apply(raw)
    )
