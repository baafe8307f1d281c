"""``verify --rerun`` on regression, multi-label, image, audio and CTC speech checkpoints (issue #12).

Every checkpoint is trained once per module with the real ``transformers.Trainer`` the way the HF
tutorials do (``tests/tiny_single.py``); its card comes from ``CardCallback`` or
``trainer.create_model_card()``. The rerun must reproduce every claimed metric and the loss within
5e-5 of what the Trainer logged (exit 0), and the same card with one number raised by 0.03 must
fail with metric-not-reproduced or loss-not-reproduced (exit 1).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tiny_single

from cardsmith.cli.app import main

pytestmark = pytest.mark.slow

EXACT = 5e-5


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("single_pass")


@pytest.fixture(scope="module")
def regression(root: Path) -> dict[str, Any]:
    return tiny_single.train_regression(root / "regression")


@pytest.fixture(scope="module")
def multilabel(root: Path) -> dict[str, Any]:
    return tiny_single.train_multilabel(root / "multilabel")


@pytest.fixture(scope="module")
def image(root: Path) -> dict[str, Any]:
    return tiny_single.train_image(root / "image")


@pytest.fixture(scope="module")
def audio(root: Path) -> dict[str, Any]:
    return tiny_single.train_audio(root / "audio")


@pytest.fixture(scope="module")
def speech(root: Path) -> dict[str, Any]:
    return tiny_single.train_ctc(root / "speech", card="create_model_card")


def verify(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()
    code = main(["verify", *args, "--format", "json"])
    captured = capsys.readouterr()
    assert captured.out.strip(), f"no report (exit {code}): {captured.err}"
    return code, json.loads(captured.out)["cards"][0], captured.err


def check_reproduced(run: dict[str, Any], card: dict[str, Any], names: dict[str, str]) -> None:
    """Every claimed metric (card name -> logged key) reproduced within 5e-5 of the Trainer's value."""
    got = {m["name"]: m for m in card["reproduction"]["metrics"]}
    assert set(got) == set(names), got
    for name, key in names.items():
        logged = run["logged"][key]
        assert got[name]["match"] is True, got[name]
        assert abs(got[name]["reproduced"] - logged) <= EXACT, (name, got[name], logged)
    assert not [f for f in card["findings"] if f["severity"] == "error"], card["findings"]


def raised_copy(run: dict[str, Any], where: Path, name: str) -> Path:
    """The model folder with the headline's ``name`` raised by 0.03 in its card."""
    folder = where / f"raised-{name.replace(' ', '_')}"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(run["model"], folder)
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(rf"^- {re.escape(name)}: (-?[0-9.]+)$", re.MULTILINE)
    found = pattern.search(text)
    assert found, f"no headline {name} in the card"
    value = found.group(1)
    decimals = len(value.split(".")[1]) if "." in value else 0
    raised = f"{float(value) + 0.03:.{decimals}f}"
    readme.write_text(text[: found.start(1)] + raised + text[found.end(1) :], encoding="utf-8")
    return folder


def check_raised(run: dict[str, Any], root: Path, name: str, rule: str, capsys: Any) -> None:
    folder = raised_copy(run, root, name)
    code, card, _err = verify([str(folder), "--rerun", "--dataset", str(run["data"])], capsys)
    assert code == 1
    failed = [f for f in card["findings"] if f["name"] == rule]
    assert failed and f"{name} " in failed[0]["message"], card["findings"]
    assert {f["location"]["column"] for f in failed} == {name}


# --------------------------------------------------------------------------------------------------
# text-regression
# --------------------------------------------------------------------------------------------------


