"""Output formats: JSON exactly as SPEC, SARIF 2.1.0, text, rule docs, and the README's rule table."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from locations import REPO

from cardsmith.audit.engine import RULES
from cardsmith.audit.paths import audit_paths
from cardsmith.audit.report import AuditReport, ReproducedMetric, Reproduction
from cardsmith.card.parse import load_card
from cardsmith.cli.app import main
from cardsmith.cli.formats import print_reports
from cardsmith.cli.formats.sarif import sarif_log
from cardsmith.cli.formats.text import format_text, print_card_summary, summary_line
from cardsmith.cli.rules_doc import rules_markdown_table, update_readme

ROOT = REPO
SEED_FILES = sorted((ROOT / "fixtures" / "seeds").glob("*/README.md"))
RULES_DIR = ROOT / "fixtures" / "rules"


def test_json_is_the_spec_shape() -> None:
    reports = audit_paths([str(p) for p in SEED_FILES])
    buf = io.StringIO()
    print_reports(reports, "json", out=buf)
    data = json.loads(buf.getvalue())
    assert list(data) == ["cards", "summary"] and len(data["cards"]) == 5
    counts = {"error": 0, "warning": 0, "info": 0}
    for card in data["cards"]:
        assert set(card) == {"path", "findings"}
        for f in card["findings"]:
            assert list(f) == ["rule", "name", "severity", "message", "location"]
            assert set(f["location"]) - {"line"} == {"section", "row", "column"}
            assert isinstance(f["location"].get("line", 1), int)
            assert f["severity"] in {"error", "warning", "info"}
            counts[f["severity"]] += 1
    assert data["summary"] == {
        "cards": 5,
        "errors": counts["error"],
        "warnings": counts["warning"],
        "info": counts["info"],
    }
    with_rep = AuditReport(
        path="x",
        reproduction=Reproduction(
            device="cpu",
            dataset="conll2003",
            split="validation",
            examples=3250,
            task="token-classification",
            settings={"averaging": "seqeval"},
            metrics=[ReproducedMetric(name="F1", claimed=0.9126, reproduced=0.91263, match=True)],
        ),
    )
    buf = io.StringIO()
    print_reports([with_rep], "json", out=buf)
    rep = json.loads(buf.getvalue())["cards"][0]["reproduction"]
    assert rep == {
        "device": "cpu",
        "dataset": "conll2003",
        "split": "validation",
        "examples": 3250,
        "task": "token-classification",
        "settings": {"averaging": "seqeval"},
        "metrics": [{"name": "F1", "claimed": 0.9126, "reproduced": 0.91263, "match": True}],
    }


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i + 1 for i, ln in enumerate(lines) if needle in ln)


def test_sarif_structure_and_regions() -> None:
    paths = [str(p) for p in SEED_FILES] + [
        str(RULES_DIR / "batch-size-inconsistent" / "fail.md"),
        str(RULES_DIR / "model-index-mismatch" / "fail.md"),
        str(RULES_DIR / "headline-mismatch" / "fail.md"),
    ]
    log = sarif_log(audit_paths(paths), RULES)
    json.dumps(log)  # serialisable
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "cardsmith" and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert ids == [r.code for r in RULES]
    for r in driver["rules"]:
        assert r["name"] and r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["helpUri"].startswith("https://") and r["defaultConfiguration"]["level"] in {
            "error",
            "warning",
            "note",
        }
    results = run["results"]
    assert results and all(res["ruleId"] in ids for res in results)
    assert all(driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"] for res in results)
    assert all(res["level"] in {"error", "warning", "note"} and res["message"]["text"] for res in results)
    for res in results:
        (loc,) = res["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"]
        region = loc["physicalLocation"].get("region")
        assert region is None or region["startLine"] >= 1

    def lines_for(rule: str, suffix: str) -> list[int]:
        return [
            res["locations"][0]["physicalLocation"]["region"]["startLine"]
            for res in results
            if res["properties"]["name"] == rule
            and res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(suffix)
        ]

    seed1 = SEED_FILES[1]
    assert lines_for("loss-equals-metric", "seed-001-hflchinese-bert-wwm-ext/README.md") == [
        _line_of(seed1, "| 0.4235        | 4.0"),
        _line_of(seed1, "| 0.7947        | 5.0"),
    ]
    assert lines_for("shifted-cell", "seed-001-hflchinese-bert-wwm-ext/README.md") == [
        _line_of(seed1, "| 0.4235        | 4.0")
    ]
    bs = RULES_DIR / "batch-size-inconsistent" / "fail.md"
    assert lines_for("batch-size-inconsistent", "batch-size-inconsistent/fail.md") == [
        _line_of(bs, "- total_train_batch_size:")
    ]
    hm = RULES_DIR / "headline-mismatch" / "fail.md"
    assert lines_for("headline-mismatch", "headline-mismatch/fail.md") == [_line_of(hm, "- Loss:")]
    mi = RULES_DIR / "model-index-mismatch" / "fail.md"
    assert lines_for("model-index-mismatch", "model-index-mismatch/fail.md") == [_line_of(mi, "name: F1")]
    levels = {res["properties"]["name"]: res["level"] for res in results}
    assert levels["loss-equals-metric"] == "error" and levels["shifted-cell"] == "warning"
    assert levels["implied-metrics"] == "note"


def test_text_output_plain_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    reports = audit_paths([str(p) for p in SEED_FILES])
    assert main(["audit", *map(str, SEED_FILES)]) == 1
    out = capsys.readouterr().out
    assert "\x1b[" not in out  # no colour codes when not a terminal
    assert out == format_text(reports)
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(1 for r in reports for f in r.findings if f.severity == "warning")
    infos = sum(1 for r in reports for f in r.findings if f.severity == "info")
    assert out.rstrip().splitlines()[-1] == f"{errors} errors, {warnings} warnings, {infos} info in 5 cards"
    assert re.search(
        r"error   CS101 loss-equals-metric: .*\[line \d+, Training results, row 4, Validation Loss\]", out
    )
    assert summary_line([AuditReport()]) == "0 errors, 0 warnings, 0 info in 1 card"


def test_text_output_rich_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    rep = AuditReport(
        path="m/README.md",
        reproduction=Reproduction(
            device="cpu",
            dataset="d",
            examples=10,
            metrics=[ReproducedMetric(name="F1", claimed=0.9, reproduced=0.5, match=False)],
        ),
    )
    buf = Tty()
    print_reports(audit_paths([str(SEED_FILES[1])]) + [rep], "text", out=buf)
    out = buf.getvalue()
    assert "loss-equals-metric" in out and "reproduction on d" in out and "NO" in out
    assert "2 errors" in out


def test_rich_output_shows_card_text_verbatim() -> None:
    """Split names, metric names and paths are card text, not rich markup: ``[validation]`` stays."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    rep = AuditReport(
        path="m/[x]/README.md",
        reproduction=Reproduction(
            device="cpu",
            dataset="glue",
            split="validation",
            examples=10,
            averaging="macro",
            metrics=[
                ReproducedMetric(name="Overall [F1]", claimed=0.9, reproduced=None, match=False),
                ReproducedMetric(name="Accuracy", claimed=0.9, reproduced=0.9, match=True),
            ],
        ),
    )
    buf = Tty()
    print_reports([rep], "text", out=buf)
    out = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())
    assert "m/[x]/README.md" in out
    assert "[validation]" in out and "macro averaging" in out
    assert "Overall [F1]" in out and "n/a" in out and "NO" not in out


