"""Hostile inputs end in findings or a clear one-line exit-2 message within seconds, never a traceback.

Each case goes through the real CLI (``cardsmith.cli.app.main``); a subset also runs as a subprocess to
prove that no traceback text reaches stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from locations import HARDENING as FIXTURES

from cardsmith.card import io as fileio
from cardsmith.card import io as limits
from cardsmith.cli.app import main
from cardsmith.errors import CardsmithError, InputTooLargeError, NotACardError, ParseError

GOOD = (FIXTURES / "good_card.md").read_text(encoding="utf-8")
#: Wall-clock bound for one hostile input (generous for a loaded 2-core CI machine).
SECONDS = 20.0
#: Hang guard for the 100,000-row table, not a speed goal (about 2.3 s on an idle 2-core machine, 25 s
#: when seven developers share it): anything quadratic would take hours, and the growth test
#: (tests/cli/test_growth.py) guards the growth rate; speed figures are the bench scripts' job.
HUGE_TABLE_SECONDS = 120.0

HEADER = "| Training Loss | Epoch | Step | Validation Loss | Accuracy |\n|:---:|:---:|:---:|:---:|:---:|\n"


def billion_laughs() -> str:
    lines = ['lol0: &lol0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "---\nlicense: mit\n" + "\n".join(lines) + "\n---\n# bomb\n"


def card_with_rows(rows: list[str], *, num_epochs: int = 3) -> str:
    head, _, _ = GOOD.partition("### Training results")
    head = head.replace("- num_epochs: 3", f"- num_epochs: {num_epochs}")
    return (
        head
        + "### Training results\n\n"
        + HEADER
        + "".join(rows)
        + "\n\n### Framework versions\n\n- Transformers 4.40.0\n"
    )


def huge_table_card(n_rows: int) -> str:
    """A consistent Trainer card with ``n_rows`` evaluations (loss in [1.0, 1.5], accuracy in [0.5, 0.9])."""
    rows = []
    for i in range(1, n_rows + 1):
        loss = 1.5 - 0.5 * i / n_rows
        rows.append(
            f"| {loss + 0.05:.4f} | {i:.1f} | {100 * i} | {loss:.4f} | {0.5 + 0.4 * i / n_rows:.4f} |\n"
        )
    text = card_with_rows(rows, num_epochs=n_rows)
    return (
        text.replace("- Loss: 0.2100", "- Loss: 1.0000")
        .replace("- Accuracy: 0.9312", "- Accuracy: 0.9000")
        .replace("value: 0.9312", "value: 0.9")
    )


def nan_inf_card() -> str:
    rows = [
        "| 0.3012 | 1.0 | 1563 | nan | 0.9105 |\n",
        "| 0.1870 | 2.0 | 3126 | 0.2200 | inf |\n",
        "| 0.1203 | 3.0 | 4689 | 0.2100 | 0.9312 |\n",
    ]
    return card_with_rows(rows)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    code = main(args)
    elapsed = time.perf_counter() - start
    captured = capsys.readouterr()
    return code, captured.out, captured.err, elapsed


def assert_clean(code: int, out: str, err: str, elapsed: float, *, seconds: float = SECONDS) -> None:
    """Findings (exit 0/1 with a report), or exit 2 with one line on stderr; never a traceback."""
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert "Traceback" not in out + err
    assert "internal error" not in err, err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cardsmith: error: "), err
    else:
        assert code in (0, 1), (code, err)
        assert out.strip(), "a report was expected"


HOSTILE: dict[str, Callable[[Path], Path]] = {}


def hostile(name: str) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    def register(make: Callable[[Path], Path]) -> Callable[[Path], Path]:
        HOSTILE[name] = make
        return make

    return register


@hostile("alias-bomb")
def _alias_bomb(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_text(billion_laughs(), encoding="utf-8")
    return path


@hostile("recursive-alias")
def _recursive(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_text("---\nlicense: &a [mit, *a]\n---\n# x\n", encoding="utf-8")
    return path


@hostile("deep-flow-yaml")
def _deep_flow(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_text("---\ntags: " + "[" * 50_000 + "]" * 50_000 + "\n---\n# x\n", encoding="utf-8")
    return path


@hostile("deep-block-yaml")
def _deep_block(tmp: Path) -> Path:
    lines = [" " * i + f"k{i}:" for i in range(300)]
    path = tmp / "README.md"
    path.write_text("---\n" + "\n".join(lines) + " x\n---\n# x\n", encoding="utf-8")
    return path


@hostile("too-large")
def _too_large(tmp: Path) -> Path:
    path = tmp / "README.md"
    line = "All work and no play makes a model card a dull card. " * 20 + "\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("---\nlicense: mit\n---\n")
        for _ in range(limits.MAX_CARD_BYTES // len(line) + 10):
            handle.write(line)
    return path


@hostile("multi-megabyte-prose")
def _big_prose(tmp: Path) -> Path:
    path = tmp / "README.md"
    paragraph = "All work and no play makes a model card a dull card. " * 20 + "\n\n"
    path.write_text(GOOD + paragraph * (6 * 1024 * 1024 // len(paragraph)), encoding="utf-8")
    return path


@hostile("dense-markdown")
def _dense(tmp: Path) -> Path:
    """Every Markdown block construct, repeated (~300 KiB): the parser's slowest input per byte."""
    unit = "| a | b |\n" * 3 + "\n- x\n- y\n# h\n> q\n```\ncode\n```\n"
    path = tmp / "README.md"
    path.write_text(GOOD + unit * 5_000, encoding="utf-8")
    return path


