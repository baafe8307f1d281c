"""What cardsmith writes is right (issue #11): Hub-valid metadata, only proven numbers, edits kept.

Every card written here comes from a real tiny ``transformers.Trainer`` run (``tests/tiny.py``), the
real CLI (``cardsmith.cli.main``), real files under umask 022 and real git repositories; validity
for the Hub is checked with ``huggingface_hub.ModelCard.load`` itself. :func:`assert_written_right`
is the "done when" check applied to each written card: it loads in huggingface_hub with the
expected ``eval_results``, cardsmith's own audit finds no error, and parse/render gives back the
file byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tiny
import yaml
from git_repo import git, isolate_git

pytestmark = pytest.mark.slow

NOTE = "The results above are"
CURVES = "training_curves.png"


def cli_main() -> Any:
    try:
        from cardsmith.cli import main
    except ImportError:  # pragma: no cover - the redesign's layout
        from cardsmith.cli.app import main
    return main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli_main()(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plain_write_mode(folder: Path) -> int:
    """The mode a plain ``open(..., "w")`` gives a new file here (under the current umask)."""
    probe = folder / ".probe-mode"
    with open(probe, "w") as fh:
        fh.write("x")
    try:
        return mode(probe)
    finally:
        probe.unlink()


def hub_eval_results(path: Path) -> dict[str, float]:
    """huggingface_hub's own reading of the card's model-index: ``{metric_type: value}``."""
    from huggingface_hub import ModelCard as HubCard

    card = HubCard.load(path)  # raises on an invalid model-index
    return {r.metric_type: r.metric_value for r in (card.data.eval_results or [])}


def assert_written_right(path: Path, expected: dict[str, float] | None = None) -> None:
    """The done-when check for a card cardsmith wrote."""
    from cardsmith import ModelCard

    results = hub_eval_results(path)
    if expected is not None:
        assert set(results) == set(expected), (results, expected)
        for key, value in expected.items():
            assert abs(results[key] - value) <= 1e-9, (key, results[key], value)
    card = ModelCard.load(path)
    errors = [f for f in card.audit().findings if f.severity == "error"]
    assert not errors, errors
    assert card.to_markdown().encode("utf-8") == path.read_bytes()


def logged_eval(trainer: Any, index: int = -1) -> dict[str, float]:
    return [h for h in trainer.state.log_history if "eval_loss" in h][index]


def expected_index(entry: dict[str, float]) -> dict[str, float]:
    return {k: entry[f"eval_{k}"] for k in ("accuracy", "precision", "recall", "f1")}


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# --------------------------------------------------------------------------------------------------
# One real run with CardCallback(plot=True): best checkpoint restored (accuracy ties from epoch 2 on,
# so checkpoint-64 is best and not last), the training loss logged every 8 steps
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from cardsmith import CardCallback

    old = os.umask(0o022)
    try:
        root = tmp_path_factory.mktemp("writes")
        out = root / "run"
        data = tiny.seq_datasets()
        callback = CardCallback(plot=True)
        trainer = tiny.train_seq(
            out,
            datasets=data,
            callbacks=[callback],
            load_best_model_at_end=True,
            metric_for_best_model="accuracy",
            logging_strategy="steps",
            logging_steps=8,
        )
        readme = out / "README.md"
        at_train_end = {
            "readme": readme.read_bytes(),
            "png": (out / CURVES).read_bytes(),
            "modes": {"README.md": mode(readme), CURVES: mode(out / CURVES)},
            "plain": plain_write_mode(out),
        }
        model = root / "model"
        trainer.save_model(str(model))
        val = root / "validation"
        data["validation"].save_to_disk(str(val))
        jsonl = root / "eval.jsonl"
        with jsonl.open("w") as fh:
            for row in data["validation"]:
                fh.write(json.dumps({"text": row["text"], "label": row["label"]}) + "\n")
    finally:
        os.umask(old)
    return {
        "root": root,
        "out": out,
        "trainer": trainer,
        "callback": callback,
        "train_end": at_train_end,
        "model": model,
        "validation": val,
        "jsonl": jsonl,
    }


def test_callback_card_is_right(run_a: dict[str, Any]) -> None:
    trainer, out = run_a["trainer"], run_a["out"]
    readme = out / "README.md"
    assert readme.read_bytes() == run_a["train_end"]["readme"]
    best = logged_eval(trainer, 1)  # checkpoint-64, restored by load_best_model_at_end
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-64")
    assert_written_right(readme, expected_index(best))


def test_item9_written_files_get_plain_write_mode(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = run_a["train_end"]["plain"]
    assert plain == 0o644
    assert run_a["train_end"]["modes"] == {"README.md": plain, CURVES: plain}
    # render -o: a new file gets the plain mode; a replaced file keeps its own mode
    target = tmp_path / "new" / "README.md"
    code, _, err = run_cli(["render", str(run_a["out"]), "-o", str(target), "--plot"], capsys)
    assert code == 0, err
    assert mode(target) == plain and mode(target.parent / CURVES) == plain
    os.chmod(target, 0o640)
    code, _, err = run_cli(["render", str(run_a["out"]), "-o", str(target)], capsys)
    assert code == 0, err
    assert mode(target) == 0o640


def test_item12_one_plotting_path(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """render --plot draws what CardCallback(plot=True) drew: every logged loss point, best marked."""
    from cardsmith import ModelCard

    target = tmp_path / "README.md"
    code, _, err = run_cli(["render", str(run_a["out"]), "-o", str(target), "--plot"], capsys)
    assert code == 0, err
    assert (tmp_path / CURVES).read_bytes() == run_a["train_end"]["png"]
    losses = [h for h in run_a["trainer"].state.log_history if "loss" in h]
    assert len(losses) == 16  # logged every 8 steps: four times as many points as table rows
    card = ModelCard.load(target)
    assert len(card.results.rows) == 4
    assert_written_right(target, expected_index(logged_eval(run_a["trainer"], 1)))
    # What the picture holds: without the run's state (table points only, no best checkpoint), or
    # with the log but no best checkpoint, the picture is another one.
    from cardsmith.train.plot import plot_training_curves

    state = json.loads(
        max(
            (run_a["out"]).glob("checkpoint-*/trainer_state.json"),
            key=lambda p: int(p.parent.name.split("-")[1]),
        ).read_text()
    )
    assert state["best_global_step"] == 64
    table_only = plot_training_curves(card, tmp_path / "table_only.png").read_bytes()
    no_best = plot_training_curves(
        card, tmp_path / "no_best.png", state={"log_history": state["log_history"]}
    ).read_bytes()
    both = plot_training_curves(card, tmp_path / "both.png", state=state).read_bytes()
    assert both == run_a["train_end"]["png"]
    assert len({table_only, no_best, both}) == 3


def test_item4_render_preview_equals_what_is_written(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    shutil.copytree(run_a["out"], out)
    readme = out / "README.md"
    edited = (
        readme.read_text().replace(
            "## Model description\n\nMore information needed", "## Model description\n\nA keyword classifier."
        )
        + "\n## Contact\n\nWrite to us.\n"
    )
    readme.write_text(edited)
    code, preview, err = run_cli(["render", str(out)], capsys)
    assert code == 0, err
    code, _, err = run_cli(["render", str(out), "-o", str(readme)], capsys)
    assert code == 0, err
    written = readme.read_text()
    assert "A keyword classifier." in written and "## Contact\n\nWrite to us.\n" in written
    assert preview == written
    assert_written_right(readme, expected_index(logged_eval(run_a["trainer"], 1)))


def test_item4_parse_then_render_keeps_hand_written_sections(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "README.md"
    card.write_text((run_a["out"] / "README.md").read_text() + "\n## Contact\n\nWrite to us.\n")
    code, dumped, err = run_cli(["parse", str(card)], capsys)
    assert code == 0, err
    as_json = tmp_path / "card.json"
    as_json.write_text(dumped)
    code, rendered, err = run_cli(["render", str(as_json)], capsys)
    assert code == 0, err
    assert rendered == card.read_text()


def test_item3_rewrite_keeps_blank_line_after_best_checkpoint_sentence(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = run_a["out"] / "README.md"
    text = readme.read_text()
    sentence = [ln for ln in text.splitlines() if ln.startswith(NOTE)]
    assert len(sentence) == 1 and "checkpoint-64" in sentence[0]
    assert f"{sentence[0]}\n\n## Model description" in text
    # render -o over the card itself: byte for byte
    code, _, err = run_cli(["render", str(run_a["out"]), "-o", str(readme)], capsys)
    assert code == 0, err
    assert readme.read_bytes() == run_a["train_end"]["readme"]
    # trainer.evaluate() after training: the callback rewrites the card for that evaluation
    trainer = run_a["trainer"]
    final = trainer.evaluate()
    after = readme.read_text()
    sentence = [ln for ln in after.splitlines() if ln.startswith(NOTE)]
    assert len(sentence) == 1
    assert f"{sentence[0]}\n\n## Model description" in after
    assert_written_right(readme, {k: final[f"eval_{k}"] for k in ("accuracy", "precision", "recall", "f1")})


# --------------------------------------------------------------------------------------------------
# ModelCard.from_output_dir without the callback: only what the folder proves
# --------------------------------------------------------------------------------------------------


def micro_metrics(eval_pred: Any) -> dict[str, float]:
    """Micro-averaged F1 over single-label classes equals accuracy: the two tie in every row."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    preds = np.argmax(eval_pred.predictions, axis=-1)
    return {
        "accuracy": float(accuracy_score(eval_pred.label_ids, preds)),
        "f1": float(f1_score(eval_pred.label_ids, preds, average="micro")),
    }


