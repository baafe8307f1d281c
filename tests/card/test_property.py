"""Property-based hardening: random and mutated Markdown, YAML and tables never crash cardsmith.

Whatever the text, :func:`cardsmith.card.parse.parse_card` either returns a card or raises cardsmith's own
:class:`~cardsmith.errors.CardsmithError`; a card that parses can always be audited and rendered, and
rendering an unchanged card gives back the exact text that was parsed.

Runs are reproducible (``derandomize=True``: the examples derive from each test's name); set
``CARDSMITH_FUZZ_RANDOM=1`` to explore fresh random examples locally, and
``CARDSMITH_FUZZ_EXAMPLES=N`` to run more of them.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from locations import CORPUS_CARDS as CORPUS
from locations import HARDENING as FIXTURES
from locations import require_corpus

from cardsmith.api import ModelCard
from cardsmith.errors import CardsmithError

FUZZ = settings(
    max_examples=int(os.environ.get("CARDSMITH_FUZZ_EXAMPLES", "120")),
    deadline=None,
    derandomize=os.environ.get("CARDSMITH_FUZZ_RANDOM") != "1",
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

FIXTURE_CARDS = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.md"))]
GOOD = (FIXTURES / "good_card.md").read_text(encoding="utf-8")


@functools.cache
def corpus_cards() -> list[str]:
    require_corpus(CORPUS)
    texts = []
    for path in sorted(CORPUS.glob("*.md")):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:  # pragma: no cover - the corpus is UTF-8
            continue
    if not texts:
        pytest.skip(f"corpus at {CORPUS} holds no cards")
    return texts


def exercise(text: str) -> ModelCard | None:
    """Parse, audit and render; only cardsmith's own errors may escape (and only from parsing)."""
    try:
        card = ModelCard.from_markdown(text)
    except CardsmithError:
        return None
    report = card.audit()
    for finding in report.findings:
        assert finding.severity in ("error", "warning", "info")
        assert finding.name and finding.rule and finding.message
    rendered = card.to_markdown()
    assert isinstance(rendered, str)
    return card


#: How many generated inputs each property really exercised (parsed, audited, rendered) or saw rejected.
EXERCISED: Counter[str] = Counter()


def lossless(text: str, name: str) -> None:
    """A card that parses renders back to exactly the text it came from, and re-parses."""
    card = exercise(text)
    if card is None:
        EXERCISED[name + ":rejected"] += 1
        return
    EXERCISED[name] += 1
    rendered = card.to_markdown()
    assert rendered == text.removeprefix("\ufeff")
    again = ModelCard.from_markdown(rendered)
    assert again.to_markdown() == rendered


# -- mutations -----------------------------------------------------------------------------------

STRANGE_NUMBERS = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "1e309",
    "-1e308",
    "-0.5",
    "-0",
    "1e-320",
    "99999999999999999999999999",
    "0x1F",
    "1_000",
    "½",
    "١٢٣",
    "1.2.3",
    "--1",
    "+-0.1",
    "1e",
    ".",
    "e5",
    "0.9546%",
    "**0.91**",
    "`0.5`",
    "",
]
YAML_BREAKERS = [
    "&a",
    "*a",
    "*undefined",
    ": :",
    "{",
    "}",
    "[",
    "]",
    "\t",
    "- - -",
    "? x",
    "!!python/object:os.system",
    "!!binary",
    "<<: *a",
    "%YAML 1.1",
    "---",
    "...",
    "'",
    '"',
    "|",
    ">",
    "#",
    "@",
    "`",
    "\x85",
    "\u2028",
    "key: &x [*x]",
    "model-index: 7",
    "model-index:\n- results: {}",
    "license: [a, b",
    "base_model: {}",
]
UNICODE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=20,
)


@st.composite
def mutated(draw: st.DrawFn, sources: list[str]) -> str:
    """A real card with a few random line, character and number mutations."""
    text = draw(st.sampled_from(sources))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        lines = text.splitlines(keepends=True) or [""]
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        op = draw(
            st.sampled_from(
                [
                    "delete",
                    "duplicate",
                    "swap",
                    "pipes",
                    "unicode",
                    "truncate",
                    "number",
                    "yaml",
                    "eol",
                    "dup-block",
                ]
            )
        )
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "pipes":
            pos = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = (
                lines[i][:pos] + draw(st.sampled_from(["|", "||", " | ", "\\|", "|\n|"])) + lines[i][pos:]
            )
        elif op == "unicode":
            pos = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = lines[i][:pos] + draw(UNICODE) + lines[i][pos:]
        elif op == "truncate":
            joined = "".join(lines)
            lines = [joined[: draw(st.integers(min_value=0, max_value=len(joined)))]]
        elif op == "number":
            numbers = list(re.finditer(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", lines[i]))
            if numbers:
                m = draw(st.sampled_from(numbers))
                lines[i] = (
                    lines[i][: m.start()] + draw(st.sampled_from(STRANGE_NUMBERS)) + lines[i][m.end() :]
                )
        elif op == "yaml":
            pos = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = lines[i][:pos] + draw(st.sampled_from(YAML_BREAKERS)) + lines[i][pos:]
        elif op == "eol":
            lines[i] = lines[i].rstrip("\r\n") + draw(st.sampled_from(["\r\n", "\r", "", "\n\n"]))
        elif op == "dup-block":
            j = draw(st.integers(min_value=i, max_value=min(len(lines), i + 40)))
            lines[j:j] = lines[i:j]
        text = "".join(lines)
    return text


# -- random tables -------------------------------------------------------------------------------

COLUMNS = [
    "Training Loss",
    "Epoch",
    "Step",
    "Validation Loss",
    "Accuracy",
    "F1",
    "Precision",
    "Recall",
    "Overall F1",
    "Wer",
    "Rouge1",
    "Gen Len",
    "Matthews Correlation",
    "Loss",
    "Runtime",
    "  ",
    "F1",
]
CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: f"{v:.4f}" if math.isfinite(v) else str(v)),
    st.floats(min_value=0, max_value=1).map(lambda v: f"{v:.4f}"),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.sampled_from(STRANGE_NUMBERS + ["No log", "-", "n/a", "**bold**", "<br>"]),
    UNICODE,
)


