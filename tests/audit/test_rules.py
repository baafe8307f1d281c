"""The rule registry, every rule on its pass/fail fixture cards, and what the numbers imply."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from locations import REPO

from cardsmith.api import ModelCard
from cardsmith.audit.engine import RULES, audit_card, finding, get_rule
from cardsmith.audit.facts import analyze, harmonic_mean_agrees
from cardsmith.audit.findings import Finding, Location
from cardsmith.audit.paths import audit_paths
from cardsmith.audit.registry import Rule, build_registry
from cardsmith.audit.report import Reproduction
from cardsmith.card.model import Cell, HeadlineMetric, Hyperparameters, ResultsTable
from cardsmith.card.numbers import agree, same_digits
from cardsmith.errors import UnknownRuleError
from cardsmith.rerun.claims import claimed_metrics
from cardsmith.rerun.data import EvalData
from cardsmith.rerun.run import EvalOutput
from cardsmith.rerun.tasks.classification import check_claims

ROOT = REPO
RULE_FIXTURES = ROOT / "fixtures" / "rules"
SEEDS = ROOT / "fixtures" / "seeds"

SPEC_RULES = {
    "loss-equals-metric": "error",
    "shifted-cell": "warning",
    "headline-mismatch": "error",
    "model-index-mismatch": "error",
    "headline-not-final-or-best": "warning",
    "steps-not-proportional": "error",
    "progress-not-monotonic": "error",
    "metric-out-of-range": "error",
    "f1-not-harmonic-mean": "error",
    "batch-size-inconsistent": "error",
    "epochs-exceed-config": "error",
    "frozen-metric": "warning",
    "training-loss-rising": "warning",
    "best-checkpoint-not-reported": "warning",
    "chance-level-loss": "warning",
    "zero-metric": "warning",
    "table-truncated": "info",
    "missing-base-model": "info",
    "missing-dataset": "info",
    "missing-license": "info",
    "placeholder-section": "info",
    "empty-model-index": "info",
    "metric-not-reproduced": "error",
    "loss-not-reproduced": "error",
}
#: Rules whose fixture cards the offline auditor checks (``audit_paths``).
FIXTURE_RULES = [r for r in RULES if r.produced_by in {"audit", "engine"}]
#: Rules only ``cardsmith verify --rerun`` produces: the offline audit never reports them, so their
#: fixture cards are compared with the stored evaluation output beside them (``rerun.json``, written
#: by ``fixtures/rules/generate_rerun.py``) through the comparison code ``verify`` uses.
RERUN_RULES = [r for r in RULES if r.produced_by == "evaluator"]


def test_registry_has_every_spec_rule_at_its_severity() -> None:
    by_name = {r.name: r for r in RULES}
    for name, severity in SPEC_RULES.items():
        assert by_name[name].severity == severity, name
    assert len({r.name for r in RULES}) == len(RULES)
    assert len({r.code for r in RULES}) == len(RULES)


def test_registry_refuses_duplicate_names_and_codes() -> None:
    a = get_rule("loss-equals-metric")
    with pytest.raises(ValueError, match="duplicate rule name"):
        build_registry(
            [a, Rule(name=a.name, code="CS999", severity="info", summary="x", check=None, doc=a.doc)]
        )
    with pytest.raises(ValueError, match="duplicate rule code"):
        build_registry(
            [a, Rule(name="other-rule", code=a.code, severity="info", summary="x", check=None, doc=a.doc)]
        )
    with pytest.raises(ValueError, match="kebab-case"):
        build_registry(
            [Rule(name="Bad_Name", code="CS998", severity="info", summary="x", check=None, doc=a.doc)]
        )
    with pytest.raises(ValueError, match="docstring"):
        build_registry([Rule(name="no-doc", code="CS997", severity="info", summary="x", check=None, doc="")])


def test_every_rule_is_documented_in_three_parts() -> None:
    for r in RULES:
        parts = r.sections
        assert list(parts) == ["What it does", "Why is this bad", "Example"], r.name
        assert all(parts[k].strip() for k in parts), r.name


def test_get_rule_by_name_or_code_and_unknown() -> None:
    assert get_rule("CS101") is get_rule("loss-equals-metric") is get_rule("cs101")
    with pytest.raises(UnknownRuleError, match="did you mean frozen-metric"):
        get_rule("frozen-metrics")


def test_finding_fills_code_and_severity_for_the_evaluator() -> None:
    f = finding(
        "metric-not-reproduced",
        "claimed F1 0.9126, reproduced 0.8712",
        Location(section="Headline", column="F1"),
    )
    assert (f.rule, f.name, f.severity) == (
        get_rule("metric-not-reproduced").code,
        "metric-not-reproduced",
        "error",
    )
    assert f.location.column == "F1"
    g = finding("CS402", "claimed Loss 0.3165, reproduced 0.4410")
    assert g.name == "loss-not-reproduced" and g.location == Location()
    with pytest.raises(UnknownRuleError):
        finding("no-such-rule", "x")


def test_every_rule_has_fixture_cards() -> None:
    # every rule is tested on its fixtures by exactly one path: the offline audit or the rerun comparison
    assert {r.name for r in FIXTURE_RULES} | {r.name for r in RERUN_RULES} == {r.name for r in RULES}
    assert not {r.name for r in FIXTURE_RULES} & {r.name for r in RERUN_RULES}
    assert {r.name for r in RERUN_RULES} == {"metric-not-reproduced", "loss-not-reproduced"}
    have = {p.name for p in RULE_FIXTURES.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert have == {r.name for r in RULES}
    for r in RULES:
        assert (RULE_FIXTURES / r.name / "pass.md").is_file() and (
            RULE_FIXTURES / r.name / "fail.md"
        ).is_file()
        assert (RULE_FIXTURES / r.name / "rerun.json").is_file() == (r in RERUN_RULES), r.name


@pytest.mark.parametrize("rule", FIXTURE_RULES, ids=lambda r: r.name)
def test_rule_fires_on_fail_card_and_not_on_pass_card(rule: Rule) -> None:
    folder = RULE_FIXTURES / rule.name
    fail, ok = audit_paths([str(folder / "fail.md"), str(folder / "pass.md")])
    hits = [f for f in fail.findings if f.name == rule.name]
    assert hits, f"{rule.name} did not fire on its fail card: {[f.name for f in fail.findings]}"
    assert all(f.severity == rule.severity and f.rule == rule.code for f in hits)
    assert all(f.message for f in hits)
    assert rule.name not in ok.names(), [f.message for f in ok.findings if f.name == rule.name]


@pytest.mark.parametrize("rule", FIXTURE_RULES, ids=lambda r: r.name)
def test_select_and_ignore_on_fail_card(rule: Rule) -> None:
    path = str(RULE_FIXTURES / rule.name / "fail.md")
    (only,) = audit_paths(
        [path], select=[rule.code] + (["frozen-metric"] if rule.produced_by == "engine" else [])
    )
    assert rule.name in only.names()
    if rule.produced_by == "audit":
        assert set(only.names()) == {rule.name}
        (ignored,) = audit_paths([path], ignore=[rule.name])
        assert rule.name not in ignored.names()


# -- reproduction rules: fixture cards against a stored evaluation output ------------------------------


def _rerun_inputs(rule: Rule) -> tuple[EvalData, EvalOutput, str]:
    """``rerun.json`` as the objects ``verify --rerun`` compares a card with, and the dataset's name."""
    raw = json.loads((RULE_FIXTURES / rule.name / "rerun.json").read_text(encoding="utf-8"))
    data = EvalData(
        dataset=None,
        name=raw["dataset"],
        split=raw["split"],
        task=raw["task"],
        text_columns=[raw["text_column"]],
        label_column=raw["label_column"],
        references=raw["references"],
        id2name={int(k): v for k, v in raw["id2label"].items()},
    )
    output = EvalOutput(
        predictions=raw["predictions"],
        references=raw["references"],
        loss_sums=raw["loss_sums"],
        loss_counts=raw["loss_counts"],
        device="cpu",
        dtype="fp32",
        seconds=0.0,
    )
    name = raw["dataset"] + (f" ({raw['config']})" if raw["config"] else "")
    return data, output, name