def test_item5_from_output_dir_says_only_what_the_folder_proves(tmp_path: Path) -> None:
    from cardsmith import ModelCard

    out = tmp_path / "plain"
    trainer = tiny.train_seq(out, do_train=False, load_best_model_at_end=True, metric_for_best_model="f1")
    trainer.compute_metrics = micro_metrics
    trainer.train()
    evals = [h for h in trainer.state.log_history if "eval_loss" in h]
    assert all(e["eval_accuracy"] == e["eval_f1"] for e in evals)
    card = ModelCard.from_output_dir(out)
    text = card.to_markdown()
    sentence = [ln for ln in text.splitlines() if ln.startswith(NOTE)]
    assert len(sentence) == 1
    assert "eval_accuracy" not in sentence[0]  # the folder does not say which metric selected it
    best = Path(trainer.state.best_model_checkpoint).name
    assert f"`{best}`" in sentence[0]
    readme = out / "README.md"
    card.save(readme)
    assert_written_right(readme)


# --------------------------------------------------------------------------------------------------
# create_model_card, tags, from_trainer
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_c(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A person's README.md is in the output folder before training (tags, license, own text)."""
    from cardsmith import CardCallback

    out = tmp_path_factory.mktemp("tags") / "run"
    out.mkdir()
    (out / "README.md").write_text(
        "---\nlicense: mit\ntags:\n- my-tag\n- sentiment\n---\n\n# run\n\nHand-written text.\n"
    )
    callback = CardCallback(license="mit", language="en")
    trainer = tiny.train_seq(out, callbacks=[callback], num_train_epochs=2)
    return {"out": out, "trainer": trainer, "callback": callback}


def test_item14_callback_merges_a_persons_tags(run_c: dict[str, Any]) -> None:
    readme = run_c["out"] / "README.md"
    data = yaml.safe_load(readme.read_text().split("---\n")[1])
    assert data["tags"][:2] == ["my-tag", "sentiment"] and "generated_from_trainer" in data["tags"]
    assert "Hand-written text." in readme.read_text()
    assert_written_right(readme, expected_index(logged_eval(run_c["trainer"])))


def test_item6_create_model_card_renames_the_title(run_c: dict[str, Any]) -> None:
    readme = run_c["out"] / "README.md"
    run_c["trainer"].create_model_card(model_name="renamed-model")
    text = readme.read_text()
    assert re.search(r"^# renamed-model$", text, re.MULTILINE), text[:1200]
    assert not re.search(r"^# run$", text, re.MULTILINE)
    data = yaml.safe_load(text.split("---\n")[1])
    assert data["model-index"][0]["name"] == "renamed-model"
    assert_written_right(readme, expected_index(logged_eval(run_c["trainer"])))


def test_from_trainer_card_is_right(run_c: dict[str, Any], tmp_path: Path) -> None:
    from cardsmith import ModelCard

    card = ModelCard.from_trainer(run_c["trainer"])
    path = tmp_path / "README.md"
    path.write_text(card.to_markdown())
    assert_written_right(path, expected_index(logged_eval(run_c["trainer"])))


# --------------------------------------------------------------------------------------------------
# Library: audit(select=str), [tool.cardsmith], Hub interop
# --------------------------------------------------------------------------------------------------

CARD = """---
license: apache-2.0
base_model: cardsmith-test/tiny-bert
datasets:
- tiny_reviews
model-index:
- name: tiny
  results:
  - task:
      type: text-classification
    dataset:
      name: tiny_reviews
      type: tiny_reviews
      split: validation
    metrics:
    - type: accuracy
      value: 0.95
---

# tiny

This model is a fine-tuned version of [cardsmith-test/tiny-bert](https://huggingface.co/cardsmith-test/tiny-bert) on the tiny_reviews dataset.
It achieves the following results on the evaluation set:
- Loss: 0.3
- Accuracy: 0.95
"""


def test_item7_audit_select_accepts_a_string() -> None:
    from cardsmith import ModelCard

    card = ModelCard.from_markdown(CARD.replace("- Loss: 0.3", "- Loss: -0.3"))  # a negative loss
    report = card.audit(select="CS108")
    assert {f.rule for f in report.findings} == {"CS108"}
    assert {f.name for f in card.audit(select="metric-out-of-range,CS304").findings} == {
        "metric-out-of-range"
    }
    assert "metric-out-of-range" not in {f.name for f in card.audit(ignore="metric-out-of-range").findings}


def test_item8_unknown_tool_cardsmith_key_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.cardsmith]\nignor = ["missing-license"]\n')
    (tmp_path / "README.md").write_text(CARD)
    code, _, err = run_cli(["audit", str(tmp_path / "README.md")], capsys)
    assert code == 2
    assert "ignor" in err and "Traceback" not in err


