"""The sources of a bulk run, end to end through the CLI: folder trees, path lists, JSONL dumps, CSV lists.

Cards are the repository's seed cards; every run uses real worker processes of the local engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bulk_data import ROOT

from cardsmith.cli.app import main

SEEDS = sorted((ROOT / "fixtures" / "seeds").glob("*/README.md"))


def _run(args: list[str], capsys: Any) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_folder_tree_ids_are_the_model_folders(tmp_path: Path, capsys: Any) -> None:
    output = tmp_path / "out.jsonl"
    code, out, _err = _run(
        ["audit", "--from", str(ROOT / "fixtures" / "seeds"), "--output", str(output), "--workers", "1"],
        capsys,
    )
    entries = _jsonl(output.read_text())
    assert sorted(e["id"] for e in entries) == sorted(p.parent.name for p in SEEDS)
    assert code == 1  # the seed cards carry real contradictions
    assert f"{len(SEEDS)} items: {len(SEEDS)} cards audited" in out


def test_path_list_with_a_missing_path_and_lines_on_stdout(tmp_path: Path, capsys: Any) -> None:
    listing = tmp_path / "cards.txt"
    listing.write_text("# the seeds\n" + "\n".join(str(p) for p in SEEDS[:2]) + "\n\n/no/such/card.md\n")
    code, out, err = _run(["audit", "--from", str(listing), "--workers", "1"], capsys)
    entries = _jsonl(out)
    assert sorted(e["id"] for e in entries) == sorted([str(p) for p in SEEDS[:2]] + ["/no/such/card.md"])
    bad = next(e for e in entries if e["id"] == "/no/such/card.md")
    assert "no such file" in bad["error"]
    assert "3 items" in err and "1 failed" in err  # the summary goes to stderr when the lines use stdout
    assert code == 1


def test_jsonl_dump_with_named_columns_bad_lines_and_repeated_ids(tmp_path: Path, capsys: Any) -> None:
    dump = tmp_path / "cards.jsonl"
    rows = [
        json.dumps({"name": "org/a", "body": SEEDS[0].read_text()}),
        "{not json",
        json.dumps({"name": "org/a", "body": SEEDS[1].read_text()}),
        json.dumps({"name": "org/b"}),
    ]
    dump.write_text("\n".join(rows) + "\n")
    output, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    _run(
        [
            "audit",
            "--from",
            str(dump),
            "--card-column",
            "body",
            "--id-column",
            "name",
            "--output",
            str(output),
            "--summary",
            str(summary),
            "--workers",
            "1",
        ],
        capsys,
    )
    entries = {e["id"]: e for e in _jsonl(output.read_text())}
    assert sorted(entries) == ["line-2", "org/a", "org/a#2", "org/b"]
    assert "not valid JSON" in entries["line-2"]["error"]
    assert "no card column" in entries["org/b"]["error"]
    assert "error" not in entries["org/a"] and "error" not in entries["org/a#2"]
    data = json.loads(summary.read_text())
    assert data["items"] == 4 and data["failed"] == 2
    names = {r["name"] for r in data["rules"]}
    assert {f["name"] for e in entries.values() for f in e["findings"]} == names


def test_usage_errors_exit_2_before_anything_is_written(tmp_path: Path, capsys: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dump = tmp_path / "d.parquet"
    pq.write_table(pa.table({"modelId": ["a"], "readme_text": ["# x"]}), dump)
    code, _out, err = _run(["audit", "--from", str(dump), "--output", str(tmp_path / "o.jsonl")], capsys)
    assert code == 2 and "--card-column" in err and "readme_text" in err
    assert not (tmp_path / "o.jsonl").exists()
    code, _out, err = _run(["audit", "--from", str(dump), "--card-column", "nope"], capsys)
    assert code == 2 and "no card column 'nope'" in err
    existing = tmp_path / "done.jsonl"
    existing.write_text('{"id": "a", "path": "a", "findings": []}\n')
    code, _out, err = _run(
        ["audit", "--from", str(dump), "--card-column", "readme_text", "--output", str(existing)], capsys
    )
    assert code == 2 and "--resume" in err and existing.read_text().count("\n") == 1
    code, _out, err = _run(["audit", str(SEEDS[0]), "--output", "x.jsonl"], capsys)
    assert code == 2 and "--from" in err
    code, _out, err = _run(["audit", "--from", str(dump), "--select", "no-such-rule"], capsys)
    assert code == 2 and "no-such-rule" in err
    code, _out, err = _run(["verify", "--from", str(tmp_path / "none.csv")], capsys)
    assert code == 2 and "no such file" in err
    code, _out, err = _run(["verify", "--from", str(tmp_path / "none.csv"), "--split", "test"], capsys)
    assert code == 2 and "--split only apply to a rerun" in err


def test_verify_list_per_line_options(tmp_path: Path, capsys: Any) -> None:
    """Without --rerun each folder's card is audited; a line with an unknown option is that line's entry."""
    listing = tmp_path / "models.csv"
    listing.write_text(
        "repo,split,colour\n" + f"{SEEDS[0].parent},validation,\n" + f"{SEEDS[1].parent},,red\n"
    )
    output = tmp_path / "out.jsonl"
    code, _out, _err = _run(
        ["verify", "--from", str(listing), "--output", str(output), "--workers", "1"], capsys
    )
    entries = {e["id"]: e for e in _jsonl(output.read_text())}
    assert "error" not in entries[str(SEEDS[0].parent)] and entries[str(SEEDS[0].parent)]["findings"]
    assert "unknown option 'colour'" in entries[str(SEEDS[1].parent)]["error"]
    assert code == 1


def test_the_plain_audit_path_stays_light() -> None:
    """Neither ray nor pyarrow is imported by a plain audit, nor by loading the bulk modules."""
    code = (
        "import sys\n"
        "from cardsmith.cli.app import main\n"
        "import cardsmith.bulk.run, cardsmith.bulk.engines.local\n"
        f"main(['audit', {str(SEEDS[0])!r}])\n"
        "heavy = sorted(m for m in ('ray', 'pyarrow', 'torch') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_summary_counts_match_the_lines(tmp_path: Path, capsys: Any) -> None:
    output, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    _run(
        [
            "audit",
            "--from",
            str(ROOT / "fixtures" / "seeds"),
            "--output",
            str(output),
            "--summary",
            str(summary),
            "--workers",
            "2",
        ],
        capsys,
    )
    entries = _jsonl(output.read_text())
    data = json.loads(summary.read_text())
    assert data["items"] == len(entries) == len(SEEDS)
    assert data["cards_with_errors"] == sum(
        any(f["severity"] == "error" for f in e["findings"]) for e in entries
    )
    assert data["findings"]["errors"] == sum(f["severity"] == "error" for e in entries for f in e["findings"])
    for rule in data["rules"]:
        assert rule["findings"] == sum(f["name"] == rule["name"] for e in entries for f in e["findings"])


def test_progress_bar_shows_done_failed_and_rate(capsys: Any) -> None:
    from cardsmith.bulk.items import Item, Result, failure
    from cardsmith.bulk.output import ProgressBar

    bar = ProgressBar("audit cards", 3, enabled=True)
    bar.advance(Result(id="a", line="{}"))
    bar.advance(failure(Item(id="b"), "timed out"))
    bar.close()
    err = capsys.readouterr().err
    assert "audit cards" in err and "2/3" in err and "1 failed" in err and "items/s" in err


def test_reruns_default_to_one_worker_per_gpu(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    """With GPUs visible, verify --from --rerun starts one worker per GPU (each worker sees its own)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    listing = tmp_path / "models.txt"
    listing.write_text("".join(f"/no/such/model-{i}\n" for i in range(4)))
    summary = tmp_path / "summary.json"
    code, _out, _err = _run(
        [
            "verify",
            "--from",
            str(listing),
            "--rerun",
            "--summary",
            str(summary),
            "--output",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    data = json.loads(summary.read_text())
    assert code == 1 and data["workers"] == 3 and data["failed"] == 4


def test_min_severity_filters_the_lines_and_format_is_refused(tmp_path: Path, capsys: Any) -> None:
    """--quiet/--min-severity leave lesser findings out of the lines; --format has no meaning there."""
    seeds = str(ROOT / "fixtures" / "seeds")
    severities = {}
    for flags in ([], ["--quiet"], ["--min-severity", "error"]):
        output = tmp_path / f"out{len(severities)}.jsonl"
        code, _out, _err = _run(
            ["audit", "--from", seeds, "--output", str(output), "--workers", "1", *flags], capsys
        )
        assert code == 1  # the errors stay, whatever is shown
        severities[tuple(flags)] = {f["severity"] for e in _jsonl(output.read_text()) for f in e["findings"]}
    assert severities[()] == {"error", "warning", "info"}
    assert severities[("--quiet",)] == {"error", "warning"}
    assert severities[("--min-severity", "error")] == {"error"}
    for command in (["audit", "--from", seeds], ["verify", "--from", str(tmp_path / "list.txt")]):
        code, _out, err = _run([*command, "--format", "json"], capsys)
        assert code == 2 and "--format applies to one audit or verify" in err, err