def _check(
    rule: Rule, card_name: str, text: str | None = None, **kwargs: Any
) -> tuple[Reproduction, list[Finding]]:
    data, output, name = _rerun_inputs(rule)
    path = RULE_FIXTURES / rule.name / card_name
    card = ModelCard.from_markdown(text) if text is not None else ModelCard.load(path)
    return check_claims(card, data, output, dataset=name, **kwargs)


@pytest.mark.parametrize("rule", RERUN_RULES, ids=lambda r: r.name)
def test_reproduction_rule_fires_on_fail_card_and_not_on_pass_card(rule: Rule) -> None:
    reproduction, found = _check(rule, "fail.md")
    assert [f.name for f in found] == [rule.name], [
        f.message for f in found
    ]  # one claim changed, one finding
    (hit,) = found
    assert (hit.rule, hit.severity, hit.location.section) == (rule.code, rule.severity, "Headline")
    claimed = {"metric-not-reproduced": ("F1", "0.8564"), "loss-not-reproduced": ("Loss", "0.2691")}[
        rule.name
    ]
    assert hit.location.column == claimed[0]
    assert f"{claimed[0]} {claimed[1]} (headline) is not reproduced" in hit.message
    assert f"{reproduction.dataset}/{reproduction.split} ({reproduction.examples} examples)" in hit.message
    assert [m.name for m in reproduction.metrics if not m.match] == [claimed[0]]

    reproduction, found = _check(rule, "pass.md")
    assert found == [], [f.message for f in found]
    assert all(m.match for m in reproduction.metrics)