def test_hub_interop_both_ways(tmp_path: Path) -> None:
    from huggingface_hub import ModelCard as HubCard

    from cardsmith import ModelCard

    text = CARD
    card = ModelCard.from_markdown(text)
    hub = card.to_hub_card()
    assert isinstance(hub, HubCard)
    assert hub.text == text.split("---\n", 2)[2] and hub.data.license == "apache-2.0"
    assert hub.data.eval_results[0].metric_value == 0.95
    assert hub.data.eval_results[0].task_type == "text-classification"
    from_hub = HubCard(text)
    back = ModelCard.from_hub_card(from_hub)
    assert back.to_markdown() == str(from_hub)
    assert back.metadata.license == "apache-2.0" and back.headline == card.headline
    target = tmp_path / "sub" / "README.md"
    card.save(target)
    assert target.read_text() == text and mode(target) == plain_write_mode(tmp_path)
    assert_written_right(target, {"accuracy": 0.95})


def test_push_to_hub_uploads_the_card_through_huggingface_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the network call is replaced: what would be uploaded is the card's Markdown."""
    from huggingface_hub import HfApi

    from cardsmith import ModelCard

    calls: list[dict[str, Any]] = []

    def upload_file(self: Any, **kwargs: Any) -> str:
        obj = kwargs["path_or_fileobj"]
        data = (
            obj
            if isinstance(obj, bytes)
            else Path(obj).read_bytes()
            if isinstance(obj, (str, Path))
            else obj.read()
        )
        calls.append({**kwargs, "data": data})
        return "https://huggingface.co/org/name/blob/main/README.md"

    monkeypatch.setattr(HfApi, "upload_file", upload_file)
    text = CARD
    ModelCard.from_markdown(text).push_to_hub("org/name", commit_message="card")
    assert len(calls) == 1
    assert calls[0]["repo_id"] == "org/name" and calls[0]["path_in_repo"] == "README.md"
    assert calls[0]["data"] == text.encode("utf-8")