def test_regression_reproduces_trainer(
    regression: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, card, err = verify(
        [str(regression["model"]), "--rerun", "--dataset", str(regression["data"])], capsys
    )
    assert code == 0, card
    assert card["reproduction"]["task"] == "text-regression"
    names = {"Loss": "eval_loss", "Mse": "eval_mse", "Rmse": "eval_rmse", "Mae": "eval_mae", "R2": "eval_r2"}
    names.update({"Pearson": "eval_pearson", "Spearmanr": "eval_spearmanr"})
    check_reproduced(regression, card, names)
    assert "examples/s" in err


def test_regression_raised_metric_fails(
    regression: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_raised(regression, root / "regression", "Spearmanr", "metric-not-reproduced", capsys)
    check_raised(regression, root / "regression", "Loss", "loss-not-reproduced", capsys)


# --------------------------------------------------------------------------------------------------
# multi-label-classification
# --------------------------------------------------------------------------------------------------


def test_multilabel_reproduces_trainer(
    multilabel: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, card, _err = verify(
        [str(multilabel["model"]), "--rerun", "--dataset", str(multilabel["data"])], capsys
    )
    assert code == 0, card
    rep = card["reproduction"]
    assert rep["task"] == "multi-label-classification"
    assert rep["settings"]["threshold"] == 0.5 and rep["settings"]["averaging"] == "micro"
    assert rep["settings"]["roc_auc"] == "micro over thresholded predictions"  # the tutorial's
    names = {"Loss": "eval_loss", "F1": "eval_f1", "Roc Auc": "eval_roc_auc", "Accuracy": "eval_accuracy"}
    check_reproduced(multilabel, card, {**names, "F1 Macro": "eval_f1_macro"})


def test_multilabel_threshold_is_found(
    multilabel: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A card computed at another threshold: the rerun finds the threshold its numbers imply."""
    import numpy as np
    import torch
    from datasets import load_from_disk
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = root / "multilabel" / "threshold"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(multilabel["model"], folder)
    ds = load_from_disk(str(multilabel["data"]))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    with torch.inference_mode():
        logits = np.stack([model(**tokenizer(t, return_tensors="pt")).logits[0].numpy() for t in ds["text"]])

    class Pred:
        predictions = logits
        label_ids = np.asarray(ds["labels"], dtype=np.float32)

    at_03 = tiny_single.multilabel_metrics(Pred(), threshold=0.3)
    at_05 = tiny_single.multilabel_metrics(Pred(), threshold=0.5)
    assert at_03["f1"] != at_05["f1"]  # the threshold matters on this data
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8")
    for name, key in (
        ("F1", "f1"),
        ("Roc Auc", "roc_auc"),
        ("Accuracy", "accuracy"),
        ("F1 Macro", "f1_macro"),
    ):
        text = re.sub(rf"^- {name}: [0-9.]+$", f"- {name}: {at_03[key]:.4f}", text, flags=re.MULTILINE)
    readme.write_text(text, encoding="utf-8")
    code, card, _err = verify(
        [str(folder), "--rerun", "--dataset", str(multilabel["data"]), "--select", "metric-not-reproduced"],
        capsys,
    )
    assert code == 0, card
    found = card["reproduction"]["settings"]["threshold"]
    assert found != 0.5 and tiny_single.multilabel_metrics(Pred(), threshold=found) == at_03


# --------------------------------------------------------------------------------------------------
# image-classification
# --------------------------------------------------------------------------------------------------


def test_image_reproduces_trainer(image: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, card, _err = verify([str(image["model"]), "--rerun", "--dataset", str(image["data"])], capsys)
    assert code == 0, card
    rep = card["reproduction"]
    assert rep["task"] == "image-classification" and rep["settings"]["averaging"] == "weighted"
    check_reproduced(image, card, {"Loss": "eval_loss", "Accuracy": "eval_accuracy", "F1": "eval_f1"})


def test_image_raised_metric_fails(
    image: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_raised(image, root / "image", "F1", "metric-not-reproduced", capsys)


# --------------------------------------------------------------------------------------------------
# audio-classification
# --------------------------------------------------------------------------------------------------


def test_audio_reproduces_trainer(audio: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, card, _err = verify([str(audio["model"]), "--rerun", "--dataset", str(audio["data"])], capsys)
    assert code == 0, card
    rep = card["reproduction"]
    assert rep["task"] == "audio-classification"
    assert rep["settings"]["batches"].startswith("the Trainer's")  # no attention mask: padding matters
    check_reproduced(audio, card, {"Loss": "eval_loss", "Accuracy": "eval_accuracy"})


def test_audio_from_parquet_without_torchcodec(
    audio: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datasets import load_from_disk

    parquet = root / "audio" / "validation.parquet"
    load_from_disk(str(audio["data"])).to_parquet(str(parquet))
    code, card, _err = verify([str(audio["model"]), "--rerun", "--dataset", str(parquet)], capsys)
    assert code == 0, card
    check_reproduced(audio, card, {"Loss": "eval_loss", "Accuracy": "eval_accuracy"})


def test_audio_cut_at_one_second_is_found(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Clips longer than 1 s, cut there by the training recipe: only the cut reproduces the card."""
    long = tiny_single.train_audio(root / "audio-long", long_clips=True)
    code, card, _err = verify([str(long["model"]), "--rerun", "--dataset", str(long["data"])], capsys)
    assert code == 0, card
    assert card["reproduction"]["settings"]["truncation"] == "1 s"
    check_reproduced(long, card, {"Loss": "eval_loss", "Accuracy": "eval_accuracy"})


def test_audio_raised_metric_fails(
    audio: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_raised(audio, root / "audio", "Accuracy", "metric-not-reproduced", capsys)


# --------------------------------------------------------------------------------------------------
# automatic-speech-recognition (CTC)
# --------------------------------------------------------------------------------------------------


def test_ctc_reproduces_trainer(speech: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, card, _err = verify([str(speech["model"]), "--rerun", "--dataset", str(speech["data"])], capsys)
    assert code == 0, card
    rep = card["reproduction"]
    assert rep["task"] == "automatic-speech-recognition"
    assert rep["settings"]["ctc_loss_reduction"] == "mean"
    assert "decoding" in rep["settings"]
    check_reproduced(speech, card, {"Loss": "eval_loss", "Wer": "eval_wer", "Cer": "eval_cer"})


def test_ctc_percent_card(speech: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A card that prints WER and CER as percentages (compute_metrics times 100) is reproduced too."""
    folder = root / "speech" / "percent"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(speech["model"], folder)
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8")
    for name, key in (("Wer", "eval_wer"), ("Cer", "eval_cer")):
        text = re.sub(
            rf"^- {name}: [0-9.]+$", f"- {name}: {speech['logged'][key] * 100:.2f}", text, flags=re.MULTILINE
        )
    readme.write_text(text, encoding="utf-8")
    code, card, _err = verify(
        [str(folder), "--rerun", "--dataset", str(speech["data"]), "--select", "metric-not-reproduced"],
        capsys,
    )
    assert code == 0, card
    assert card["reproduction"]["settings"]["scale"] == "percent"


def test_ctc_raised_metric_fails(
    speech: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_raised(speech, root / "speech", "Wer", "metric-not-reproduced", capsys)


def test_task_override_and_unsupported(
    regression: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """--task wins over inference; a task that cannot run on the data is one clear line, exit 2."""
    capsys.readouterr()
    code = main(
        [
            "verify",
            str(regression["model"]),
            "--rerun",
            "--dataset",
            str(regression["data"]),
            "--task",
            "image-classification",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "image column" in err and "Traceback" not in err
    code = main(["verify", str(regression["model"]), "--rerun", "--task", "no-such-task"])
    err = capsys.readouterr().err
    assert code == 2 and "no-such-task" in err