@pytest.mark.parametrize("rule", RERUN_RULES, ids=lambda r: r.name)
def test_reproduction_pass_card_prints_exactly_the_rerun_numbers(rule: Rule) -> None:
    """The pass card is honest to its last digit, not just within the tolerance."""
    card = ModelCard.load(RULE_FIXTURES / rule.name / "pass.md")
    claims = claimed_metrics(card)
    reproduction, _ = _check(rule, "pass.md")
    assert [c.name for c in claims] == [m.name for m in reproduction.metrics] == ["Loss", "Accuracy", "F1"]
    for claim, metric in zip(claims, reproduction.metrics):
        assert metric.reproduced is not None
        assert f"{metric.reproduced:.{claim.cell.decimals}f}" == claim.cell.text.strip(), claim.name
    assert reproduction.averaging == "binary"
    assert (
        reproduction.metrics[0].note
        == f"Trainer batching, eval_batch_size {card.hyperparameters.eval_batch_size}"
    )


@pytest.mark.parametrize("rule", RERUN_RULES, ids=lambda r: r.name)
def test_reproduction_fixtures_differ_only_in_the_reproduction(rule: Rule) -> None:
    """The offline auditor sees nothing different in pass and fail, and never reports a rerun rule."""
    fail, ok = audit_paths(
        [str(RULE_FIXTURES / rule.name / "fail.md"), str(RULE_FIXTURES / rule.name / "pass.md")]
    )
    assert sorted(fail.names()) == sorted(ok.names())
    assert not {f.severity for f in fail.findings} & {"error", "warning"}
    assert not {r.name for r in RERUN_RULES} & set(fail.names())


@pytest.mark.parametrize("rule", RERUN_RULES, ids=lambda r: r.name)
def test_reproduction_findings_obey_select_ignore_and_suppressions(rule: Rule) -> None:
    assert _check(rule, "fail.md", ignore=[rule.code])[1] == []
    assert _check(rule, "fail.md", ignore=[rule.name.upper()])[1] == []
    other = next(r for r in RERUN_RULES if r is not rule)
    assert _check(rule, "fail.md", select=[other.name])[1] == []
    assert [f.name for f in _check(rule, "fail.md", select=[rule.code])[1]] == [rule.name]
    text = (RULE_FIXTURES / rule.name / "fail.md").read_text(encoding="utf-8")
    suppressed = text + f"\n<!-- cardsmith: disable={rule.name} -->\n"
    reproduction, found = _check(rule, "fail.md", text=suppressed)
    assert found == []
    assert not all(m.match for m in reproduction.metrics)  # still shown in the reproduction