def test_push_to_hub_refuses_metadata_huggingface_hub_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid model-index is a cardsmith error naming the repository, and nothing is uploaded."""
    from huggingface_hub import HfApi

    from cardsmith import ModelCard
    from cardsmith.errors import WriteRefusedError

    calls: list[object] = []
    monkeypatch.setattr(HfApi, "upload_file", lambda self, **kwargs: calls.append(kwargs))
    with pytest.raises(WriteRefusedError, match=r"not pushed to org/name: huggingface_hub rejects"):
        ModelCard.from_markdown(NO_TASK).push_to_hub("org/name")
    assert calls == []


# --------------------------------------------------------------------------------------------------
# model-index-invalid
# --------------------------------------------------------------------------------------------------

NO_TASK = CARD.replace("  - task:\n      type: text-classification\n", "  - ").replace(
    "  -     dataset:", "  - dataset:"
)


def test_item1_audit_reports_a_model_index_huggingface_hub_rejects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import ModelCard as HubCard

    assert "task:" not in NO_TASK
    with pytest.raises(ValueError):
        HubCard(NO_TASK)
    path = tmp_path / "README.md"
    path.write_text(NO_TASK)
    code, out, err = run_cli(["audit", str(path), "--format", "json"], capsys)
    assert code == 1, err
    names = {f["name"] for f in json.loads(out)["cards"][0]["findings"]}
    assert "model-index-invalid" in names
    # and a license the Hub does not accept
    bad_license = CARD.replace("license: apache-2.0", "license: 42")
    path.write_text(bad_license)
    code, out, _ = run_cli(["audit", str(path), "--format", "json"], capsys)
    assert "model-index-invalid" in {f["name"] for f in json.loads(out)["cards"][0]["findings"]}
    # the valid card does not trip it
    path.write_text(CARD)
    code, out, _ = run_cli(["audit", str(path), "--format", "json"], capsys)
    assert code == 0 and "model-index-invalid" not in out


def test_item10_missing_dataset_message_is_true_as_worded() -> None:
    from cardsmith import ModelCard

    card = ModelCard.from_markdown("---\nlicense: mit\n---\n\n# plain\n\nA model.\n")
    found = [f for f in card.audit().findings if f.name == "missing-dataset"]
    assert found and "unknown dataset" not in found[0].message


# --------------------------------------------------------------------------------------------------
# verify: usage, and --write
# --------------------------------------------------------------------------------------------------


def test_item11_dataset_without_rerun_is_a_usage_error(
    run_a: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["verify", str(run_a["model"]), "--dataset", str(run_a["jsonl"])], capsys)
    assert code == 2 and "--rerun" in err


def test_item11_rerun_without_any_dataset_fails_before_torch(run_a: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "nodata"
    shutil.copytree(run_a["model"], folder)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n\n# nodata\n\nA model.\n")
    script = (
        "import sys\nfrom cardsmith.cli.app import main\n"
        f"rc = main(['verify', {str(folder)!r}, '--rerun'])\n"
        "print('RC', rc, 'torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert "RC 2 False" in proc.stdout, proc.stdout + proc.stderr
    assert "--dataset" in proc.stderr


def _card_with_empty_index(folder: Path, extra: str = "") -> str:
    text = (folder / "README.md").read_text()
    head, body = text.split("---\n", 2)[1:]
    data = yaml.safe_load(head)
    data["model-index"] = [{"name": data["model-index"][0]["name"], "results": []}]
    for key in ("datasets",):
        data.pop(key, None)
    new = "---\n" + yaml.safe_dump(data, sort_keys=False) + "---\n" + body + extra
    (folder / "README.md").write_text(new)
    return new


PERSON_REPRODUCTION = """
## Reproduction

