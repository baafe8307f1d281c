"""The auditor on the real corpus (156 cards): no exception, and the reviewed counts per rule.

Every error below was checked by hand against its card (docs/corpus-review.md); a change in these
counts is a change in what the auditor tells real users, to be reviewed the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from locations import CORPUS, FIXTURES, require_corpus

from cardsmith.audit.paths import audit_paths
from cardsmith.cli.app import main

CARDS = sorted((CORPUS / "cards").glob("*.md")) if CORPUS.is_dir() else []

#: Reviewed error findings per rule (each a real contradiction in its card).
REVIEWED_ERRORS = {"headline-mismatch": 5, "model-index-mismatch": 1, "model-index-invalid": 7}
#: Cards per warning rule.
REVIEWED_WARNINGS = {
    "best-checkpoint-not-reported": 22,
    "frozen-metric": 1,
    "headline-after-last-row": 2,
    "warmup-spans-run": 3,
    "multi-gpu-one-device": 1,
    "task-metric-missing": 1,
}


@pytest.fixture(scope="module")
def reports() -> list:  # type: ignore[type-arg]
    if not CARDS:
        require_corpus(CORPUS / "cards")
    return audit_paths([str(p) for p in CARDS])


def test_every_corpus_card_is_audited(reports: list) -> None:  # type: ignore[type-arg]
    assert len(reports) == len(CARDS) == 156
    assert all(r.path for r in reports)


def test_reviewed_error_counts(reports: list) -> None:  # type: ignore[type-arg]
    errors = Counter(f.name for r in reports for f in r.findings if f.severity == "error")
    assert dict(errors) == REVIEWED_ERRORS


def test_reviewed_warning_counts(reports: list) -> None:  # type: ignore[type-arg]
    warnings = Counter(f.name for r in reports for f in r.findings if f.severity == "warning")
    assert dict(warnings) == REVIEWED_WARNINGS


def test_known_defects_are_found(reports: list) -> None:  # type: ignore[type-arg]
    by_card = {Path(r.path).name: r for r in reports}

    def msgs(part: str, rule: str) -> list[str]:
        (name,) = [n for n in by_card if part in n]
        return [f.message for f in by_card[name].findings if f.name == rule]

    # last row with accuracy and validation loss swapped
    (swap,) = msgs("alirezafarashah_wav2vec2-base-ks-2sec", "headline-mismatch")
    assert "Validation Loss <-> Accuracy" in swap
    # model-index WER taken from another row than the headline
    (wer,) = msgs("501Good_whisper-small-tt", "model-index-mismatch")
    assert "29.1407" in wer
    # headline WER 113.4978 against the only row's 19.4978
    assert msgs("Wx971025_whisper-small-hi", "headline-mismatch")
    # headline loss is the last row's training loss
    (vit,) = msgs("train_vit_large", "headline-mismatch")
    assert "Validation Loss <-> Training Loss" in vit
    # the run went on after the last row: the final evaluation is in no row (a warning that says so)
    (final,) = msgs("1ucky40nc3_wav2vec2-common_voice-tr-demo", "headline-after-last-row")
    assert "epoch 14.68 of num_epochs 15" in final
    # validation loss identical in all three epochs
    assert msgs("uyeongjae__distilgpt2", "frozen-metric")


def test_cli_over_the_whole_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    if not CARDS:
        require_corpus(CORPUS / "cards")
    assert main(["audit", "--format", "json", *map(str, CARDS)]) == 1
    out = capsys.readouterr()
    assert out.err == ""
    assert len(json.loads(out.out)["cards"]) == len(CARDS)


HEAVY = ("torch", "transformers", "datasets", "sklearn", "matplotlib", "seqeval", "evaluate")
#: model-index-invalid asks huggingface_hub.repocard_data (light); its network client stays unloaded.
NETWORK = (
    "huggingface_hub.hf_api",
    "huggingface_hub.file_download",
    "huggingface_hub.repocard",
    "httpx",
    "requests",
)


def test_audit_path_imports_nothing_heavy() -> None:
    card = min((FIXTURES / "seeds").glob("seed-001*/README.md"))
    code = (
        "import sys, io\n"
        "import cardsmith.cli.app, cardsmith.audit.engine, cardsmith.cli.formats.text, cardsmith.audit.registry, cardsmith.audit.facts, cardsmith.card.parse\n"
        "from cardsmith.audit.paths import audit_paths\n"
        "from cardsmith.cli.formats import print_reports\n"
        f"reports = audit_paths([{str(card)!r}])\n"
        "for fmt in ('text', 'json', 'sarif'):\n"
        "    print_reports(reports, fmt, out=io.StringIO())\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {NETWORK!r})\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