def test_rerun_fixtures_are_what_the_generator_writes() -> None:
    generator = runpy.run_path(str(RULE_FIXTURES / "generate_rerun.py"), run_name="generate_rerun")
    assert set(generator["SPECS"]) == {r.name for r in RERUN_RULES}
    for name, spec in generator["SPECS"].items():
        stored = (RULE_FIXTURES / name / "rerun.json").read_text(encoding="utf-8")
        assert generator["dumps"](generator["simulate"](spec)) == stored, name


# -- seeds through card.audit() --------------------------------------------------------------------

#: The error and warning findings each seed card must get (the issue's outcomes), shared with
#: the CLI test in test_audit.py.
SEED_EXPECTED = {
    "seed-000": {("frozen-metric", "warning"), ("training-loss-rising", "warning")},
    "seed-001": {
        ("loss-equals-metric", "error"),
        ("shifted-cell", "warning"),
        ("headline-not-final-or-best", "warning"),
        ("frozen-metric", "warning"),
    },
    "seed-002": {("best-checkpoint-not-reported", "warning")},
    "seed-003": set(),
    "seed-004": set(),
}


def _seed(prefix: str) -> Path:
    (folder,) = [p for p in SEEDS.iterdir() if p.name.startswith(prefix)]
    return folder / "README.md"


@pytest.mark.parametrize("prefix", sorted(SEED_EXPECTED))
def test_seed_cards_get_exactly_what_their_numbers_call_for(prefix: str) -> None:
    report = ModelCard.load(_seed(prefix)).audit()
    serious = {(f.name, f.severity) for f in report.findings if f.severity != "info"}
    assert serious == SEED_EXPECTED[prefix]


def test_seed_001_details() -> None:
    report = ModelCard.load(_seed("seed-001")).audit()
    lem = [f for f in report.findings if f.name == "loss-equals-metric"]
    assert [(f.location.row, f.location.column) for f in lem] == [
        (4, "Validation Loss"),
        (5, "Validation Loss"),
    ]
    assert "Validation Loss equals F1 (0.9546)" in lem[0].message
    (shift,) = [f for f in report.findings if f.name == "shifted-cell"]
    assert (shift.location.row, shift.location.column) == (4, "Training Loss")
    (head,) = [f for f in report.findings if f.name == "headline-not-final-or-best"]
    assert "epoch 3.0" in head.message
    assert report.findings[0].severity == "error"  # sorted: errors first


def test_seed_implications() -> None:
    seeds = {p: analyze(ModelCard.load(_seed(p))) for p in ("seed-002", "seed-003", "seed-004")}
    assert seeds["seed-002"].averaging == "weighted"
    assert seeds["seed-003"].averaging == "seqeval"
    assert seeds["seed-004"].averaging == "seqeval"
    assert all(f.scale == "fraction" for f in seeds.values())
    (trunc,) = [f for f in ModelCard.load(_seed("seed-003")).audit().findings if f.name == "table-truncated"]
    assert trunc.message.startswith("18 evaluations are missing")


# -- printed-number semantics ----------------------------------------------------------------------


def test_agreement_respects_printed_rounding() -> None:
    assert agree(Cell.parse("0.03"), Cell.parse("0.0349"))  # 0.03 is only known to +-0.005
    assert not agree(Cell.parse("0.03"), Cell.parse("0.0351"))
    assert not agree(Cell.parse("0.0005"), Cell.parse("0.0006"))  # intervals only touch
    assert agree(Cell.parse("0.9474"), Cell.parse("0.9473684210526315"))
    assert same_digits(Cell.parse("0.95"), Cell.parse("0.9546"))  # equal at the shorter precision
    assert not same_digits(Cell.parse("0.9547"), Cell.parse("0.9546"))
    assert same_digits(Cell.parse("0.9546"), Cell.parse("0.9546"))
    assert not agree(Cell.parse("nan"), Cell.parse("nan"))


def test_harmonic_mean_uses_intervals() -> None:
    # seed 003: recall printed "0.2" is known only to +-0.05
    assert harmonic_mean_agrees(Cell.parse("0.3011"), Cell.parse("0.2"), Cell.parse("0.2403"))
    assert harmonic_mean_agrees(Cell.parse("0.9109"), Cell.parse("0.9144"), Cell.parse("0.9126"))
    assert not harmonic_mean_agrees(Cell.parse("0.9109"), Cell.parse("0.9144"), Cell.parse("0.9136"))