We trained this on one machine; rerun with `python train.py`.

### Hardware

One laptop CPU.
"""


def test_items_1_13_14_write_records_a_valid_entry_and_keeps_a_persons_section(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(run_a["model"], folder)
    shutil.copy(run_a["out"] / "README.md", folder / "README.md")
    _card_with_empty_index(folder, PERSON_REPRODUCTION)
    dataset = str(run_a["validation"].resolve())
    code, _, err = run_cli(["verify", str(folder), "--rerun", "--dataset", dataset, "--write"], capsys)
    assert code == 0, err
    text = (folder / "README.md").read_text()
    assert PERSON_REPRODUCTION in text  # item 13: a person's section is theirs
    assert dataset not in text and str(run_a["root"]) not in text  # item 14: no absolute local path
    data = yaml.safe_load(text.split("---\n")[1])
    result = data["model-index"][0]["results"][0]
    assert result["task"]["type"] == "text-classification"
    assert result["dataset"] == {
        "name": tiny.SEQ_DATASET_NAME,
        "type": tiny.SEQ_DATASET_NAME,
        "config": "default",
        "split": "validation",
    }
    assert result["source"]["name"] == "cardsmith" and result["source"]["url"].startswith("https://")
    assert all(m["verified"] is False for m in result["metrics"])
    best = logged_eval(run_a["trainer"], 1)
    assert_written_right(folder / "README.md", expected_index(best))
    # the section cardsmith wrote is marked as its own, and a second --write replaces only it
    once = (folder / "README.md").read_text()
    code, _, err = run_cli(["verify", str(folder), "--rerun", "--dataset", dataset, "--write"], capsys)
    assert code == 0, err
    twice = (folder / "README.md").read_text()
    assert PERSON_REPRODUCTION in twice
    strip = re.compile(r"\d+\.\d s\)")  # the rerun's time may differ
    assert strip.sub("", twice) == strip.sub("", once)


def test_item2_write_refuses_a_subset_and_leaves_the_card(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(run_a["model"], folder)
    shutil.copy(run_a["out"] / "README.md", folder / "README.md")
    before = (folder / "README.md").read_bytes()
    args = ["verify", str(folder), "--rerun", "--dataset", str(run_a["validation"]), "--max-examples", "10"]
    code, out, err = run_cli([*args, "--write"], capsys)
    assert code == 2 and "subset" in err and "Traceback" not in err
    assert (folder / "README.md").read_bytes() == before
    # --max-examples alone: a subset cannot refute the full split's numbers
    code, out, err = run_cli([*args, "--format", "json"], capsys)
    assert code == 0, out
    names = {f["name"] for f in json.loads(out)["cards"][0]["findings"]}
    assert not names & {"metric-not-reproduced", "loss-not-reproduced"}


def test_item2_write_refuses_a_refuted_claim(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(run_a["model"], folder)
    text = (run_a["out"] / "README.md").read_text()
    best = logged_eval(run_a["trainer"], 1)
    printed = f"- Accuracy: {round(best['eval_accuracy'], 4)}"
    assert printed in text
    (folder / "README.md").write_text(
        text.replace(printed, f"- Accuracy: {best['eval_accuracy'] + 0.05:.4f}")
    )
    before = (folder / "README.md").read_bytes()
    code, _, err = run_cli(
        ["verify", str(folder), "--rerun", "--dataset", str(run_a["validation"]), "--write"], capsys
    )
    assert code == 2 and "refuted" in err.lower() and "Accuracy" in err
    assert (folder / "README.md").read_bytes() == before


# --------------------------------------------------------------------------------------------------
# The hook: a typo in git config is a config error
# --------------------------------------------------------------------------------------------------


def test_item10_hook_reports_a_config_typo_as_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path / "home", monkeypatch)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    repo = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    for key, value in (("user.name", "T"), ("user.email", "t@example.com"), ("commit.gpgsign", "false")):
        git(repo, "config", key, value)
    git(repo, "remote", "add", "origin", str(remote))
    proc = subprocess.run(
        [sys.executable, "-m", "cardsmith", "hook", "install", "--repo", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (repo / "README.md").write_text(CARD)
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "card")
    git(repo, "config", "cardsmith.ignore", "frozen-metrc")
    pushed = subprocess.run(
        ["git", "push", "-q", "origin", "main"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert pushed.returncode != 0
    assert "cannot be read as a model card" not in pushed.stderr
    assert "frozen-metrc" in pushed.stderr and "cardsmith.ignore" in pushed.stderr


# --------------------------------------------------------------------------------------------------
# More of what cardsmith writes: a token classifier's card, and --write from a data file
# --------------------------------------------------------------------------------------------------


def test_token_classification_callback_card_is_right(tmp_path: Path) -> None:
    from cardsmith import CardCallback

    out = tmp_path / "ner"
    trainer = tiny.train_tok(out, callbacks=[CardCallback(license="mit", language="en")], save_strategy="no")
    readme = out / "README.md"
    assert mode(readme) == plain_write_mode(out)
    assert_written_right(readme, expected_index(logged_eval(trainer)))
    data = yaml.safe_load(readme.read_text().split("---\n")[1])
    assert data["model-index"][0]["results"][0]["task"]["type"] == "token-classification"


def test_write_from_a_data_file_names_its_builder_not_its_path(
    run_a: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(run_a["model"], folder)
    shutil.copy(run_a["out"] / "README.md", folder / "README.md")
    before = (folder / "README.md").read_text()
    dataset = str(run_a["jsonl"].resolve())
    code, _, err = run_cli(["verify", str(folder), "--rerun", "--dataset", dataset, "--write"], capsys)
    assert code == 0, err
    text = (folder / "README.md").read_text()
    assert text.startswith(before.split("model-index:")[0])  # the metadata before model-index is kept
    assert str(run_a["root"]) not in text
    data = yaml.safe_load(text.split("---\n")[1])
    trainer_result, ours = data["model-index"][0]["results"]
    assert "source" not in trainer_result  # the Trainer's result is left as it was
    assert ours["dataset"] == {"name": "eval.jsonl", "type": "json"}
    assert ours["source"]["name"] == "cardsmith"
    best = logged_eval(run_a["trainer"], 1)
    from huggingface_hub import ModelCard as HubCard

    hub = HubCard.load(folder / "README.md")
    mine = [r for r in hub.data.eval_results if r.source_name == "cardsmith"]
    assert {r.metric_type: r.metric_value for r in mine} == pytest.approx(expected_index(best), abs=1e-9)
    assert all(r.verified is False and r.dataset_type == "json" for r in mine)
    assert_written_right(folder / "README.md")  # loads, audits without error, round-trips
