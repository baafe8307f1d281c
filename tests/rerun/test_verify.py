"""``cardsmith verify``: real tiny Trainer runs, reproduced through the CLI, offline Hub cache, untrusted repos.

Two checkpoints are trained once per module with the real ``transformers.Trainer`` on CPU
(``tests/tiny.py``): a sequence classifier and a token classifier, both with
``per_device_eval_batch_size=5`` on 48 evaluation examples of varied length (so the last eval batch
is partial and padding differs between batches). Their cards come from ``ModelCard.from_trainer``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tiny

from cardsmith.cli.app import main

pytestmark = pytest.mark.slow

EXACT = 5e-5


# --------------------------------------------------------------------------------------------------
# Fixtures: trained checkpoints, their cards and their evaluation data
# --------------------------------------------------------------------------------------------------


def _final_eval(trainer: Any) -> dict[str, float]:
    return [h for h in trainer.state.log_history if "eval_loss" in h][-1]


def _train(kind: str, root: Path) -> dict[str, Any]:
    from cardsmith import ModelCard

    out = root / kind
    if kind == "seq":
        trainer = tiny.train_seq(out / "run", per_device_eval_batch_size=5, save_strategy="no")
        data = tiny.seq_datasets()
    else:
        trainer = tiny.train_tok(out / "run", per_device_eval_batch_size=5, save_strategy="no")
        data = tiny.tok_datasets()
    model_dir = out / "model"
    trainer.save_model(str(model_dir))
    (model_dir / "README.md").write_text(ModelCard.from_trainer(trainer).to_markdown(), encoding="utf-8")
    val = out / "validation"
    data["validation"].save_to_disk(str(val))
    return {
        "model": model_dir,
        "data": val,
        "logged": _final_eval(trainer),
        "trainer": trainer,
        "datasets": data,
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("verify")


@pytest.fixture(scope="module")
def seq(root: Path) -> dict[str, Any]:
    return _train("seq", root)


@pytest.fixture(scope="module")
def tok(root: Path) -> dict[str, Any]:
    return _train("tok", root)


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def verify_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(["verify", *args, "--format", "json"], capsys)
    assert out.strip(), f"no report on stdout (exit {code}): {err}"
    return code, json.loads(out)["cards"][0], err


def reproduced(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in card["reproduction"]["metrics"]}


# --------------------------------------------------------------------------------------------------
# Reproduction of the Trainer's numbers
# --------------------------------------------------------------------------------------------------


def test_sequence_classification_reproduces_trainer(
    seq: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, card, err = verify_json([str(seq["model"]), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert code == 0, card
    logged = seq["logged"]
    got = reproduced(card)
    assert set(got) == {"Loss", "Accuracy", "Precision", "Recall", "F1"}
    for name, key in [
        ("Loss", "eval_loss"),
        ("Accuracy", "eval_accuracy"),
        ("Precision", "eval_precision"),
        ("Recall", "eval_recall"),
        ("F1", "eval_f1"),
    ]:
        assert abs(got[name]["reproduced"] - logged[key]) <= EXACT, (name, got[name], logged[key])
        assert got[name]["match"] is True
    rep = card["reproduction"]
    assert rep["averaging"] == "macro"  # tiny.seq_compute_metrics averages macro; cardsmith finds it
    assert rep["task"] == "text-classification" and rep["settings"]["averaging"] == "macro"
    assert rep["examples"] == 48 and rep["split"] == "validation" and rep["device"] == "cpu"
    assert not [f for f in card["findings"] if f["severity"] == "error"]
    assert "examples/s" in err  # the progress bar, on stderr


def test_token_classification_reproduces_trainer_loss_exactly(
    tok: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, card, _ = verify_json([str(tok["model"]), "--rerun", "--dataset", str(tok["data"])], capsys)
    assert code == 0, card
    logged = tok["logged"]
    got = reproduced(card)
    for name, key in [
        ("Loss", "eval_loss"),
        ("Accuracy", "eval_accuracy"),
        ("Precision", "eval_precision"),
        ("Recall", "eval_recall"),
        ("F1", "eval_f1"),
    ]:
        assert abs(got[name]["reproduced"] - logged[key]) <= EXACT, (name, got[name], logged[key])
        assert got[name]["match"] is True
    assert card["reproduction"]["averaging"].startswith("seqeval")
    assert "eval_batch_size 5" in got["Loss"]["note"]


def test_token_loss_depends_on_trainer_batching(tok: dict[str, Any]) -> None:
    """The regrouping is what makes the token loss exact: other groupings give other numbers."""
    from cardsmith.rerun.data import load_split, prepare
    from cardsmith.rerun.metrics import trainer_loss
    from cardsmith.rerun.resolve import ResolvedModel, read_config
    from cardsmith.rerun.run import run_evaluation

    config = read_config(ResolvedModel(path=tok["model"]))
    ds, source = load_split(str(tok["data"]))
    data = prepare(ds, source, "token-classification", config)
    out = run_evaluation(tok["model"], data, batch_size=7, progress=False)  # any compute batching
    logged = tok["logged"]["eval_loss"]
    assert abs(trainer_loss(out.loss_sums, out.loss_counts, 5) - logged) <= EXACT
    pooled = math.fsum(out.loss_sums) / sum(out.loss_counts)  # the mean over all tokens
    assert abs(pooled - logged) > 1e-4
    assert abs(trainer_loss(out.loss_sums, out.loss_counts, 8) - logged) > 1e-4


def test_paired_inputs_match_trainer_evaluate(seq: dict[str, Any], root: Path) -> None:
    """Sentence pairs: cardsmith's rerun equals ``Trainer.evaluate`` on the same pairs."""
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
    )

    from cardsmith.rerun.options import RerunOptions
    from cardsmith.rerun.verify import verify_repo

    val = seq["datasets"]["validation"]
    halves = [t.split(" ") for t in val["text"]]
    pairs = Dataset.from_dict(
        {
            "sentence1": [" ".join(w[: len(w) // 2]) for w in halves],
            "sentence2": [" ".join(w[len(w) // 2 :]) for w in halves],
            "label": list(val["label"]),
        },
        features=None,
    ).cast_column("label", val.features["label"])
    pair_dir = root / "pairs"
    pairs.save_to_disk(str(pair_dir))

    tokenizer = AutoTokenizer.from_pretrained(str(seq["model"]))
    model = AutoModelForSequenceClassification.from_pretrained(str(seq["model"]))
    enc = pairs.map(
        lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True, max_length=64),
        batched=True,
        remove_columns=["sentence1", "sentence2"],
    )
    trainer = Trainer(
        model=model,
        args=tiny._training_args(root / "pair_eval", {"per_device_eval_batch_size": 5}),
        eval_dataset=enc,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=tiny.seq_compute_metrics,
    )
    expected = trainer.evaluate()

    report = verify_repo(str(seq["model"]), rerun=RerunOptions(dataset=str(pair_dir), progress=False))
    assert report.reproduction is not None
    got = {m.name: m.reproduced for m in report.reproduction.metrics}
    assert abs(got["Loss"] - expected["eval_loss"]) <= EXACT
    assert abs(got["Accuracy"] - expected["eval_accuracy"]) <= EXACT
    # the card's numbers are for single texts; the pair data give other ones, found and reported
    assert report.reproduction.examples == 48


def test_data_files_with_label_names(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .jsonl file with a ``sentence`` column and label *names*, and a .csv: same numbers as the folder."""
    val = seq["datasets"]["validation"]
    names = val.features["label"].names
    jsonl = root / "val.jsonl"
    with jsonl.open("w", encoding="utf-8") as fh:
        for text, label in zip(val["text"], val["label"]):
            fh.write(json.dumps({"sentence": text, "label": names[label]}) + "\n")
    csv = root / "val.csv"
    val.to_csv(str(csv), index=False)
    for path in (jsonl, csv):
        code, card, _ = verify_json([str(seq["model"]), "--rerun", "--dataset", str(path)], capsys)
        assert code == 0, card
        assert abs(reproduced(card)["Loss"]["reproduced"] - seq["logged"]["eval_loss"]) <= EXACT


# --------------------------------------------------------------------------------------------------
# Claims that the checkpoint does not score
# --------------------------------------------------------------------------------------------------


def _raise_claim(card_path: Path, name: str, delta: float) -> tuple[str, str]:
    from cardsmith import ModelCard

    card = ModelCard.load(card_path)
    for metric in card.headline:
        if metric.name == name:
            old = metric.value
            break
    else:  # pragma: no cover - the fixture's card has the metric
        raise AssertionError(name)
    new = f"{old.value + delta:.4f}"
    text = card_path.read_text(encoding="utf-8").replace(f"- {name}: {old.text}", f"- {name}: {new}", 1)
    card_path.write_text(text, encoding="utf-8")
    return old.text, new


def test_raised_f1_is_not_reproduced(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy_model(seq["model"], root / "raised_f1")
    _, new = _raise_claim(folder / "README.md", "F1", 0.03)
    code, card, _ = verify_json([str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert code == 1
    errors = [f for f in card["findings"] if f["name"] == "metric-not-reproduced"]
    assert len(errors) == 1 and errors[0]["severity"] == "error"
    assert errors[0]["location"]["column"] == "F1" and new in errors[0]["message"]
    got = reproduced(card)
    assert got["F1"]["match"] is False and got["Accuracy"]["match"] is True and got["Loss"]["match"] is True
    # without --rerun the same card only gets the offline audit: no reproduction findings
    code, card, _ = verify_json([str(folder)], capsys)
    assert "metric-not-reproduced" not in [f["name"] for f in card["findings"]]
    assert "reproduction" not in card
    # --ignore (a name or a code) drops the finding
    code, card, _ = verify_json(
        [
            str(folder),
            "--rerun",
            "--dataset",
            str(seq["data"]),
            "--ignore",
            f"{errors[0]['rule']},headline-mismatch",
        ],
        capsys,
    )
    assert "metric-not-reproduced" not in [f["name"] for f in card["findings"]]
    # so does an inline suppression in the card
    with (folder / "README.md").open("a", encoding="utf-8") as fh:
        fh.write("\n<!-- cardsmith: disable=metric-not-reproduced -->\n")
    code, card, _ = verify_json([str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert "metric-not-reproduced" not in [f["name"] for f in card["findings"]]
    assert reproduced(card)["F1"]["match"] is False  # still shown in the reproduction


def test_tool_cardsmith_config_governs_rerun_findings(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[tool.cardsmith]`` selects rerun findings exactly as it selects audit findings (one policy)."""
    folder = _copy_model(seq["model"], root / "configured")
    _raise_claim(folder / "README.md", "F1", 0.03)
    (folder / ".git").mkdir()  # the repository root: the pyproject lookup stops here
    (folder / "pyproject.toml").write_text('[tool.cardsmith]\nignore = ["metric-not-reproduced"]\n')
    code, card, _ = verify_json([str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert "metric-not-reproduced" not in [f["name"] for f in card["findings"]]
    assert reproduced(card)["F1"]["match"] is False  # the rerun still shows the mismatch
    (folder / "pyproject.toml").write_text('[tool.cardsmith]\nselect = ["CS401"]\n')
    code, card, _ = verify_json([str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert code == 1 and {f["name"] for f in card["findings"]} == {"metric-not-reproduced"}


def test_changed_loss_is_not_reproduced(
    tok: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy_model(tok["model"], root / "changed_loss")
    _raise_claim(folder / "README.md", "Loss", 0.002)
    code, card, _ = verify_json([str(folder), "--rerun", "--dataset", str(tok["data"])], capsys)
    assert code == 1
    assert [f["name"] for f in card["findings"] if f["severity"] == "error"].count("loss-not-reproduced") == 1
    assert reproduced(card)["F1"]["match"] is True


def test_write_records_reproduction(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cardsmith import ModelCard

    folder = _copy_model(seq["model"], root / "write")
    before = (folder / "README.md").read_text(encoding="utf-8")
    for _ in range(2):  # twice: the section is replaced, not duplicated
        code, _out, err = run_cli(
            ["verify", str(folder), "--rerun", "--dataset", str(seq["data"]), "--write"], capsys
        )
        assert code == 0, err
    after = (folder / "README.md").read_text(encoding="utf-8")
    assert after.count("## Reproduction") == 1
    assert "| F1 |" in after and "macro" in after
    # everything else is kept: every line of the old card except the model-index values is still there
    kept = [line for line in before.splitlines() if "value:" not in line]
    assert all(line in after.splitlines() for line in kept)
    card = ModelCard.load(folder / "README.md")
    metrics = {m.name: m.value for m in card.metadata.model_index[0].results[0].metrics}
    assert abs(metrics["F1"] - seq["logged"]["eval_f1"]) <= EXACT
    assert not card.audit().has_errors
    assert not list(folder.glob(".README.md.*"))  # no temporary file left behind


# --------------------------------------------------------------------------------------------------
# The Hub: a real local cache, offline
# --------------------------------------------------------------------------------------------------


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack")


def make_hub_cache(cache: Path, repo_id: str, folder: Path, *, files: list[str] | None = None) -> str:
    """Lay ``folder``'s files out as huggingface_hub's cache does: blobs, snapshots/<commit>, refs/main."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    blobs = repo_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    names = files if files is not None else sorted(p.name for p in folder.iterdir() if p.is_file())
    tree = hashlib.sha1()
    entries: list[tuple[str, str]] = []
    for name in names:
        data = (folder / name).read_bytes()
        blob = hashlib.sha256(data).hexdigest() if name.endswith(LFS_SUFFIXES) else _git_blob_sha1(data)
        (blobs / blob).write_bytes(data)
        entries.append((name, blob))
        tree.update(f"{name}\0{blob}\n".encode())
    commit = tree.hexdigest()
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, blob in entries:
        link = snapshot / name
        if not link.exists():
            link.symlink_to(Path("..") / ".." / "blobs" / blob)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return commit


@pytest.fixture(scope="module")
def hub_cache(seq: dict[str, Any], root: Path) -> dict[str, Any]:
    cache = root / "hf_home" / "hub"
    commit = make_hub_cache(cache, "cardsmith-test/tiny-reviews", seq["model"])
    return {"cache": cache, "home": root / "hf_home", "commit": commit}


@pytest.fixture()
def offline(hub_cache: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("HF_HOME", str(hub_cache["home"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache["cache"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return hub_cache


def test_hub_repo_id_resolves_offline_from_cache(
    seq: dict[str, Any], offline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, card, _ = verify_json(
        ["cardsmith-test/tiny-reviews", "--rerun", "--dataset", str(seq["data"])], capsys
    )
    assert code == 0, card
    assert card["path"] == "cardsmith-test/tiny-reviews"
    assert abs(reproduced(card)["Loss"]["reproduced"] - seq["logged"]["eval_loss"]) <= EXACT
    # a revision given as the commit hash resolves too
    code, card, _ = verify_json(["cardsmith-test/tiny-reviews", "--revision", offline["commit"]], capsys)
    assert code == 0


def test_hub_missing_repo_and_revision_exit_2(
    offline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["verify", "cardsmith-test/no-such-model"], capsys)
    assert code == 2 and out == ""
    assert "cardsmith-test/no-such-model" in err and "cache" in err and "Traceback" not in err
    code, out, err = run_cli(["verify", "cardsmith-test/tiny-reviews", "--revision", "v9.9"], capsys)
    assert code == 2 and "v9.9" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(["verify", "not a repo id!"], capsys)
    assert code == 2 and "not a valid Hub repo id" in err
    code, out, err = run_cli(["verify", "cardsmith-test/tiny-reviews", "--rerun", "--write"], capsys)
    assert code == 2 and "local model folder" in err


def test_hub_offline_subprocess(seq: dict[str, Any], hub_cache: dict[str, Any]) -> None:
    """The real environment path: HF_HOME + HF_HUB_OFFLINE=1 set before anything is imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(hub_cache["home"]), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cardsmith",
            "verify",
            "cardsmith-test/tiny-reviews",
            "--rerun",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    # the model resolves from the cache; the card's dataset (tiny_reviews) is not on this machine
    assert proc.returncode == 2, proc.stderr
    assert "tiny_reviews" in proc.stderr and "--dataset" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------------------
# Untrusted repositories: refused, nothing run
# --------------------------------------------------------------------------------------------------


def _pickle_bomb(marker: Path) -> bytes:
    class Bomb:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    return pickle.dumps(Bomb())


def test_pickle_only_weights_refused(
    seq: dict[str, Any],
    root: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    hub_cache: dict[str, Any],
) -> None:
    folder = root / "pickle_only"
    folder.mkdir()
    for name in ("config.json", "README.md", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(seq["model"] / name, folder / name)
    marker = root / "unpickled.marker"
    (folder / "pytorch_model.bin").write_bytes(_pickle_bomb(marker))
    code, _out, err = run_cli(["verify", str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert code == 2
    assert "only pickle weights (.bin); cardsmith loads safetensors only" in err
    # the same repository from the Hub cache
    make_hub_cache(hub_cache["cache"], "cardsmith-test/pickled", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache["cache"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _out, err = run_cli(
        ["verify", "cardsmith-test/pickled", "--rerun", "--dataset", str(seq["data"])], capsys
    )
    assert code == 2 and "only pickle weights" in err
    assert not marker.exists()
    # the audit alone never needs the weights
    code, _out, err = run_cli(["verify", str(folder)], capsys)
    assert code in (0, 1) and not marker.exists()


REMOTE_CONFIG = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")
from transformers import BertConfig
class EvilConfig(BertConfig):
    model_type = "evil-bert"
"""
REMOTE_MODEL = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")
from transformers import BertForSequenceClassification
from .configuration_evil import EvilConfig
class EvilModel(BertForSequenceClassification):
    config_class = EvilConfig
"""


def test_remote_code_refused_without_flag(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers.dynamic_module_utils as dynamic

    # where transformers copies a repository's code when it is trusted: a temporary folder
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(root / "modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = _copy_model(seq["model"], root / "remote_code")
    marker = root / "remote_code.marker"
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "evil-bert"
    config["architectures"] = ["EvilModel"]
    config["auto_map"] = {
        "AutoConfig": "configuration_evil.EvilConfig",
        "AutoModelForSequenceClassification": "modeling_evil.EvilModel",
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "configuration_evil.py").write_text(REMOTE_CONFIG.format(marker=str(marker)))
    (folder / "modeling_evil.py").write_text(REMOTE_MODEL.format(marker=str(marker)))

    code, _out, err = run_cli(["verify", str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert code == 2
    assert "--trust-remote-code" in err and "auto_map" in err and "Traceback" not in err
    assert not marker.exists()
    code, _out, err = run_cli(["verify", str(folder)], capsys)  # audit only: nothing imported either
    assert code in (0, 1) and not marker.exists()
    # with the flag, the repository's code is what runs (and here it evaluates like the original)
    code, _out, err = run_cli(
        ["verify", str(folder), "--rerun", "--dataset", str(seq["data"]), "--trust-remote-code"], capsys
    )
    assert marker.exists()
    assert code == 0, err


def test_unknown_model_type_refused(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy_model(seq["model"], root / "unknown_type")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "never-heard-of-it"
    (folder / "config.json").write_text(json.dumps(config))
    code, _out, err = run_cli(["verify", str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert code == 2 and "--trust-remote-code" in err and "never-heard-of-it" in err


# --------------------------------------------------------------------------------------------------
# Clear errors
# --------------------------------------------------------------------------------------------------


def test_unsupported_task(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardsmith.rerun import tasks

    # a task SPEC names but no implementation is registered for (every one is, once all land)
    monkeypatch.delitem(tasks.TASKS, tasks.MASKED_LM)
    folder = _copy_model(seq["model"], root / "masked_lm")
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["BertForMaskedLM"]
    (folder / "config.json").write_text(json.dumps(config))
    code, _out, err = run_cli(["verify", str(folder), "--rerun", "--dataset", str(seq["data"])], capsys)
    assert code == 2 and "not supported yet" in err and "BertForMaskedLM" in err


def test_label_names_that_disagree(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datasets import ClassLabel

    val = seq["datasets"]["validation"]
    renamed = val.cast_column("label", ClassLabel(names=["bad", "meh", "good"]))
    path = root / "renamed"
    renamed.save_to_disk(str(path))
    code, _out, err = run_cli(["verify", str(seq["model"]), "--rerun", "--dataset", str(path)], capsys)
    assert code == 2 and "disagree" in err and "negative" in err and "bad" in err


def test_missing_columns_and_splits(
    seq: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(
        ["verify", str(seq["model"]), "--rerun", "--dataset", str(seq["data"]), "--text-column", "review"],
        capsys,
    )
    assert code == 2 and "review" in err and "text" in err
    dd = root / "dict"
    seq["datasets"].save_to_disk(str(dd))
    code, _out, err = run_cli(
        ["verify", str(seq["model"]), "--rerun", "--dataset", str(dd), "--split", "test"], capsys
    )
    assert code == 2 and "no split 'test'" in err
    code, card, _ = verify_json([str(seq["model"]), "--rerun", "--dataset", str(dd)], capsys)
    assert code == 0 and card["reproduction"]["split"] == "validation"  # default split of a DatasetDict
    code, _out, err = run_cli(["verify", str(root / "nowhere"), "--rerun"], capsys)
    assert code == 2 and "nowhere" in err


def test_half_precision_rerun(tok: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """``--dtype bf16`` runs (on CPU too) and is compared with the wider half-precision tolerance."""
    code, card, _ = verify_json(
        [str(tok["model"]), "--rerun", "--dataset", str(tok["data"]), "--dtype", "bf16"], capsys
    )
    assert code == 0, card
    assert abs(reproduced(card)["Loss"]["reproduced"] - tok["logged"]["eval_loss"]) < 1e-2


def _subword_tokenizer(folder: Path) -> Any:
    """The tiny tokenizer with a few words split into WordPiece pieces (same vocabulary size and ids)."""
    vocab = list(tiny.VOCAB)
    # alice -> al ##ice, paris -> par ##is, smith -> sm ##ith, visited -> visit ##ed, yesterday ->
    # yester ##day, office -> off ##ice (the words replaced to make room become [UNK])
    for old, new in [
        ("alice", "al"),
        ("bob", "##ice"),
        ("paris", "par"),
        ("tokyo", "##is"),
        ("smith", "sm"),
        ("brown", "##ith"),
        ("visited", "visit"),
        ("cinema", "##ed"),
        ("yesterday", "yester"),
        ("dinner", "##day"),
        ("office", "off"),
    ]:
        vocab[vocab.index(old)] = new
    tokenizer = tiny.wordpiece_tokenizer(vocab)
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def test_subword_tokens_labelled_on_first_piece_like_trainer(
    tok: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Words split into several pieces: labels on the first piece, -100 on the others (run_ner); the
    rerun equals ``Trainer.evaluate`` over the same pieces, loss included."""
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer

    folder = _copy_model(tok["model"], root / "subword")
    tokenizer = _subword_tokenizer(folder)
    val = tok["datasets"]["validation"]
    assert tokenizer.tokenize("alice visited paris") == ["al", "##ice", "visit", "##ed", "par", "##is"]

    def encode(batch: dict[str, list[Any]]) -> Any:
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=64)
        labels = []
        for i, tags in enumerate(batch["ner_tags"]):
            previous, row = None, []
            for word_id in enc.word_ids(batch_index=i):
                row.append(-100 if word_id is None or word_id == previous else tags[word_id])
                previous = word_id
            labels.append(row)
        enc["labels"] = labels
        return enc

    enc = val.map(encode, batched=True, remove_columns=["tokens", "ner_tags"])
    model = AutoModelForTokenClassification.from_pretrained(str(folder))
    trainer = Trainer(
        model=model,
        args=tiny._training_args(root / "subword_eval", {"per_device_eval_batch_size": 5}),
        eval_dataset=enc,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=tiny.tok_compute_metrics,
    )
    expected = trainer.evaluate()
    split_words = sum(len(ids) - 2 - len(words) for ids, words in zip(enc["input_ids"], val["tokens"]))
    assert split_words >= 5  # the evaluation set really has words of several pieces
    _, card, _ = verify_json([str(folder), "--rerun", "--dataset", str(tok["data"])], capsys)
    got = reproduced(card)
    for name, key in [
        ("Loss", "eval_loss"),
        ("Accuracy", "eval_accuracy"),
        ("Precision", "eval_precision"),
        ("Recall", "eval_recall"),
        ("F1", "eval_f1"),
    ]:
        assert abs(got[name]["reproduced"] - expected[key]) <= EXACT, (name, got[name], expected[key])
