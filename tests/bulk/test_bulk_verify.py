"""``cardsmith verify --from LIST --rerun`` over tiny checkpoints trained in the suite, with both engines.

The list (CSV, with each model's evaluation data per line) holds two checkpoints that reproduce, one
whose card claims more than it scores, one whose weights are truncated (its rerun fails) and one that
does not exist. Every item gets its entry; the failures carry their reason and the run goes on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cardsmith.cli.app import main

pytestmark = pytest.mark.slow


def _entries(path: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_id = {e["id"]: e for e in lines}
    assert len(by_id) == len(lines), "one entry per item"
    return by_id


def _check(entries: dict[str, dict[str, Any]], repos: dict[str, str]) -> None:
    assert sorted(entries) == sorted(repos.values())
    for name in ("seq", "tok"):
        entry = entries[repos[name]]
        assert "error" not in entry, entry
        metrics = entry["reproduction"]["metrics"]
        assert metrics and all(m["match"] for m in metrics if m["reproduced"] is not None), metrics
        assert not [f for f in entry["findings"] if f["severity"] == "error"]
    more = entries[repos["more"]]
    assert "error" not in more
    assert "metric-not-reproduced" in [f["name"] for f in more["findings"] if f["severity"] == "error"]
    assert [m["name"] for m in more["reproduction"]["metrics"] if not m["match"]] == ["Accuracy"]
    broken = entries[repos["broken"]]
    assert broken["error"], broken
    assert broken["findings"], "the card's own audit is still reported"
    assert "reproduction" not in broken
    missing = entries[repos["missing"]]
    assert missing["error"] and missing["findings"] == [] and "reproduction" not in missing


def _strip_timing(entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, entry in entries.items():
        entry = json.loads(json.dumps(entry))
        entry.get("reproduction", {}).pop("seconds", None)
        out[key] = entry
    return out


@pytest.fixture(scope="module")
def local_run(checkpoints: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("verify-local")
    output, summary = folder / "out.jsonl", folder / "summary.json"
    code = main(
        [
            "verify",
            "--from",
            str(checkpoints["list"]),
            "--rerun",
            "--output",
            str(output),
            "--summary",
            str(summary),
            "--workers",
            "2",
            "--item-timeout",
            "300",
        ]
    )
    return {
        "code": code,
        "entries": _entries(output),
        "summary": json.loads(summary.read_text()),
        "output": output,
    }


def test_local_engine_verifies_every_item(local_run: dict[str, Any], checkpoints: dict[str, Any]) -> None:
    assert local_run["code"] == 1
    _check(local_run["entries"], checkpoints["repos"])
    summary = local_run["summary"]
    assert summary["items"] == 5 and summary["failed"] == 2 and summary["cards_with_errors"] == 3
    assert {f["id"] for f in summary["failures"]} == {
        checkpoints["repos"]["broken"],
        checkpoints["repos"]["missing"],
    }


def test_resume_runs_only_what_is_missing(
    local_run: dict[str, Any], checkpoints: dict[str, Any], tmp_path: Path
) -> None:
    """An output file holding four finished entries and half of a fifth line (a run killed while writing):
    --resume drops the half line, verifies only the missing item, and keeps the four."""
    output, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    lines = local_run["output"].read_text(encoding="utf-8").splitlines()
    missing = checkpoints["repos"]["missing"]
    kept = [line for line in lines if json.loads(line)["id"] != missing]
    cut = next(line for line in lines if json.loads(line)["id"] == missing)[:25]
    output.write_text("\n".join(kept) + "\n" + cut, encoding="utf-8")
    code = main(
        [
            "verify",
            "--from",
            str(checkpoints["list"]),
            "--rerun",
            "--output",
            str(output),
            "--resume",
            "--summary",
            str(summary),
            "--workers",
            "2",
        ]
    )
    assert code == 1
    data = json.loads(summary.read_text())
    assert data["skipped"] == 4 and data["processed"] == 1 and data["items"] == 5
    after = output.read_text(encoding="utf-8").splitlines()
    assert after[:4] == kept, "finished items are not run again"
    _check(_entries(output), checkpoints["repos"])


def test_ray_engine_gives_the_same_entries(
    ray_cluster: str, local_run: dict[str, Any], checkpoints: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "ray.jsonl"
    code = main(
        [
            "verify",
            "--from",
            str(checkpoints["list"]),
            "--rerun",
            "--output",
            str(output),
            "--engine",
            "ray",
            "--address",
            ray_cluster,
            "--item-timeout",
            "300",
        ]
    )
    assert code == 1
    entries = _entries(output)
    _check(entries, checkpoints["repos"])
    assert _strip_timing(entries) == _strip_timing(local_run["entries"])
