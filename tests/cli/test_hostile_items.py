"""Issue #15: hostile cards, repositories and terminals, one test per item (black-box).

Items 1-3 (time that grows faster than the input) are in ``test_growth.py``; the hook's items (7, 8,
13 and the pushes of 12) in ``tests/hook/test_hook_hostile.py``. Everything here goes
through the command line (``python -m cardsmith`` in a subprocess, so that a hang is a timeout and a
traceback is visible) or ``from cardsmith import ModelCard``; the rerun tests use a tiny model trained with the real ``Trainer`` (``tests/tiny.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cli_process import BAD, GOOD, cs


def clean_exit(proc: subprocess.CompletedProcess[bytes]) -> str:
    """stderr as text, asserting it holds no traceback or internal error, and for exit 2 one
    ``cardsmith: error:`` line (the last; a rerun's progress bar may come before it)."""
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err and "RecursionError" not in err, err
    if proc.returncode == 2:
        said = [ln for ln in err.strip().splitlines() if ln.startswith("cardsmith:")]
        assert len(said) == 1 and err.strip().splitlines()[-1] == said[0], err
        assert said[0].startswith("cardsmith: error: "), err
    return err


# --------------------------------------------------------------------------------------------------
# A tiny trained model for the rerun items
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import tiny

    from cardsmith import ModelCard

    root = tmp_path_factory.mktemp("hostile-model")
    trainer = tiny.train_seq(
        root / "run", per_device_eval_batch_size=8, save_strategy="no", num_train_epochs=1
    )
    folder = root / "model"
    trainer.save_model(str(folder))
    (folder / "README.md").write_text(ModelCard.from_trainer(trainer).to_markdown(), encoding="utf-8")
    data = root / "validation.jsonl"
    labels = tiny.SEQ_LABELS
    with data.open("w", encoding="utf-8") as fh:
        for row in tiny.seq_datasets()["validation"]:
            fh.write(json.dumps({"text": row["text"], "label": labels[row["label"]]}) + "\n")
    saved = root / "validation"
    tiny.seq_datasets()["validation"].save_to_disk(str(saved))
    return {"model": folder, "data": saved, "jsonl": data}


def copy_model(model: dict[str, Path], dst: Path) -> Path:
    shutil.copytree(model["model"], dst)
    return dst


# --------------------------------------------------------------------------------------------------
# 4. verify --write never writes through a symlink out of the model folder
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_04_write_refuses_a_symlinked_readme(model: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_model(model, tmp_path / "m")
    secret = tmp_path / "secret.md"
    secret.write_text((folder / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    before = secret.read_bytes()
    (folder / "README.md").unlink()
    (folder / "README.md").symlink_to(secret)
    proc = cs("verify", folder, "--rerun", "--dataset", model["data"], "--write")
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    assert "symlink" in err.lower() or "symbolic link" in err.lower(), err
    assert (folder / "README.md").is_symlink()
    assert secret.read_bytes() == before


@pytest.mark.slow
def test_04_rerun_refuses_model_files_linking_outside(model: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_model(model, tmp_path / "m")
    outside = tmp_path / "elsewhere.json"
    (folder / "tokenizer_config.json").rename(outside)
    (folder / "tokenizer_config.json").symlink_to(outside)
    proc = cs("verify", folder, "--rerun", "--dataset", model["data"])
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    assert "symbolic link" in err and "tokenizer_config.json" in err, err


def test_04_a_folder_whose_readme_links_outside_is_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    secret = tmp_path / "secret.md"
    secret.write_text(BAD, encoding="utf-8")
    (folder / "README.md").symlink_to(secret)
    proc = cs("audit", folder, "--format", "json")
    err = clean_exit(proc)
    assert proc.returncode in (1, 2)
    out = proc.stdout.decode()
    assert "loss-equals-metric" not in out  # the target was not audited
    assert "symlink" in (out + err).lower() or "symbolic link" in (out + err).lower()


# --------------------------------------------------------------------------------------------------
# 5. a card never chooses local files; 6. archives are not extracted
# --------------------------------------------------------------------------------------------------


def _card_pointing_at(folder: Path, dataset_type: str) -> None:
    card = (folder / "README.md").read_text(encoding="utf-8")
    lines = card.splitlines(keepends=True)
    out = []
    in_dataset = False
    for line in lines:
        if line.strip() == "dataset:":
            in_dataset = True
        elif in_dataset and line.lstrip().startswith(("type:", "name:")):
            key = line.lstrip().split(":", 1)[0]
            line = line[: len(line) - len(line.lstrip())] + f"{key}: {json.dumps(dataset_type)}\n"
        elif in_dataset and not line.startswith("      "):
            in_dataset = False
        out.append(line)
    text = "".join(out)
    assert dataset_type in text, "the tiny card has no model-index dataset to point elsewhere"
    (folder / "README.md").write_text(text, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["absolute", "relative", "home", "own-file"])
def test_05_card_dataset_is_a_hub_id_never_a_local_file(
    model: dict[str, Path], tmp_path: Path, where: str
) -> None:
    folder = copy_model(model, tmp_path / "m")
    outside = tmp_path / "private.jsonl"
    shutil.copy(model["jsonl"], outside)
    shutil.copy(model["jsonl"], folder / "eval.jsonl")
    target = {
        "absolute": str(outside),
        "relative": "../private.jsonl",
        "home": "~/../" + str(outside),
        "own-file": "eval.jsonl",
    }[where]
    _card_pointing_at(folder, target)
    proc = cs("verify", folder, "--rerun", cwd=folder)
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    assert "reproduction" not in proc.stdout.decode()
    assert "dataset" in err.lower()


@pytest.mark.slow
def test_06_a_zip_named_jsonl_is_not_extracted(model: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_model(model, tmp_path / "m")
    fake = tmp_path / "data.jsonl"
    with zipfile.ZipFile(fake, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inner.jsonl", model["jsonl"].read_text(encoding="utf-8") * 50)
    cache = tmp_path / "ds-cache"
    env = dict(os.environ, HF_DATASETS_CACHE=str(cache))
    proc = cs("verify", folder, "--rerun", "--dataset", fake, env=env)
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    assert "zip" in err.lower() or "archive" in err.lower(), err
    extracted = (
        [p for p in cache.rglob("*") if p.is_file() and p.name.endswith(".jsonl")] if cache.exists() else []
    )
    assert not extracted


# --------------------------------------------------------------------------------------------------
# 9. terminal escapes
# --------------------------------------------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b[1A\x1b[2K"


def escape_card() -> str:
    return GOOD.replace("| Accuracy |\n", f"| Foo{ESCAPES}\x07\x08 |\n", 1).replace(
        "| 0.9105   |", "| 0.2450   |"
    )


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_09_control_characters_from_cards_never_reach_the_terminal(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "README.md"
    path.write_text(escape_card(), encoding="utf-8")
    proc = cs("audit", path, "--format", fmt)
    clean_exit(proc)
    assert proc.returncode in (0, 1)  # one copied row is a warning, two an error (#10)
    out = proc.stdout
    assert b"loss-equals-metric" in out
    assert b"\x1b" not in out and b"\x07" not in out and b"\x08" not in out
    if fmt == "text":
        assert b"Foo\\x1b[2J" in out  # shown, escaped
    else:
        json.loads(out)
        assert b"Foo\\u001b[2J" in out  # JSON keeps the text exactly (escaped by JSON)


def test_09_rules_and_parse_text_escape_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text(escape_card(), encoding="utf-8")
    proc = cs("parse", path, "--format", "text")
    clean_exit(proc)
    assert b"\x1b" not in proc.stdout


# --------------------------------------------------------------------------------------------------
# 10, 11. rerun resource bounds and tokenizer panics
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_10_huge_num_labels_is_refused_before_allocation(model: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_model(model, tmp_path / "m")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.pop("id2label", None)
    config.pop("label2id", None)
    config["num_labels"] = 1_000_000_000
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    start = time.perf_counter()
    proc = cs("verify", folder, "--rerun", "--dataset", model["data"], timeout=300)
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    assert "num_labels" in err or "labels" in err, err
    assert time.perf_counter() - start < 120


@pytest.mark.slow
def test_11_a_tokenizer_panic_is_a_clean_exit_2(model: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_model(model, tmp_path / "m")
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    panic = {"type": "Replace", "pattern": {"Regex": "(a+)+b"}, "content": "x"}
    tok["normalizer"] = {"type": "Sequence", "normalizers": [n for n in [tok.get("normalizer"), panic] if n]}
    (folder / "tokenizer.json").write_text(json.dumps(tok), encoding="utf-8")
    tok_config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok_config["tokenizer_class"] = "PreTrainedTokenizerFast"  # built from tokenizer.json, as it is
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config), encoding="utf-8")
    data = tmp_path / "eval.jsonl"
    data.write_text(
        "".join(json.dumps({"text": "a" * 60_000 + "c", "label": "positive"}) + "\n" for _ in range(3)),
        encoding="utf-8",
    )
    proc = cs("verify", folder, "--rerun", "--dataset", data, timeout=300)
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    assert "panicked" in err, err


# --------------------------------------------------------------------------------------------------
# 12. deep JSON, FIFOs, huge NUL data, odd file names, SARIF URIs
# --------------------------------------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("name", ["config.json", "trainer_state.json"])
@pytest.mark.parametrize("command", ["audit", "render", "verify"])
def test_12_deep_json_beside_a_card(tmp_path: Path, name: str, command: str) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "README.md").write_text(GOOD, encoding="utf-8")
    (folder / name).write_text(DEEP, encoding="utf-8")
    proc = cs(command, folder)
    err = clean_exit(proc)
    assert proc.returncode in (0, 1, 2)
    if proc.returncode == 2:
        assert name in err, err


@pytest.mark.parametrize("name", ["card.json", "trainer_state.json"])
def test_12_deep_json_as_a_render_source(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(DEEP, encoding="utf-8")
    proc = cs("render", path if name == "card.json" else tmp_path)
    err = clean_exit(proc)
    assert proc.returncode == 2, err


@pytest.mark.parametrize("name", ["card.json", "README.md"])
def test_12_a_fifo_is_refused_not_waited_on(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    proc = cs("render", fifo, timeout=60)
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    proc = cs("audit", fifo, timeout=60)
    clean_exit(proc)
    assert proc.returncode in (1, 2)


@pytest.mark.slow
def test_12_a_huge_nul_dataset_is_refused_fast(model: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "eval.jsonl"
    with data.open("wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: 2 GB of NUL bytes
    start = time.perf_counter()
    proc = cs("verify", model["model"], "--rerun", "--dataset", data, timeout=300)
    err = clean_exit(proc)
    assert proc.returncode == 2, err
    assert time.perf_counter() - start < 60


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_12_non_utf8_file_names_give_valid_utf8_json(tmp_path: Path, fmt: str) -> None:
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse non-UTF-8 names")
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    folder.mkdir()
    (folder / "README.md").write_text(BAD, encoding="utf-8")
    proc = cs("audit", folder, "--format", fmt)
    clean_exit(proc)
    assert proc.returncode == 1
    report = json.loads(proc.stdout.decode("utf-8"))  # strict: fails on a lone surrogate's bytes
    text = json.dumps(report)
    assert "caf" in text


def test_12_sarif_uris_are_percent_encoded(tmp_path: Path) -> None:
    folder = tmp_path / "a b"
    folder.mkdir()
    (folder / "R#?.md").write_text(BAD, encoding="utf-8")
    proc = cs("audit", "a b/R#?.md", "--format", "sarif", cwd=tmp_path)
    clean_exit(proc)
    sarif = json.loads(proc.stdout)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in sarif["runs"][0]["results"]
        for loc in result.get("locations", [])
    }
    assert uris == {"a%20b/R%23%3F.md"}, uris


# --------------------------------------------------------------------------------------------------
# 14. metric-out-of-range and a hidden heading
# --------------------------------------------------------------------------------------------------


def findings(text: str) -> list[Any]:
    from cardsmith import ModelCard

    return list(ModelCard.from_markdown(text).audit().findings)


def test_14_a_lone_headline_accuracy_above_one() -> None:
    text = "# m\n\nIt achieves the following results on the evaluation set:\n- Loss: 0.2100\n- Accuracy: 1.0213\n"
    names = [f.name for f in findings(text)]
    assert "metric-out-of-range" in names


def test_14_a_two_row_column_with_one_value_above_one() -> None:
    text = (
        GOOD.replace("| 0.3012        | 1.0   | 1563 | 0.2450          | 0.9105   |\n", "")
        .replace("| 0.9254   |", "| 0.9000   |")
        .replace("| 0.9312   |", "| 1.5000   |")
    )
    found = [f for f in findings(text) if f.name == "metric-out-of-range"]
    assert found and any("1.5" in f.message for f in found), [f.message for f in findings(text)]


def test_14_a_percent_card_is_still_percent() -> None:
    text = (
        GOOD.replace("| 0.9105   |", "| 91.05    |")
        .replace("| 0.9254   |", "| 92.54    |")
        .replace("| 0.9312   |", "| 93.12    |")
        .replace("- Accuracy: 0.9312", "- Accuracy: 93.12")
        .replace("value: 0.9312", "value: 93.12")
    )
    assert "metric-out-of-range" not in [f.name for f in findings(text)]


def test_14_a_zero_width_space_does_not_hide_the_table() -> None:
    text = BAD.replace("### Training results", "### Training\u200b results")
    assert text != BAD
    assert "loss-equals-metric" in [f.name for f in findings(text)]


def test_09_rich_output_escapes_control_characters() -> None:
    import io

    from cardsmith import ModelCard
    from cardsmith.cli.formats.text import print_rich

    report = ModelCard.from_markdown(escape_card()).audit()
    report.path = "caf\udce9/README\x1b[2J.md"  # a file name that is not UTF-8, with an escape
    out = io.StringIO()
    print_rich([report], out)
    text = out.getvalue()
    assert "loss-equals-metric" in text
    assert "\x1b" not in text and "\x07" not in text and "\udce9" not in text
    assert "Foo\\x1b[2J" in text and "caf\\xe9" in text
