"""The fast paths give the same results as the slow ones they replace.

- YAML: libyaml's parser under PyYAML's composer (``limits._FastLoader``) and the pure-Python loader
  read every corpus front matter (and mutations of them) identically, and keep the limits;
- the parser builds models without validation: the same objects that validation builds;
- ``plain_dump`` is ``model_dump(mode="json")``;
- the console script's fast ``audit`` path answers exactly as the click CLI;
- the audit path builds no pydantic validator and imports neither click nor rich;
- frozen-metric: one finding per frozen run, and none for the rounding steps of a slow trend;
- a long table is audited in linear time, with the rules reading columns.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from locations import CORPUS, REPO, require_corpus

from cardsmith.__main__ import main as entry_main
from cardsmith.api import ModelCard
from cardsmith.audit.config import _may_configure_cardsmith
from cardsmith.audit.engine import audit_card
from cardsmith.audit.paths import audit_paths
from cardsmith.card import io as limits
from cardsmith.card import model, parse
from cardsmith.card.model import ModelIndexEntry
from cardsmith.card.plain import plain_dump
from cardsmith.cli import fast as _entry
from cardsmith.cli.app import main as cli_main
from cardsmith.errors import InputTooLargeError, ParseError

ROOT = REPO
SEED_FILES = sorted((ROOT / "fixtures" / "seeds").glob("*/README.md"))
FIXTURE_CARDS = sorted((ROOT / "fixtures").glob("**/*.md"))


def corpus_cards() -> list[Path]:
    require_corpus(CORPUS / "cards")
    return sorted((CORPUS / "cards").glob("*.md"))


def front_matter(text: str) -> str | None:
    lines = parse.split_lines(text)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n").rstrip() in {"---", "..."}:
            return "".join(lines[1:i])
    return None


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types and key order all the way down (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def outcome(loader: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", limits._load(loader, text)
    except ParseError as exc:
        return type(exc).__name__, str(exc)


# -- YAML ----------------------------------------------------------------------------------------

needs_libyaml = pytest.mark.skipif(limits._FastLoader is None, reason="PyYAML without libyaml")


@needs_libyaml
def test_both_yaml_loaders_read_every_corpus_front_matter_alike() -> None:
    texts = [
        fm
        for p in corpus_cards() + FIXTURE_CARDS
        if (fm := front_matter(p.read_text(encoding="utf-8"))) is not None
    ]
    assert len(texts) > 100
    for text in texts:
        fast, slow = outcome(limits._FastLoader, text), outcome(limits._BoundedLoader, text)
        assert same(fast, slow), text[:300]


@needs_libyaml
def test_mutated_front_matter_reads_alike_or_falls_back() -> None:
    """Where libyaml accepts what PyYAML's own reader would read, the data is the same; everything
    else (errors, tabs, byte-order marks, unprintable characters) goes through the pure loader."""
    texts = [fm for p in FIXTURE_CARDS if (fm := front_matter(p.read_text(encoding="utf-8")))]
    rng = random.Random(1234)
    pieces = list(":-[]{}#&*!|>'\"%@`?, \n\\") + [
        "\t",
        "\ufeff",
        "\u00e9",
        "\u2028",
        "\x85",
        "  ",
        "\r\n",
        "x",
        "0",
    ]
    compared = 0
    for _ in range(1500):
        chars = list(rng.choice(texts))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(chars) + 1)
            if rng.random() < 0.6:
                chars.insert(pos, rng.choice(pieces))
            elif chars:
                del chars[min(pos, len(chars) - 1)]
        text = "".join(chars)
        slow = outcome(limits._BoundedLoader, text)
        try:
            got: tuple[str, Any] = ("ok", limits.load_yaml(text))
        except ParseError as exc:
            got = (type(exc).__name__, str(exc))
        assert same(got, slow), repr(text)
        if limits._libyaml_reads_as_pyyaml(text) and outcome(limits._FastLoader, text)[0] == "ok":
            compared += 1
    assert compared > 300  # the fast path was really exercised


@needs_libyaml
def test_fast_loader_keeps_the_limits() -> None:
    bomb = ['lol0: &lol0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"lol{i}: &lol{i} [{','.join([f'*lol{i - 1}'] * 10)}]" for i in range(1, 10)]
    cases = {
        "\n".join(bomb): "alias",
        "a: " + "[" * 200 + "]" * 200: "nested",
        "a: &a [*a]": "recursive",
        "\n".join(f"k{i}: &a{i} 1\nr{i}: *a{i}" for i in range(150)): "aliases",
    }
    for text, word in cases.items():
        for loader in (limits._FastLoader, limits._BoundedLoader):
            with pytest.raises(InputTooLargeError, match=word):
                limits._load(loader, text)
        with pytest.raises(InputTooLargeError, match=word):
            limits.load_yaml(text)
    data = limits.load_yaml("date: 2024-01-02\nlr: 2e-05\nx: 1e-5\nflag: yes\n")
    assert data == {"date": "2024-01-02", "lr": "2e-05", "x": "1e-5", "flag": True}  # PyYAML's YAML 1.1


def test_pyproject_prefilter_never_skips_a_cardsmith_table() -> None:
    spellings = [
        "[tool.cardsmith]\nignore = ['x']\n",
        "[ tool . 'cardsmith' ]\n",
        '[[tool."cardsmith"]]\n',
        "[tool.cardsmith.sub]\nx = 1\n",
        "tool.cardsmith.select = ['a']\n",
        '"tool"."cardsmith" = {select = []}\n',
        "tool = {cardsmith = {select = []}}\n",
        "[tool]\ncardsmith = {select = []}\n",
        "[tool]\n  cardsmith.select = []\n",
    ]
    for text in spellings:
        assert "cardsmith" in tomllib.loads(text)["tool"]
        assert _may_configure_cardsmith(text.encode())
    unrelated = [
        "[project]\nname = 'cardsmith'\n[project.scripts]\ncardsmith = 'cardsmith.cli.app:main'\n",
        "x = 1\n",
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
    ]
    for text in unrelated:
        assert "cardsmith" not in tomllib.loads(text).get("tool", {})
        assert not _may_configure_cardsmith(text.encode())


# -- models built without validation -------------------------------------------------------------


def assert_same_model(a: Any, b: Any, where: str = "") -> None:
    assert type(a) is type(b), where
    if hasattr(a, "__pydantic_fields_set__"):
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__, where
        assert list(a.__dict__) == list(b.__dict__), where
        assert (a.__pydantic_extra__ or {}).keys() == (b.__pydantic_extra__ or {}).keys(), where
        for k in a.__dict__:
            assert_same_model(a.__dict__[k], b.__dict__[k], f"{where}.{k}")
        for k in a.__pydantic_extra__ or {}:
            assert_same_model(a.__pydantic_extra__[k], b.__pydantic_extra__[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_model(x, y, f"{where}[{i}]")
    else:
        assert same(a, b), where


ODD_INDEXES = [
    [{"name": 3, "results": [{"task": "text-classification", "metrics": {"type": "f1", "value": 0.5}}]}],
    [{"name": "m", "results": [{"metrics": [{"type": "accuracy", "value": "0.9", "verified": "yes"}]}]}],
    [{"name": "m", "results": [{"metrics": [{"type": "accuracy", "value": 0.9, "verified": 3}]}]}],
    [{"name": "m", "_private": 1, "results": [{"dataset": {"name": "x", "args": {"a": 1}}, "extra": None}]}],
    [{"name": "m", "results": None}],
    [{"name": "m", "results": "none"}],
    {"name": "single"},
    [{"name": "m", "results": [{"metric": {"type": "f1", "value": 1}}]}],
    ["not a mapping", {"name": None}],
]


def typed_both_ways(value: Any) -> tuple[Any, Any, list[str], list[str]]:
    fast_notes: list[str] = []
    slow_notes: list[str] = []
    fast = model.typed_model_index(value, fast_notes)
    original = model._index_entry_fast
    model._index_entry_fast = lambda entry: None  # type: ignore[assignment]
    try:
        slow = model.typed_model_index(value, slow_notes)
    finally:
        model._index_entry_fast = original  # type: ignore[assignment]
    return fast, slow, fast_notes, slow_notes


def test_model_index_built_directly_is_what_validation_builds() -> None:
    values = list(ODD_INDEXES)
    for path in corpus_cards() + FIXTURE_CARDS:
        fm = front_matter(path.read_text(encoding="utf-8"))
        try:
            data = limits.load_yaml(fm) if fm else None
        except ParseError:
            continue
        if isinstance(data, dict):
            values.extend(data[k] for k in ("model-index", "model_index") if k in data)
    assert len(values) > 100
    for value in values:
        fast, slow, fast_notes, slow_notes = typed_both_ways(value)
        assert fast_notes == slow_notes
        assert_same_model(fast, slow, repr(value)[:200])
        if fast:
            for entry in fast:
                assert_same_model(entry, ModelIndexEntry.model_validate(entry.model_dump(exclude_unset=True)))


def test_parsed_cards_round_trip_through_validation() -> None:
    """What the parser builds without validation validates to itself (types, defaults, nesting)."""
    for path in SEED_FILES + corpus_cards()[:60]:
        card = ModelCard.load(path)
        again = type(card).model_validate(card.model_dump())
        for field in ("metadata", "headline", "hyperparameters", "results", "framework_versions", "blocks"):
            assert getattr(again, field) == getattr(card, field), (path.name, field)


def test_plain_dump_is_model_dump() -> None:
    for path in SEED_FILES + corpus_cards()[:80]:
        card = ModelCard.load(path)
        if card.hyperparameters is not None:
            assert plain_dump(card.hyperparameters) == card.hyperparameters.model_dump(mode="json")
        for entry in card.metadata.model_index or []:
            for exclude_none in (True, False):
                assert plain_dump(entry, exclude_none=exclude_none) == entry.model_dump(
                    mode="json", exclude_none=exclude_none
                )
        report = card.audit()
        assert report.to_json_dict() == {
            "path": None,
            "findings": [f.model_dump(mode="json") for f in report.findings],
        }
        assert plain_dump(report) == report.model_dump(mode="json")
    odd = ModelIndexEntry.model_validate({"name": "x", "when": b"bytes", "s": {1, 2}, "n": float("nan")})
    assert plain_dump(odd) == odd.model_dump(mode="json")  # falls back for bytes and sets


# -- the console script's fast path --------------------------------------------------------------


def test_parse_audit_args() -> None:
    p = _entry.parse_audit_args
    assert p(["audit", "a.md", "b"]) == (["a.md", "b"], "text", [], [])
    assert p(["audit", "--format", "json", "a.md", "--select=CS101,x", "--ignore", "y"]) == (
        ["a.md"],
        "json",
        ["CS101,x"],
        ["y"],
    )
    for argv in (
        ["audit"],
        ["verify", "x"],
        ["audit", "--format", "xml", "a"],
        ["audit", "-h", "a"],
        ["audit", "a", "--format", "json", "--format", "text"],
        ["audit", "--select", "--x", "a"],
        ["audit", "--", "a"],
        ["audit", "-", "a"],
        ["audit", "a", "--select"],
        ["--version"],
        [],
    ):
        assert p(argv) is None, argv


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "{seeds}"],
        ["audit", "--format", "json", "{seeds}"],
        ["audit", "--format=sarif", "{seed1}"],
        ["audit", "--select", "CS101,shifted-cell", "--ignore", "CS102", "{seeds}"],
        ["audit", "{fixtures}"],
        ["audit", "--format", "xml", "{seed1}"],
        ["audit", "missing.md"],
        ["audit", "--select", "nope", "{seed1}"],
        ["audit", "--bogus", "{seed1}"],
        ["audit"],
        ["audit", "{folder}"],
    ],
)
def test_fast_path_answers_as_the_click_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    subst = {
        "{seeds}": [str(p) for p in SEED_FILES],
        "{seed1}": [str(SEED_FILES[1])],
        "{fixtures}": [str(p) for p in sorted((ROOT / "fixtures" / "rules").glob("*/fail.md"))],
        "{folder}": [str(SEED_FILES[0].parent)],
    }
    args = [x for a in argv for x in subst.get(a, [a])]
    fast_code = entry_main(args)
    fast = capsys.readouterr()
    slow_code = cli_main(args)
    slow = capsys.readouterr()
    assert (fast_code, fast.out, fast.err) == (slow_code, slow.out, slow.err)


def test_audit_path_builds_no_validator_and_imports_no_click() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from cardsmith.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['audit', '--format', 'json', *{[str(p) for p in SEED_FILES]!r}])\n"
        "import cardsmith.card.model as s, cardsmith.audit.report as r\n"
        "from pydantic import BaseModel\n"
        "built = sorted(c.__name__ for m in (s, r) for c in vars(m).values()\n"
        "               if isinstance(c, type) and issubclass(c, BaseModel) and c.__pydantic_complete__)\n"
        "print(built, [m for m in ('click', 'rich', 'tomllib', 'torch', 'transformers') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[] ['tomllib']" or out.stdout.strip() == "[] []", out.stdout + out.stderr


# -- frozen-metric and long tables ---------------------------------------------------------------

HEADER = "| Training Loss | Epoch | Step | Validation Loss | Accuracy |\n|:---:|:---:|:---:|:---:|:---:|\n"


def card_with(rows: list[str]) -> str:
    return (
        "---\nlicense: mit\n---\n# m\n\nThis model is a fine-tuned version of [b](https://huggingface.co/b) "
        "on the imdb dataset.\n\n### Training results\n\n" + HEADER + "".join(rows) + "\n"
    )


def frozen(text: str) -> list[Any]:
    return [f for f in audit_card(ModelCard.from_markdown(text)).findings if f.name == "frozen-metric"]


def test_frozen_metric_is_one_finding_per_run_and_not_a_rounding_step() -> None:
    # accuracy frozen at 0.8712 in rows 1-4 and 7-9 while the loss falls: two runs, two findings
    acc = ["0.8712"] * 4 + ["0.9011", "0.9230"] + ["0.8712"] * 3
    rows = [
        f"| {0.9 - 0.05 * i:.4f} | {i + 1:.1f} | {100 * (i + 1)} | {0.8 - 0.04 * i:.4f} | {a} |\n"
        for i, a in enumerate(acc)
    ]
    found = frozen(card_with(rows))
    assert [(f.location.row, f.location.column) for f in found] == [(1, "Accuracy"), (7, "Accuracy")]
    assert "4 consecutive evaluations (the row of epoch 1.0 to epoch 4.0)" in found[0].message
    # a slow trend: each value repeats while the next is one unit up; the loss moves a little
    slow = [
        f"| {0.9 - 0.0004 * i:.4f} | {i + 1:.1f} | {100 * (i + 1)} | {0.8 - 0.0003 * i:.4f} | "
        f"{0.5 + 0.0001 * (i // 4):.4f} |\n"
        for i in range(40)
    ]
    assert frozen(card_with(slow)) == []
    # the same plateau, but the metric jumps after it: frozen
    jump = slow[:8] + [r.replace(r.split("|")[5], " 0.7000 ") for r in slow[8:]]
    assert [f.location.row for f in frozen(card_with(jump))] == [5, 9]  # 0.5001 x4, then 0.7000 x32
    # a loss that only steps to the adjacent printed value does not "move"
    still = [
        f"| 0.5000 | {i + 1:.1f} | {100 * (i + 1)} | {0.4001 if i % 2 else 0.4000:.4f} | 0.8000 |\n"
        for i in range(5)
    ]
    assert frozen(card_with(still)) == []


def test_long_smooth_table_has_no_findings_and_is_linear() -> None:
    import time

    def table(n: int) -> str:
        rows = [
            f"| {1.55 - 0.5 * i / n:.4f} | {i:.1f} | {100 * i} | {1.5 - 0.5 * i / n:.4f} | "
            f"{0.5 + 0.4 * i / n:.4f} |\n"
            for i in range(1, n + 1)
        ]
        return card_with(rows)

    def cost(text: str) -> float:
        start = time.perf_counter()
        report = audit_card(ModelCard.from_markdown(text))
        elapsed = time.perf_counter() - start
        assert [f.name for f in report.findings if f.severity != "info"] == []
        return elapsed

    small, large = cost(table(2_000)), cost(table(20_000))
    assert large < 20 * max(small, 0.02), (small, large)


def test_audit_paths_json_for_the_corpus_matches_per_card_audits() -> None:
    cards = corpus_cards()[:40]
    together = [r.to_json_dict() for r in audit_paths([str(p) for p in cards])]
    alone = [audit_paths([str(p)])[0].to_json_dict() for p in cards]
    assert together == alone
    assert json.loads(json.dumps(together)) == together


def test_console_script_flushes_everything_before_its_fast_exit(capsys: pytest.CaptureFixture[str]) -> None:
    """The console script ends a fast-path audit with ``os._exit``: its piped output must be whole."""

    def console(argv: list[str]) -> subprocess.CompletedProcess[str]:
        code = f"import sys; sys.argv = ['cardsmith', *{argv!r}]; from cardsmith.__main__ import console_main; console_main()"
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
        )

    argv = ["audit", "--format", "json", *[str(p) for p in SEED_FILES], *[str(p) for p in FIXTURE_CARDS[:40]]]
    fast = console(argv)
    expected_code = cli_main(argv)
    expected = capsys.readouterr()
    assert (fast.returncode, fast.stdout, fast.stderr) == (expected_code, expected.out, expected.err)
    assert len(json.loads(fast.stdout)["cards"]) == len(SEED_FILES) + 40
    listed = console(["rules"])  # not an audit: through click, with the normal exit
    assert listed.returncode == 0 and "loss-equals-metric" in listed.stdout and listed.stderr == ""
    missing = console(["audit", "nope.md"])
    assert missing.returncode == 2 and missing.stderr.startswith("cardsmith: error:") and missing.stdout == ""


def test_fast_constructors_build_what_model_construct_builds() -> None:
    from cardsmith.card.model import Block, Cell

    for args in [
        ("text", "abc\n"),
        ("results", "| a |\n", {"columns": ["a"], "rows": []}),
        ("metadata", "", None),
    ]:
        kw = dict(zip(("kind", "text", "snapshot"), args))
        assert_same_model(parse._block(*args), Block.model_construct(**kw))  # type: ignore[arg-type]
    for text in ("0.9546", "-1.25", "12", "No log", "17.71%", "1e-08", "", "nan", "**0.5**"):
        built = parse._table_rows([f"| {text} |\n"], 0, 1, 1)[0][0][0]
        assert_same_model(built, Cell.parse(text))
        if text:
            assert_same_model(parse._fast_cell(text), Cell.parse(text))
            assert Cell.model_validate(built.model_dump()) == built