def test_sarif_and_json_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--format", "sarif", str(SEED_FILES[4])]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0" and all(r["level"] == "note" for r in log["runs"][0]["results"])


def test_rules_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == len(RULES)
    assert all(r.name in out and r.code in out for r in RULES)
    assert main(["rules", "CS102"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("shifted-cell (CS102, warning)")
    assert "What it does:" in out and "Why is this bad:" in out and "Example:" in out
    assert main(["rules", "metric-not-reproduced"]) == 0
    assert "cardsmith verify --rerun" in capsys.readouterr().out
    assert main(["rules", "no-such-rule"]) == 2
    err = capsys.readouterr().err
    assert "unknown rule 'no-such-rule'" in err and "Traceback" not in err


def test_readme_rule_table_is_in_sync() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert update_readme(readme) == readme, "run: cardsmith rules --update-readme README.md"
    table = rules_markdown_table()
    assert all(f"`{r.name}`" in table for r in RULES)


def test_readme_script(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n\n<!-- rules:start -->\nSTALE TABLE\n<!-- rules:end -->\n\nmore\n", encoding="utf-8"
    )
    cmd = [sys.executable, "-m", "cardsmith", "rules", "--update-readme", str(readme)]
    assert subprocess.run(cmd + ["--check"], capture_output=True, check=False).returncode == 1
    assert subprocess.run(cmd, capture_output=True, check=False).returncode == 0
    text = readme.read_text(encoding="utf-8")
    assert (
        "STALE TABLE" not in text
        and "| CS101 | `loss-equals-metric` | error |" in text
        and text.endswith("more\n")
    )
    assert subprocess.run(cmd + ["--check"], capture_output=True, check=False).returncode == 0


def test_parse_text_summary(capsys: pytest.CaptureFixture[str]) -> None:
    card = load_card(SEED_FILES[4])
    buf = io.StringIO()
    print_card_summary(card, out=buf)
    out = buf.getvalue()
    assert "results:      3 rows x 8 columns" in out and "F1 0.9126" in out
    assert main(["parse", "--format", "text", str(SEED_FILES[4])]) == 0
    assert capsys.readouterr().out == out
