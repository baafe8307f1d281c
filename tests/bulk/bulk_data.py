"""Constants and helpers shared by the bulk tests (imported by their conftest and test modules)."""

from __future__ import annotations

import os
from pathlib import Path

from locations import CORPUS_CARDS, REPO, require_corpus

ROOT = REPO
#: Copies of the corpus in the test dump (156 cards x 7 = 1,092 real cards).
COPIES = 7
#: Rows of the dump that cannot be read as cards (their entries carry "error").
BROKEN_ROWS = {
    "broken/null-card": None,
    "broken/binary": "\x00\x01\x02 PNG \x00" * 40,
}
#: A row that is a card, with an error finding (its metadata never closes).
UNCLOSED_ROW = ("broken/unclosed-front-matter", "---\nlicense: mit\n\n# Model\n\nNo end to the metadata.\n")


def corpus_cards() -> list[Path]:
    """The corpus's cards (``CARDSMITH_TEST_CORPUS`` may point at the corpus from a git worktree)."""
    override = os.environ.get("CARDSMITH_TEST_CORPUS")
    folder = Path(override) / "cards" if override else CORPUS_CARDS
    return sorted(require_corpus(folder).glob("*.md"))
