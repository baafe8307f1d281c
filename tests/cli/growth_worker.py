"""Worker of the growth test (``test_growth.py``): times one entry point on one hostile input shape.

Run as a script, it reads JSON commands on stdin, one a line: ``{"shape": NAME, "entry": ENTRY,
"size": BYTES, "reps": N, "allowed": SECONDS}``, builds the input of that shape and size (outside the timing), runs the entry point
``N`` times and answers ``{"best": SECONDS}`` (the best of the ``N`` runs) on stdout. The parent
kills it when an answer is late, so a pattern that backtracks cannot hang the test.

Every entry point is black-box: ``from cardsmith import ModelCard`` or the CLI (``python -m
cardsmith``, run in-process). Shapes are the worst inputs of issue #15 and of its review: long runs
of spaces inside a construct that a backtracking pattern scans again from every position.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import runpy
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

GOOD_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "hardening" / "good_card.md"
GOOD = GOOD_PATH.read_text(encoding="utf-8")
TMP = Path(tempfile.mkdtemp(prefix="cardsmith-growth-"))

# --------------------------------------------------------------------------------------------------
# Entry points: each takes the prepared input and does the work that is timed
# --------------------------------------------------------------------------------------------------


def _model_card() -> type:
    from cardsmith import ModelCard

    return ModelCard


def parse(text: str) -> Callable[[], object]:
    model_card = _model_card()
    return lambda: model_card.from_markdown(text)


def audit(text: str) -> Callable[[], object]:
    model_card = _model_card()
    return lambda: model_card.from_markdown(text).audit()


def round_trip(text: str) -> Callable[[], object]:
    card = _model_card().from_markdown(text)
    return card.to_markdown


def cli(*args: str) -> Callable[[], object]:
    """``python -m cardsmith ARGS`` in this process, output discarded; its exit code is returned."""

    def run() -> object:
        saved = sys.argv
        sys.argv = ["cardsmith", *args]
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                runpy.run_module("cardsmith", run_name="__main__", alter_sys=False)
        except SystemExit as exc:
            code = exc.code
            if code not in (0, 1):
                raise RuntimeError(
                    f"cardsmith {' '.join(args)} exited {code}: {sink.getvalue()[-500:]}"
                ) from None
            return code
        finally:
            sys.argv = saved
        return 0

    return run


def _file(text: str, name: str = "README.md") -> Path:
    folder = Path(tempfile.mkdtemp(dir=TMP))
    path = folder / name
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def cli_audit(fmt: str) -> Callable[[str], Callable[[], object]]:
    return lambda text: cli("audit", "--format", fmt, str(_file(text)))


def cli_parse(text: str) -> Callable[[], object]:
    return cli("parse", str(_file(text)))


def render_onto(text: str) -> Callable[[], object]:
    """``render GOOD -o FILE`` where FILE holds the hostile text: what a person wrote is merged in."""
    target = _file(text)
    source = _file(GOOD)

    def run() -> object:
        target.write_bytes(text.encode("utf-8"))  # the merge replaces it: every run starts alike
        return cli("render", str(source), "-o", str(target))()

    return run


def render_output_dir(name: str) -> Callable[[str], Callable[[], object]]:
    """``render FOLDER`` with ``name`` (trainer_state.json or config.json) holding the text."""

    def make(text: str) -> Callable[[], object]:
        folder = _file(text, name).parent
        if name != "trainer_state.json":
            (folder / "trainer_state.json").write_text(json.dumps(_state(3)), encoding="utf-8")
        return cli("render", str(folder))

    return make


def audit_folder(name: str) -> Callable[[str], Callable[[], object]]:
    """``audit FOLDER`` with the good card as README.md and ``name`` holding the text."""

    def make(text: str) -> Callable[[], object]:
        folder = _file(GOOD).parent
        (folder / name).write_text(text, encoding="utf-8")
        return cli("audit", str(folder))

    return make


ENTRY_POINTS: dict[str, Callable[[str], Callable[[], object]]] = {
    "parse": parse,
    "audit": audit,
    "round-trip": round_trip,
    "cli-audit-text": cli_audit("text"),
    "cli-audit-json": cli_audit("json"),
    "cli-audit-sarif": cli_audit("sarif"),
    "cli-parse": cli_parse,
    "render-onto": render_onto,
    "render-state": render_output_dir("trainer_state.json"),
    "render-config": render_output_dir("config.json"),
    "audit-config": audit_folder("config.json"),
    "audit-pyproject": audit_folder("pyproject.toml"),
}

# --------------------------------------------------------------------------------------------------
# Shapes: text of about ``n`` bytes
# --------------------------------------------------------------------------------------------------


def _reps(unit: str, n: int) -> int:
    return max(1, n // max(1, len(unit.encode("utf-8"))))


def _good_with(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def _state(rows: int, *, extra: int = 0) -> dict[str, object]:
    history: list[dict[str, object]] = []
    for i in range(1, rows + 1):
        history.append({"loss": 1.0 / i, "epoch": float(i), "step": 10 * i})
        history.append(
            {"eval_loss": 1.1 / i, "eval_accuracy": 0.5 + 0.4 * i / rows, "epoch": float(i), "step": 10 * i}
        )
    return {
        "log_history": history,
        "global_step": 10 * rows,
        "num_train_epochs": rows,
        "max_steps": 10 * rows,
        "train_batch_size": 8,
        **{f"k{i}": i for i in range(extra)},
    }


def _table(rows: int, cols: int) -> str:
    head = (
        "| Training Loss | Epoch | Step | Validation Loss |" + "".join(f" M{i} |" for i in range(cols)) + "\n"
    )
    rule = "|---|---|---|---|" + "---|" * cols + "\n"
    body = "".join(
        f"| {1.5 - i / (rows + 1):.4f} | {i}.0 | {10 * i} | {1.6 - i / (rows + 1):.4f} |"
        + "".join(f" {0.5 + (i + j) % 7 / 20:.4f} |" for j in range(cols))
        + "\n"
        for i in range(1, rows + 1)
    )
    return "# t\n\n## Training procedure\n\n### Training results\n\n" + head + rule + body


SHAPES: dict[str, Callable[[int], str]] = {
    # 1. the suppression comment, open, with a run of spaces (and variants)
    "suppression-spaces": lambda n: "# t\n\n<!-- cardsmith: disable=" + " " * n + "x",
    "suppression-commas": lambda n: "# t\n\n<!-- cardsmith: disable=a" + ", " * (n // 2) + "x",
    "suppression-many": lambda n: (
        "# t\n\n"
        + "<!-- cardsmith: disable=frozen-metric -->\n"
        * _reps("<!-- cardsmith: disable=frozen-metric -->\n", n)
    ),
    "comment-open-spaces": lambda n: "# t\n\n<!--" + " " * n + "cardsmith" + " " * n,
    # 2. a headline number cell with a run of spaces
    "headline-cell-spaces": lambda n: (
        "# t\n\nIt achieves the following results on the evaluation set:\n- Loss: -" + " " * n + "x\n"
    ),
    "headline-many": lambda n: (
        "# t\n\nIt achieves the following results on the evaluation set:\n"
        + "".join(f"- M{i}: 0.{i % 9999:04d}\n" for i in range(_reps("- M1000: 0.1000\n", n)))
    ),
    "italic-headline-spaces": lambda n: (
        "# t\n\nIt achieves the following results on the evaluation set:\n*- Loss" + " " * n + "x*\n"
    ),
    "table-cell-spaces": lambda n: _table(2, 1).replace("| 0.5", "| -" + " " * n + "x", 1),
    # 3. quadratic paths
    "hyperparameters-many": lambda n: _good_with(
        "- num_epochs: 3\n",
        "- num_epochs: 3\n" + "".join(f"- key_{i}: {i}\n" for i in range(_reps("- key_10000: 10000\n", n))),
    ),
    "hyperparameter-value-spaces": lambda n: _good_with("- seed: 42\n", "- seed: 4" + " " * n + "2x\n"),
    "hyperparameter-key-spaces": lambda n: _good_with("- seed: 42\n", "- s" + " " * n + "x\n"),
    "optimizer-spaces": lambda n: _good_with(
        "- optimizer: Adam with", "- optimizer: Adam" + " " * n + "with"
    ),
    "placeholder-long-line": lambda n: _good_with(
        "A sentiment classifier for movie reviews.", "More information needed" + " " * n + "x"
    ),
    "placeholder-lead-spaces": lambda n: _good_with(
        "A sentiment classifier for movie reviews.", " " * n + "x"
    ),
    "intro-dataset-words": lambda n: _good_with(
        "This model is a fine-tuned version of",
        "This model is a fine-tuned version of a on the "
        + "x dataset " * (n // 10)
        + "\n\nThis model is a fine-tuned version of",
    ),
    "intro-link-spaces": lambda n: "# t\n\nThis model is a fine-tuned version of [" + "\\ " * (n // 2) + "\n",
    "heading-spaces": lambda n: "# t\n\n## a" + " " * n + "b\n\ntext\n",
    "heading-hashes": lambda n: "# t\n\n## a" + " #" * (n // 2) + " b\n",
    "table-wide": lambda n: _table(2, max(1, n // 20)),
    "table-long": lambda n: _table(max(1, n // 40), 1),
    "table-pipes": lambda n: "# t\n\n## Training results\n\n|" + "\\|" * (n // 2) + "\n|---|\n| 1 |\n",
    "sections-many": lambda n: "".join(
        f"## s{i}\n\nMore information needed\n\n"
        for i in range(_reps("## s1000\n\nMore information needed\n\n", n))
    ),
    "fences-many": lambda n: "# t\n\n" + "```\n" * (n // 4),
    "front-matter-long-value": lambda n: "---\nlicense: " + "a " * (n // 2) + "\n---\n# t\n",
    "front-matter-list": lambda n: "---\ntags:\n" + "- a-tag-name\n" * (n // 13) + "---\n# t\n",
    "front-matter-model-index": lambda n: (
        "---\nmodel-index:\n- name: x\n  results:\n"
        + "".join(
            f"  - task: {{type: text-classification}}\n    dataset: {{name: d, type: d}}\n    metrics:\n"
            f"    - {{name: Accuracy, type: accuracy, value: 1.{i}}}\n"
            for i in range(_reps("x" * 140, n))
        )
        + "---\n# t\n"
    ),
    "findings-many": lambda n: _table(max(1, n // 40), 1).replace("| M0 |", "| Loss |"),
    "control-chars": lambda n: "# t\n\n<!-- " + "\x01" * n + " -->\n",
    "markup-brackets": lambda n: "# t\n\n" + "[" * n + "\n",
    "emphasis-stars": lambda n: "# t\n\n" + "*a" * (n // 2) + "\n",
    # JSON beside a card or as a render source
    "state-long": lambda n: json.dumps(_state(max(1, n // 190))),
    "state-keys": lambda n: json.dumps(_state(3, extra=max(1, n // 12))),
    "config-keys": lambda n: json.dumps(
        {"num_labels": 2, **{f"label_{i}": i for i in range(_reps('"label_1000": 1000, ', n))}}
    ),
    "config-id2label": lambda n: json.dumps(
        {"id2label": {str(i): f"L{i}" for i in range(_reps('"1000": "L1000", ', n))}}
    ),
    # a pushed pyproject.toml is read too: blanks around a table header's name
    "pyproject-blanks": lambda n: "# cardsmith\n[" + " " * (n // 2) + "tool" + " " * (n // 2) + "]\nx = 1\n",
}

#: shape -> the entry points it is timed through
CASES: dict[str, tuple[str, ...]] = {
    "suppression-spaces": ("audit",),
    "suppression-commas": ("audit",),
    "suppression-many": ("audit",),
    "comment-open-spaces": ("audit",),
    "headline-cell-spaces": ("audit",),
    "headline-many": ("parse",),
    "italic-headline-spaces": ("parse",),
    "table-cell-spaces": ("audit",),
    "hyperparameters-many": ("parse",),
    "hyperparameter-value-spaces": ("parse",),
    "hyperparameter-key-spaces": ("parse",),
    "optimizer-spaces": ("parse",),
    "placeholder-long-line": ("audit",),
    "placeholder-lead-spaces": ("audit",),
    "intro-dataset-words": ("parse",),
    "intro-link-spaces": ("parse",),
    "heading-spaces": ("render-onto",),
    "heading-hashes": ("audit",),
    "table-wide": ("audit", "round-trip"),
    "table-long": ("cli-audit-json",),
    "table-pipes": ("audit",),
    "sections-many": ("audit",),
    "fences-many": ("audit",),
    "front-matter-long-value": ("audit",),
    "front-matter-list": ("audit",),
    "front-matter-model-index": ("audit",),
    "findings-many": ("cli-audit-sarif",),
    "control-chars": ("cli-audit-text",),
    "markup-brackets": ("audit",),
    "emphasis-stars": ("audit",),
    "pyproject-blanks": ("audit-pyproject",),
    "state-long": ("render-state",),
    "config-keys": ("render-config", "audit-config"),
}


def measure(shape: str, entry: str, size: int, reps: int, allowed: float) -> float:
    """The best of up to ``reps`` runs: it stops at the first run within ``allowed`` (linear growth
    from the previous size), so a loaded machine costs a retry, not a false failure."""
    text = SHAPES[shape](size)
    run = ENTRY_POINTS[entry](text)
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        try:
            run()
        finally:
            best = min(best, time.perf_counter() - start)
            gc.enable()
        if best <= allowed:
            break
    return best


def main() -> None:
    os.environ.setdefault("CARDSMITH_NO_FAST_PATH", "")
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            answer: dict[str, object] = {
                "best": measure(cmd["shape"], cmd["entry"], cmd["size"], cmd["reps"], cmd["allowed"])
            }
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the case
            answer = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
