"""Where the tests find things: the repository, its fixtures, and the shared corpus of real cards.

The corpus (``../shared/corpus`` beside the repository) holds other people's cards: it is read at
test time and never copied into the project. Without it the corpus tests are skipped on a developer's
machine and FAIL under CI (``CI`` set), so that a missing corpus never turns into a green run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
HARDENING = REPO / "tests" / "fixtures" / "hardening"
CORPUS = REPO.parent / "shared" / "corpus"
CORPUS_CARDS = CORPUS / "cards"
CORPUS_STATES = CORPUS / "trainer_states"


def require_corpus(folder: Path = CORPUS) -> Path:
    """``folder`` of the corpus; skips the test without it, or fails it under CI."""
    if not folder.is_dir() or not any(folder.iterdir()):
        message = f"the shared corpus is missing at {folder}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI needs it)", pytrace=False)
        pytest.skip(message)
    return folder
