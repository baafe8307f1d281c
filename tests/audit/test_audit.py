"""The audit engine through the CLI: seeds, exit codes, selection, [tool.cardsmith], suppressions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from locations import REPO
from test_rules import SEED_EXPECTED

from cardsmith.audit.config import find_pyproject
from cardsmith.audit.engine import read_config, suppressions
from cardsmith.audit.findings import SEVERITY_ORDER
from cardsmith.audit.paths import audit_paths
from cardsmith.card.parse import load_card
from cardsmith.cli.app import main
from cardsmith.errors import UnknownRuleError

ROOT = REPO
SEEDS = ROOT / "fixtures" / "seeds"
RULES = ROOT / "fixtures" / "rules"
SEED_FILES = sorted(SEEDS.glob("*/README.md"))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_seed_cards_through_the_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["audit", "--format", "json", *map(str, SEED_FILES)], capsys)
    assert code == 1 and err == ""
    cards = json.loads(out)["cards"]
    assert [c["path"] for c in cards] == [str(p) for p in SEED_FILES]
    got = {
        Path(c["path"]).parent.name[:8]: {
            (f["name"], f["severity"]) for f in c["findings"] if f["severity"] != "info"
        }
        for c in cards
    }
    assert got == SEED_EXPECTED
    info = {
        Path(c["path"]).parent.name[:8]: {f["name"] for f in c["findings"] if f["severity"] == "info"}
        for c in cards
    }
    assert "table-truncated" in info["seed-003"]
    weighted = [f for f in cards[2]["findings"] if f["name"] == "implied-metrics"]
    assert "weighted averaging" in weighted[0]["message"]
    first = cards[1]["findings"][0]
    line = next(
        i + 1
        for i, ln in enumerate(SEED_FILES[1].read_text(encoding="utf-8").splitlines())
        if ln.startswith("| 0.4235")
    )
    assert first == {
        "rule": "CS101",
        "name": "loss-equals-metric",
        "severity": "error",
        "message": "Validation Loss equals F1 (0.9546) in the row of epoch 4.0",
        "location": {"section": "Training results", "row": 4, "column": "Validation Loss", "line": line},
    }
    for card in cards:
        order = [SEVERITY_ORDER[f["severity"]] for f in card["findings"]]
        assert order == sorted(order)


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = [p for p in SEED_FILES if p.parent.name.startswith(("seed-003", "seed-004"))]
    assert run(["audit", *map(str, clean)], capsys)[0] == 0
    assert run(["audit", str(SEED_FILES[1])], capsys)[0] == 1
    # a folder means its README.md
    assert run(["audit", str(SEED_FILES[1].parent)], capsys)[0] == 1
    code, out, err = run(["audit", str(tmp_path / "missing.md")], capsys)
    assert code == 2 and "no such file" in err and "Traceback" not in err and out == ""
    (tmp_path / "empty").mkdir()
    code, _, err = run(["audit", str(tmp_path / "empty")], capsys)
    assert code == 2 and "has no README.md" in err
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    # one unreadable path among good ones is an entry of the report (exit 1), not the end of the run
    code, out, err = run(["audit", str(SEED_FILES[4]), str(binary)], capsys)
    assert code == 1 and err == "" and str(binary) in out and "unreadable-card" in out
    code, _, err = run(["audit", str(binary), str(tmp_path / "missing.md")], capsys)
    assert code == 2 and "nothing could be read" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["audit", "--select", "no-such-rule", str(SEED_FILES[0])], capsys)
    assert code == 2 and "unknown rule 'no-such-rule'" in err
    code, _, err = run(["audit", "--ignore", "CS999", str(SEED_FILES[0])], capsys)
    assert code == 2 and "CS999" in err


def test_select_and_ignore_by_name_or_code(capsys: pytest.CaptureFixture[str]) -> None:
    seed1 = str(SEED_FILES[1])
    code, out, _ = run(["audit", "--format", "json", "--ignore", "CS101", seed1], capsys)
    names = {f["name"] for f in json.loads(out)["cards"][0]["findings"]}
    assert code == 0 and "loss-equals-metric" not in names and "shifted-cell" in names
    code, out, _ = run(["audit", "--format", "json", "--select", "shifted-cell,CS101", seed1], capsys)
    assert code == 1
    assert {f["name"] for f in json.loads(out)["cards"][0]["findings"]} == {
        "shifted-cell",
        "loss-equals-metric",
    }


def _repo_with_card(tmp_path: Path, pyproject: str | None, *, card: Path = SEED_FILES[1]) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    model = repo / "models" / "m"
    model.mkdir(parents=True)
    shutil.copy(card, model / "README.md")
    if pyproject is not None:
        (repo / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return model


def test_pyproject_tool_cardsmith(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _repo_with_card(tmp_path, '[tool.cardsmith]\nignore = ["loss-equals-metric", "CS105"]\n')
    assert find_pyproject(model) == tmp_path / "repo" / "pyproject.toml"
    (report,) = audit_paths([str(model)])
    assert "loss-equals-metric" not in report.names() and "headline-not-final-or-best" not in report.names()
    assert "shifted-cell" in report.names()
    assert run(["audit", str(model)], capsys)[0] == 0
    # the CLI's --select replaces the configured selection; ignore lists add up
    (sel,) = audit_paths([str(model)], select=["loss-equals-metric", "shifted-cell"])
    assert set(sel.names()) == {"shifted-cell"}


def test_pyproject_select_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _repo_with_card(tmp_path, '[tool.cardsmith]\nselect = ["shifted-cell"]\n')
    (report,) = audit_paths([str(model)])
    assert set(report.names()) == {"shifted-cell"}
    bad = tmp_path / "repo" / "pyproject.toml"
    bad.write_text('[tool.cardsmith]\nignore = ["loss-equals-metrics"]\n', encoding="utf-8")
    with pytest.raises(UnknownRuleError, match="did you mean loss-equals-metric"):
        read_config(bad)
    code, _, err = run(["audit", str(model)], capsys)
    assert code == 2 and "pyproject.toml" in err and "loss-equals-metrics" in err
    bad.write_text("[tool.cardsmith]\nignore = 3\n", encoding="utf-8")
    assert run(["audit", str(model)], capsys)[0] == 2
    bad.write_text("[tool.cardsmith\n", encoding="utf-8")
    code, _, err = run(["audit", str(model)], capsys)
    assert code == 2 and "invalid TOML" in err


def test_pyproject_search_stops_at_the_git_boundary(tmp_path: Path) -> None:
    model = _repo_with_card(tmp_path, None)
    (tmp_path / "pyproject.toml").write_text('[tool.cardsmith]\nignore = ["CS101"]\n', encoding="utf-8")
    assert find_pyproject(model) is None
    (report,) = audit_paths([str(model)])
    assert "loss-equals-metric" in report.names()


def test_inline_suppressions(tmp_path: Path) -> None:
    text = SEED_FILES[1].read_text(encoding="utf-8")
    card = tmp_path / "README.md"
    card.write_text(
        text.replace(
            "# hflchinese", "<!-- cardsmith: disable=loss-equals-metric,CS102 -->\n\n# hflchinese", 1
        ),
        encoding="utf-8",
    )
    assert suppressions(load_card(card)) == ["loss-equals-metric", "CS102"]
    (report,) = audit_paths([str(card)])
    assert not {"loss-equals-metric", "shifted-cell", "unused-suppression"} & set(report.names())
    assert not report.has_errors
    card.write_text(
        text.replace(
            "# hflchinese", "<!-- cardsmith: disable=zero-metric, frozen-metrics -->\n\n# hflchinese", 1
        ),
        encoding="utf-8",
    )
    (report,) = audit_paths([str(card)])
    unused = [f for f in report.findings if f.name == "unused-suppression"]
    invalid = [f for f in report.findings if f.name == "invalid-suppression"]
    assert len(unused) == 1 and "zero-metric" in unused[0].message
    assert len(invalid) == 1 and "frozen-metrics" in invalid[0].message
    assert "loss-equals-metric" in report.names()


def test_parse_failure_is_an_entry_naming_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "README.md"
    broken.write_text("---\nlicense: [unclosed\n---\n# x\n", encoding="utf-8")
    bad, missing = audit_paths([str(broken), str(tmp_path / "nope")])
    assert bad.path == str(broken) and [f.name for f in bad.findings] == ["unreadable-card"]
    assert bad.findings[0].severity == "error" and "YAML" in bad.findings[0].message
    assert missing.names() == ["unreadable-card"] and "no such file" in missing.findings[0].message


def test_chance_level_reads_config_json_beside_the_card(tmp_path: Path) -> None:
    folder = RULES / "chance-level-loss"
    (report,) = audit_paths([str(folder / "fail.md")])
    assert "chance-level-loss" in report.names()
    copy = tmp_path / "fail.md"
    shutil.copy(folder / "fail.md", copy)  # no config.json: the number of labels is unknown
    (report,) = audit_paths([str(copy)])
    assert "chance-level-loss" not in report.names()


def test_chance_level_ignores_the_placeholder_labels_of_a_language_model(tmp_path: Path) -> None:
    """transformers saves LABEL_0/LABEL_1 in a causal LM's config: its loss of 0.6932 is no uniform guess."""
    folder = RULES / "chance-level-loss"
    shutil.copy(folder / "fail.md", tmp_path / "README.md")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["GPT2LMHeadModel"]
    config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (report,) = audit_paths([str(tmp_path / "README.md")])
    assert "chance-level-loss" not in report.names()
    config["architectures"] = ["GPT2ForSequenceClassification"]  # a classifier head: the labels count
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (report,) = audit_paths([str(tmp_path / "README.md")])
    assert "chance-level-loss" in report.names()


HARMONIC_TABLE = """# m

This model is a fine-tuned version of [b](https://huggingface.co/b) on the x dataset.

## Training results

| Training Loss | Epoch | Step | Validation Loss | Precision | Recall | F1 |
|:-------------:|:-----:|:----:|:---------------:|:---------:|:------:|:------:|
| 0.5           | 1.0   | 10   | 0.4             | 0.8000    | 0.6000 | 0.6857 |
"""


def test_implied_metrics_says_binary_only_when_the_model_can_be_binary(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text(HARMONIC_TABLE, encoding="utf-8")

    def implied() -> str:
        (report,) = audit_paths([str(card)])
        return next(f.message for f in report.findings if f.name == "implied-metrics")

    assert "binary averaging (F1 is the harmonic mean" in implied()  # no config.json: two labels possible
    labels = {str(i): f"L{i}" for i in range(3)}
    config = {"architectures": ["BertForSequenceClassification"], "id2label": labels}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    message = implied()
    assert "binary averaging (" not in message and "declares 3 labels" in message
    assert "the averaging is not determined" in message
