"""The shared corpus of real cards is there: corpus tests must not pass by finding nothing to test.

Several corpus tests are parametrized over the corpus's files; without the corpus they would collect
no cases and pass silently. This test makes a missing corpus a failure under CI (``CI`` set) and a
visible skip elsewhere.
"""

from __future__ import annotations

from locations import CORPUS_CARDS, CORPUS_STATES, require_corpus


def test_corpus_cards_and_trainer_states_are_present() -> None:
    assert len(list(require_corpus(CORPUS_CARDS).glob("*.md"))) >= 100
    assert len(list(require_corpus(CORPUS_STATES).glob("*.json"))) >= 10