@st.composite
def table_card(draw: st.DrawFn) -> str:
    """The fixture card with its results table replaced by a random one."""
    base = GOOD
    head, _, tail = base.partition("### Training results")
    _, _, tail = tail.partition("\n\n\n")
    columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=8))
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=len(columns) + 2), max_size=25))
    align = draw(st.sampled_from([":---:", "---", ":--", "--:", "-"]))
    edge = draw(st.booleans())

    def row(cells: list[str]) -> str:
        inner = " | ".join(c.replace("|", "\\|").replace("\n", " ").replace("\r", " ") for c in cells)
        return f"| {inner} |\n" if edge else f"{inner}\n"

    table = row(columns) + row([align] * len(columns)) + "".join(row(r) for r in rows)
    return f"{head}### Training results\n\n{table}\n\n{tail}"


# -- the properties ------------------------------------------------------------------------------


@contextmanager
def exercised(name: str, at_least: float) -> Iterator[None]:
    """The property must have run on at least ``at_least`` (a fraction) of its inputs that parsed.

    A property over cards says nothing about inputs the parser rejects; without this check it would
    pass vacuously if the parser rejected (almost) everything.
    """
    before_ok, before_bad = EXERCISED[name], EXERCISED[name + ":rejected"]
    yield
    ok = EXERCISED[name] - before_ok
    bad = EXERCISED[name + ":rejected"] - before_bad
    assert ok >= 1 and ok >= at_least * (ok + bad), f"{name}: only {ok} of {ok + bad} generated inputs parsed"


@FUZZ
@given(st.text(max_size=3000))
def random_text(text: str) -> None:
    lossless(text, "random-text")


def test_random_text() -> None:
    with exercised("random-text", at_least=0.5):
        random_text()


@FUZZ
@given(
    st.text(alphabet=st.sampled_from(list("-:|#*&!{}[]\n\t '\"0123456789.eE,abc>")), max_size=600),
    st.text(max_size=400),
)
def random_front_matter(front: str, body: str) -> None:
    lossless(f"---\n{front}\n---\n{body}", "front-matter")
    lossless(f"---\n{front}", "front-matter-unclosed")  # never closed


def test_random_front_matter_and_markdown_syntax() -> None:
    with exercised("front-matter", at_least=0.2):
        random_front_matter()


@FUZZ
@given(st.data())
def mutated_fixture_cards(data: st.DataObject) -> None:
    lossless(data.draw(mutated(FIXTURE_CARDS)), "mutated-fixtures")


def test_mutated_fixture_cards() -> None:
    with exercised("mutated-fixtures", at_least=0.5):
        mutated_fixture_cards()


@FUZZ
@given(st.data())
def mutated_corpus_cards(data: st.DataObject) -> None:
    lossless(data.draw(mutated(corpus_cards())), "mutated-corpus")


def test_mutated_corpus_cards() -> None:
    corpus_cards()  # skips (or under CI fails) before hypothesis runs when the corpus is absent
    with exercised("mutated-corpus", at_least=0.5):
        mutated_corpus_cards()


@FUZZ
@given(table_card())
def random_results_tables(text: str) -> None:
    lossless(text, "random-tables")


def test_random_results_tables() -> None:
    with exercised("random-tables", at_least=0.75):
        random_results_tables()


@FUZZ
@given(
    st.sampled_from(["Validation Loss", "Accuracy", "Training Loss"]),
    st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity"]),
    st.integers(min_value=0, max_value=2),
)
def test_nan_or_inf_in_a_table_is_always_out_of_range(column: str, value: str, row: int) -> None:
    head, _, rest = GOOD.partition("### Training results")
    lines = rest.splitlines(keepends=True)
    table_rows = [i for i, line in enumerate(lines) if re.match(r"\|\s*[\d.]+\s*\|", line)]
    header = next(line for line in lines if line.startswith("| Training Loss"))
    index = [c.strip() for c in header.strip().strip("|").split("|")].index(column)
    cells = lines[table_rows[row]].strip().strip("|").split("|")
    cells[index] = f" {value} "
    lines[table_rows[row]] = "|" + "|".join(cells) + "|\n"
    card = ModelCard.from_markdown(head + "### Training results" + "".join(lines))
    findings = [f for f in card.audit().findings if f.name == "metric-out-of-range"]
    assert any(f.location.row == row + 1 and f.location.column == column for f in findings), findings
    assert all(f.severity == "error" for f in findings)