def _base_card_text() -> str:
    return (RULE_FIXTURES / "loss-equals-metric" / "pass.md").read_text(encoding="utf-8")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3), min_size=40, max_size=40))
def test_rounding_alone_never_makes_an_error_or_warning(decimals: list[int]) -> None:
    """Re-print every number of the results table with fewer decimals: nothing new may fire.

    (The card has no two cells one digit apart: printing those alike is a real coincidence of the
    printed digits, which loss-equals-metric is defined to report.)
    """
    card = ModelCard.load(_seed("seed-004"))
    before = {f.name for f in audit_card(card).findings if f.severity != "info"}
    assert card.results is not None
    k = 0
    rows = []
    for row in card.results.rows:
        new = []
        for col, cell in zip(card.results.columns, row):
            if cell.value is None or col in {"Step", "Epoch"}:
                new.append(cell)
                continue
            d = decimals[k % len(decimals)]
            k += 1
            new.append(Cell.parse(f"{round(cell.value, d):.{d}f}"))
        rows.append(new)
    rounded = card.model_copy(update={"results": ResultsTable(columns=card.results.columns, rows=rows)})
    after = {f.name for f in audit_card(rounded).findings if f.severity != "info"}
    assert after <= before


# -- odd cards: rules handle missing columns and cells themselves ------------------------------------


ODD_TABLES = [
    ResultsTable(columns=[], rows=[]),
    ResultsTable(columns=["Epoch"], rows=[[Cell.parse("1.0")], [Cell.parse("1.0")]]),
    ResultsTable(
        columns=["Training Loss", "Epoch", "Step", "Validation Loss", "F1"],
        rows=[
            [Cell.parse("No log")],
            [Cell.parse("nan"), Cell.parse("x"), Cell.parse("0"), Cell.parse("inf"), Cell.parse("-inf")],
            [],
        ],
    ),
    ResultsTable(
        columns=["Loss", "Accuracy", "Precision", "Recall", "F1"],
        rows=[[Cell.parse("0"), Cell.parse("0"), Cell.parse("0"), Cell.parse("0"), Cell.parse("0")]] * 4,
    ),
    ResultsTable(
        columns=["Epoch", "Step", "Wer"],
        rows=[
            [Cell.parse("0"), Cell.parse("0"), Cell.parse("1e308")],
            [Cell.parse("-1"), Cell.parse("-5"), Cell.parse("17.71%")],
        ],
    ),
]


@pytest.mark.parametrize("table", ODD_TABLES)
def test_rules_never_raise_on_odd_cards(table: ResultsTable) -> None:
    card = ModelCard(
        headline=[
            HeadlineMetric(name="Loss", value=Cell.parse("nan")),
            HeadlineMetric(name="F1", value=Cell.parse("0")),
        ],
        hyperparameters=Hyperparameters(
            train_batch_size=0, total_train_batch_size=7, num_devices=0, num_epochs=0
        ),
        results=table,
    )
    report = card.audit()
    assert all(f.rule.startswith("CS") for f in report.findings)


def test_nan_loss_is_out_of_range() -> None:
    card = ModelCard.from_markdown(_base_card_text().replace("- Loss: 0.3165", "- Loss: nan"))
    assert any(f.name == "metric-out-of-range" and "Loss" in f.message for f in card.audit().findings)


def test_percent_scale_cards() -> None:
    card = ModelCard(
        headline=[HeadlineMetric(name="Rouge1", value=Cell.parse("41.18"))],
        results=ResultsTable(
            columns=["Epoch", "Step", "Validation Loss", "Rouge1"],
            rows=[
                [Cell.parse("1.0"), Cell.parse("100"), Cell.parse("1.9"), Cell.parse("39.1")],
                [Cell.parse("2.0"), Cell.parse("200"), Cell.parse("1.8"), Cell.parse("41.18")],
            ],
        ),
    )
    report = card.audit()
    assert "metric-out-of-range" not in report.names()
    assert analyze(card).scale == "percent"
    bad = card.model_copy(update={"headline": [HeadlineMetric(name="Rouge1", value=Cell.parse("141.18"))]})
    assert "metric-out-of-range" in bad.audit().names()