@hostile("binary")
def _binary(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4096)
    return path


@hostile("invalid-utf8")
def _invalid_utf8(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_bytes(b"---\nlicense: mit\n---\n# caf\xe9 au lait\n\nr\xc3\x28sum\xe9\n")
    return path


@hostile("empty")
def _empty(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_bytes(b"")
    return path


@hostile("front-matter-never-closes")
def _never_closes(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_text(GOOD.replace("\n---\n", "\n-- \n", 1), encoding="utf-8")
    return path


@hostile("invalid-yaml")
def _invalid_yaml(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_text("---\nlicense: [mit\nmodel-index: {a: \n---\n# x\n", encoding="utf-8")
    return path


@hostile("folder-without-readme")
def _no_readme(tmp: Path) -> Path:
    folder = tmp / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    return folder


@hostile("missing-path")
def _missing(tmp: Path) -> Path:
    return tmp / "does" / "not" / "exist.md"


@hostile("only-pipes")
def _pipes(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_text(
        GOOD.replace("| 0.1870", "||||| 0.1870 |||").replace("|:---", "|:-|-|-|"), encoding="utf-8"
    )
    return path


@hostile("yaml-not-a-mapping")
def _yaml_list(tmp: Path) -> Path:
    path = tmp / "README.md"
    path.write_text("---\n- just\n- a list\n---\n# x\n", encoding="utf-8")
    return path


@hostile("model-index-wrong-types")
def _wrong_types(tmp: Path) -> Path:
    path = tmp / "README.md"
    text = GOOD.replace("  results:\n", "  results: 7\n  old_results:\n", 1)
    path.write_text(text.replace("value: 0.9312", "value: {nested: [1, 2]}"), encoding="utf-8")
    return path


# Exit 2 is required (not merely allowed) for these: they are not cards cardsmith can read.
MUST_FAIL = {
    "alias-bomb": "alias",
    "recursive-alias": "alias",
    "deep-flow-yaml": "nested",
    "deep-block-yaml": "nested",
    "too-large": "MiB",
    "binary": "binary",
    "invalid-utf8": "UTF-8",
    "missing-path": "exist",
    "invalid-yaml": "YAML",
    "folder-without-readme": "README",
}


@pytest.mark.parametrize("command", ["audit", "parse"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_through_the_cli(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = HOSTILE[case](tmp_path)
    args = [command, str(path)] + (["--format", "json"] if command == "audit" else [])
    code, out, err, elapsed = run_cli(args, capsys)
    assert_clean(code, out, err, elapsed)
    if case in MUST_FAIL:
        assert code == 2, (code, out[:500], err)
        assert MUST_FAIL[case].lower() in err.lower(), err
    if command == "audit" and code in (0, 1):
        report = json.loads(out)
        assert [c["path"] for c in report["cards"]]


def test_nan_and_inf_cells_are_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "README.md"
    path.write_text(nan_inf_card(), encoding="utf-8")
    code, out, err, elapsed = run_cli(["audit", str(path), "--format", "json"], capsys)
    assert_clean(code, out, err, elapsed)
    assert code == 1
    findings = json.loads(out)["cards"][0]["findings"]
    out_of_range = [f for f in findings if f["name"] == "metric-out-of-range"]
    columns = {(f["location"].get("row"), f["location"].get("column")) for f in out_of_range}
    assert (1, "Validation Loss") in columns, out_of_range
    assert (2, "Accuracy") in columns, out_of_range
    assert all(f["severity"] == "error" for f in out_of_range)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "-0.5", "1.7"])
def test_bad_headline_values_are_out_of_range(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "README.md"
    path.write_text(GOOD.replace("- Accuracy: 0.9312", f"- Accuracy: {value}"), encoding="utf-8")
    code, out, err, elapsed = run_cli(["audit", str(path), "--format", "json"], capsys)
    assert_clean(code, out, err, elapsed)
    names = [f["name"] for f in json.loads(out)["cards"][0]["findings"]]
    assert "metric-out-of-range" in names, names
    assert code == 1


def test_100k_row_table_is_audited_in_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "README.md"
    text = huge_table_card(100_000)
    path.write_text(text, encoding="utf-8")
    assert len(text.encode()) < limits.MAX_CARD_BYTES
    code, out, err, elapsed = run_cli(["audit", str(path), "--format", "json"], capsys)
    assert_clean(code, out, err, elapsed, seconds=HUGE_TABLE_SECONDS)
    print(f"100,000-row table: audit took {elapsed:.2f} s")  # shown with -s; quoted in the report
    report = json.loads(out)["cards"][0]
    assert not [f for f in report["findings"] if f["severity"] == "error"], report["findings"][:5]


def test_audit_time_grows_roughly_linearly(tmp_path: Path) -> None:
    """Ten times the rows must not cost much more than ten times the time (no quadratic rule)."""
    from cardsmith.audit.engine import audit_card
    from cardsmith.card.parse import parse_card

    def cost(n: int) -> float:
        text = huge_table_card(n)
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            audit_card(parse_card(text))
            best = min(best, time.perf_counter() - start)
        return best

    small, large = cost(1_000), cost(10_000)
    assert large < 25 * max(small, 0.01), f"1k rows {small:.3f} s, 10k rows {large:.3f} s"


def test_table_longer_than_the_limit_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "README.md"
    path.write_text(card_with_rows(["|1|1|1|1|1|\n"] * (limits.MAX_TABLE_ROWS + 1)), encoding="utf-8")
    code, out, err, elapsed = run_cli(["audit", str(path)], capsys)
    assert_clean(code, out, err, elapsed)
    assert code == 2 and "rows" in err


# -- the safe readers themselves -----------------------------------------------------------------


def test_limits_readers() -> None:
    with pytest.raises(InputTooLargeError, match="alias"):
        limits.load_yaml(billion_laughs().split("---\n")[1])
    with pytest.raises(InputTooLargeError, match="nested"):
        limits.load_yaml("a: " + "[" * 200 + "]" * 200)
    with pytest.raises(NotACardError, match="binary"):
        limits.decode_text(b"abc\x00def")
    with pytest.raises(NotACardError, match="UTF-8"):
        limits.decode_text(b"caf\xe9")
    assert limits.decode_text("\ufeffhello".encode()) == "hello"
    with pytest.raises(ParseError, match="invalid YAML"):
        limits.load_yaml("a: [1, 2")
    # A legitimate document with shared references stays within the bounds.
    data = limits.load_yaml(
        "base: &b {lr: 2.0e-05, seed: 42}\n" + "\n".join(f"run{i}: *b" for i in range(50))
    )
    assert len(data) == 51 and data["run49"] == {"lr": 2e-05, "seed": 42}


# -- through a real subprocess: no traceback text reaches stderr ---------------------------------


SUBPROCESS_CASES = [
    "alias-bomb",
    "binary",
    "invalid-utf8",
    "missing-path",
    "front-matter-never-closes",
    "empty",
]


def test_hostile_inputs_in_a_subprocess(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CARDSMITH_DEBUG"}
    for case in SUBPROCESS_CASES:
        folder = tmp_path / case
        folder.mkdir()
        path = HOSTILE[case](folder)
        for command in (["audit", str(path)], ["parse", str(path)]):
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "cardsmith", *command],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
                check=False,
            )
            elapsed = time.perf_counter() - start
            assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, (case, proc.stderr)
            assert_clean(proc.returncode, proc.stdout, proc.stderr, elapsed)
            if case in MUST_FAIL:
                assert proc.returncode == 2, (case, command, proc.stderr)


# -- nothing a user wrote is ever lost ------------------------------------------------------------


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                path.stat().st_mode,
            )
    return out


def test_read_only_commands_leave_the_folder_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text(
        GOOD.replace("| 0.2200          | 0.9254", "| 0.9254          | 0.9254"), encoding="utf-8"
    )
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "num_labels": 2}), encoding="utf-8")
    (model / "trainer_state.json").write_text(json.dumps({"log_history": []}), encoding="utf-8")
    (model / "notes.md").write_bytes(b"caf\xc3\xa9\r\nno newline at end")
    (model / "weights.bin").write_bytes(os.urandom(4096))
    before = tree_digest(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}

    for args in (
        ["audit", str(model)],
        ["audit", str(model / "README.md"), "--format", "json"],
        ["audit", str(model), "--format", "sarif"],
        ["parse", str(model / "README.md")],
        ["parse", str(model / "README.md"), "--format", "text"],
        ["render", str(model / "README.md")],
        ["verify", str(model)],
    ):
        code = main(args)
        captured = capsys.readouterr()
        assert code in (0, 1), (args, captured.err)
        assert "Traceback" not in captured.err

    assert tree_digest(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == mtimes  # nothing rewritten or added


def test_atomic_write_keeps_the_original_when_replace_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "README.md"
    target.write_text("what a person wrote\n", encoding="utf-8")
    target.chmod(0o640)

    def broken_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(CardsmithError, match="cannot write"):
        fileio.atomic_write_text(target, "new card\n" * 1000)
    assert target.read_text(encoding="utf-8") == "what a person wrote\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]  # the temporary file is gone

    monkeypatch.undo()
    fileio.atomic_write_text(target, "new card\r\n")
    assert target.read_bytes() == b"new card\r\n"
    assert target.stat().st_mode & 0o7777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_atomic_write_keeps_the_original_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "card.md"
    target.write_bytes(b"original")

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fileio.os, "fsync", failing_fsync)  # the disk fails after the bytes were written
    with pytest.raises(CardsmithError, match="Input/output error"):
        fileio.atomic_write_text(target, "x" * 100_000)
    assert target.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md"]
