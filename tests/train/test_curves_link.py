"""The curves link goes at the end of "Training results", found by the one section walker (a card
without a results table: a hand-written one)."""

from __future__ import annotations

from cardsmith.card.parse import parse_card
from cardsmith.card.render import render_card
from cardsmith.train.merge import CURVES_LINK, add_curves_link

CARD = """# m

## Notes

~~~
### Training results
(an example heading inside a fence: not a section)
~~~

## Training Results

No table: the run was evaluated once at the end.

## Limitations

None known.

### Framework versions

- Transformers 4.40.0
"""


def test_link_ends_the_real_training_results_section_and_is_added_once() -> None:
    card = add_curves_link(parse_card(CARD))
    text = render_card(card)
    section = text.split("\n## Training Results\n", 1)[1]  # any level, any case: a heading's key
    assert section.index(CURVES_LINK) < section.index("## Limitations")
    assert section.index("evaluated once at the end") < section.index(CURVES_LINK)
    assert text.split("~~~")[1].count(CURVES_LINK) == 0  # not inside the fence
    assert render_card(add_curves_link(parse_card(text))) == text  # idempotent
