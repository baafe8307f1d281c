"""``cardsmith audit --from`` over a Parquet dump of 1,095 real cards, with both engines, interrupted for real.

Each engine's run is stopped part-way (the local one's process with SIGKILL, the Ray one with a real
SIGINT, as Ctrl-C sends), then
finished with ``--resume``: every card has exactly one entry, no finished card is audited twice, and
the two engines' files hold the same lines. The entries are the JSON format's card reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bulk_data import BROKEN_ROWS, ROOT, UNCLOSED_ROW

from cardsmith.cli.app import main


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    return env


def _interrupt(args: list[str], output: Path, at_least: int, sig: int) -> int:
    """Start ``cardsmith audit --from ...`` as a process; ``sig`` it once ``output`` has ``at_least`` lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cardsmith", *args],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if output.exists() and output.read_bytes().count(b"\n") >= at_least:
                break
            if process.poll() is not None:
                raise AssertionError(f"finished before it could be interrupted: {process.stderr.read()!r}")
            time.sleep(0.05)
        process.send_signal(sig)
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _resume_and_check(
    dump: dict[str, Any], output: Path, summary: Path, extra: list[str]
) -> list[dict[str, Any]]:
    kept = output.read_bytes()
    complete = kept[: kept.rfind(b"\n") + 1]  # a line cut by the kill is run again
    done_before = [json.loads(line)["id"] for line in complete.decode("utf-8").splitlines()]
    assert 0 < len(done_before) < len(dump["ids"]), "interrupted part-way"
    code = main(
        [
            "audit",
            "--from",
            str(dump["path"]),
            "--output",
            str(output),
            "--summary",
            str(summary),
            "--resume",
            *extra,
        ]
    )
    assert code == 1  # real cards with errors, and the broken rows
    entries = _lines(output)
    ids = [e["id"] for e in entries]
    assert sorted(ids) == sorted(dump["ids"]), "every card has exactly one entry"
    assert ids[: len(done_before)] == done_before, "what was written before the interruption is kept"
    data = json.loads(summary.read_text())
    assert data["skipped"] == len(done_before) and data["processed"] == len(dump["ids"]) - len(done_before)
    assert data["items"] == len(dump["ids"]) and not data["interrupted"]
    return entries


@pytest.fixture(scope="module")
def local_entries(dump: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("local")
    output, summary = folder / "out.jsonl", folder / "summary.json"
    code = _interrupt(
        ["audit", "--from", str(dump["path"]), "--output", str(output), "--workers", "2"],
        output,
        300,
        signal.SIGKILL,
    )
    assert code == -signal.SIGKILL
    return _resume_and_check(dump, output, summary, ["--workers", "2"])


def test_sigterm_stops_a_run_as_ctrl_c_does(dump: dict[str, Any], tmp_path: Path) -> None:
    """SIGTERM (a scheduler's stop): the workers are stopped, the summary says so, exit 130."""
    output, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    args = ["audit", "--from", str(dump["path"]), "--output", str(output), "--summary", str(summary)]
    code = _interrupt([*args, "--workers", "2"], output, 50, signal.SIGTERM)
    assert code == 130
    data = json.loads(summary.read_text())
    assert data["interrupted"] is True and data["items"] == output.read_text().count("\n") < len(dump["ids"])


def test_local_engine_killed_then_resumed(local_entries: list[dict[str, Any]], dump: dict[str, Any]) -> None:
    assert len(local_entries) == len(dump["ids"]) >= 1000


def test_entries_are_the_json_format_card_reports(
    local_entries: list[dict[str, Any]], dump: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    by_id = {e["id"]: e for e in local_entries}
    sample = [i for i in dump["ids"] if i.startswith("corpus-")][::97]
    checked = 0
    for item_id in sample:
        card = tmp_path / "README.md"
        card.write_text(dump["texts"][item_id], encoding="utf-8")
        main(["audit", "--format", "json", str(card)])
        report = json.loads(capsys.readouterr().out)["cards"][0]
        entry = by_id[item_id]
        assert set(entry) == {"id", "path", "findings"}
        assert entry["findings"] == report["findings"], item_id
        checked += any("line" in f["location"] for f in entry["findings"])
    assert checked, "findings carry their card line, as in the JSON format"


def test_broken_rows_have_their_reason(local_entries: list[dict[str, Any]]) -> None:
    by_id = {e["id"]: e for e in local_entries}
    for item_id in BROKEN_ROWS:
        entry = by_id[item_id]
        assert entry["error"], item_id
        assert [f["name"] for f in entry["findings"]] == ["unreadable-card"], entry
        assert entry["findings"][0]["message"] == entry["error"]
    assert "empty" in by_id["broken/null-card"]["error"]
    assert "binary" in by_id["broken/binary"]["error"]
    assert sum("error" in e for e in local_entries) == len(BROKEN_ROWS)
    unclosed = by_id[UNCLOSED_ROW[0]]
    assert "error" not in unclosed and "front-matter-unclosed" in [f["name"] for f in unclosed["findings"]]


def _ctrl_c_when(output: Path, at_least: int) -> threading.Thread:
    """A real SIGINT (what Ctrl-C sends) to this process once ``output`` has ``at_least`` lines."""

    def watch() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if output.exists() and output.read_bytes().count(b"\n") >= at_least:
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_ray_engine_interrupted_then_resumed_gives_the_same_lines(
    ray_cluster: str, dump: dict[str, Any], local_entries: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Ray Data over the dump, on the session's cluster (as ``--address``); Ctrl-C part-way, then resume."""
    output, summary = tmp_path / "ray.jsonl", tmp_path / "summary.json"
    args = ["--engine", "ray", "--address", ray_cluster]
    watcher = _ctrl_c_when(output, 64)
    code = main(
        ["audit", "--from", str(dump["path"]), "--output", str(output), "--summary", str(summary), *args]
    )
    watcher.join()
    assert code == 130
    assert json.loads(summary.read_text())["interrupted"] is True
    entries = _resume_and_check(dump, output, summary, args)
    key = lambda e: e["id"]
    assert sorted(entries, key=key) == sorted(local_entries, key=key), "the engines give the same lines"
