"""Issue #10: every path of a multi-path audit stands alone; --quiet / --min-severity; summary; lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "fixtures" / "rules"


def cli(*args: str, fast: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not fast:
        env["CARDSMITH_NO_FAST_PATH"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "cardsmith", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    shutil.copy(RULES / "frozen-metric" / "fail.md", tmp_path / "good.md")
    shutil.copy(RULES / "headline-mismatch" / "fail.md", tmp_path / "bad-numbers.md")
    (tmp_path / "list-front-matter.md").write_text("---\n- a\n- b\n---\n# t\n", encoding="utf-8")
    (tmp_path / "logo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    shutil.copy(RULES / "front-matter-unclosed" / "fail.md", tmp_path / "open.md")
    return tmp_path


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "click"])
def test_bad_paths_are_entries_and_good_cards_are_audited(folder: Path, fast: bool) -> None:
    paths = [
        folder / "good.md",
        folder / "list-front-matter.md",
        folder / "missing.md",
        folder / "logo.md",
        folder / "bad-numbers.md",
        folder / "open.md",
    ]
    proc = cli("audit", "--format", "json", *map(str, paths), fast=fast)
    assert proc.returncode == 1 and proc.stderr == ""
    data = json.loads(proc.stdout)
    cards = {Path(c["path"]).name: [f["name"] for f in c["findings"]] for c in data["cards"]}
    assert list(cards) == [p.name for p in paths]
    for bad in ("list-front-matter.md", "missing.md", "logo.md"):
        assert cards[bad] == ["unreadable-card"], bad
    assert "frozen-metric" in cards["good.md"] and "headline-mismatch" in cards["bad-numbers.md"]
    # unclosed front matter: read as huggingface_hub reads it (no metadata), reported, and audited
    assert "front-matter-unclosed" in cards["open.md"] and "implied-metrics" in cards["open.md"]
    reasons = {Path(c["path"]).name: c["findings"][0]["message"] for c in data["cards"]}
    assert "no such file" in reasons["missing.md"] and "binary" in reasons["logo.md"]
    assert "not a mapping" in reasons["list-front-matter.md"]
    summary = data["summary"]
    assert summary["cards"] == 6 and summary["errors"] == sum(
        1 for c in data["cards"] for f in c["findings"] if f["severity"] == "error"
    )


def test_a_folder_without_readme_is_an_entry(folder: Path) -> None:
    (folder / "empty").mkdir()
    proc = cli("audit", str(folder / "good.md"), str(folder / "empty"))
    assert proc.returncode == 1 and "unreadable-card" in proc.stdout and "has no README.md" in proc.stdout


def test_nothing_readable_is_exit_2_with_one_line(folder: Path) -> None:
    proc = cli("audit", str(folder / "logo.md"), str(folder / "missing.md"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        proc.stderr.count("\n") == 1
        and "nothing could be read" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    proc = cli("audit", "--select", "no-such-rule", str(folder / "good.md"))
    assert proc.returncode == 2 and "unknown rule" in proc.stderr


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "click"])
def test_quiet_and_min_severity(folder: Path, fast: bool) -> None:
    good, bad = str(folder / "good.md"), str(folder / "bad-numbers.md")
    full = json.loads(cli("audit", "--format", "json", good, fast=fast).stdout)
    assert {f["severity"] for f in full["cards"][0]["findings"]} == {"warning", "info"}
    for quiet in (["--quiet"], ["-q"], ["--min-severity", "warning"], ["--min-severity=warning"]):
        proc = cli("audit", "--format", "json", *quiet, good, fast=fast)
        sev = {f["severity"] for f in json.loads(proc.stdout)["cards"][0]["findings"]}
        assert proc.returncode == 0 and sev == {"warning"}, quiet
    proc = cli("audit", "--min-severity", "error", good, bad, fast=fast)
    assert proc.returncode == 1 and "warning" not in proc.stdout.split("\n\n")[0]
    assert "error   CS103 headline-mismatch" in proc.stdout


def test_text_and_json_carry_the_line_of_the_finding(folder: Path) -> None:
    good = folder / "good.md"
    lines = good.read_text(encoding="utf-8").splitlines()
    row1 = next(i + 1 for i, ln in enumerate(lines) if ln.startswith("| 0.3803"))
    data = json.loads(cli("audit", "--format", "json", str(good)).stdout)
    (frozen,) = [f for f in data["cards"][0]["findings"] if f["name"] == "frozen-metric"]
    assert frozen["location"]["line"] == row1
    assert f"[line {row1}, Training results, row 1," in cli("audit", str(good)).stdout
