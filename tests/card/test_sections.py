"""The one section walker agrees with CommonMark (markdown-it) on every real card, and on fences."""

from __future__ import annotations

from pathlib import Path

import pytest
from locations import CORPUS_CARDS, FIXTURES, require_corpus
from markdown_it import MarkdownIt

from cardsmith.api import ModelCard
from cardsmith.audit.engine import audit_card
from cardsmith.card import sections


def _markdown_it_headings(lines: list[str]) -> list[tuple[int, int]]:
    tokens = MarkdownIt("commonmark").parse("".join(lines))
    return [(int(t.tag[1]), t.map[0]) for t in tokens if t.type == "heading_open" and t.level == 0 and t.map]


def _ours(lines: list[str]) -> list[tuple[int, int]]:
    return [(s.level, s.heading) for s in sections.headings(lines)]


def _cards() -> list[Path]:
    return sorted(FIXTURES.rglob("*.md"))


@pytest.mark.parametrize("path", _cards(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_same_headings_as_markdown_it_on_fixtures(path: Path) -> None:
    lines = sections.without_front_matter(path.read_text(encoding="utf-8").splitlines(keepends=True))
    assert _ours(lines) == _markdown_it_headings(lines)


def test_same_headings_as_markdown_it_on_the_corpus() -> None:
    cards = sorted(require_corpus(CORPUS_CARDS).glob("*.md"))
    for path in cards:
        text = path.read_bytes().decode("utf-8", "replace")
        lines = sections.without_front_matter(text.splitlines(keepends=True))
        assert _ours(lines) == _markdown_it_headings(lines), path.name


SHAPES = [
    "# T\n\n~~~\n```\n# install\n~~~\n\n## Install\n\nMore information needed\n",
    "````md\n```\n# not a heading\n```\n````\n# real\n",
    "Title\n=====\n\ntext\n\nSub\n---\n\n    # indented code\n\n<!--\n# in a comment\n-->\n## after\n",
    "#no space\n####### seven\n  ### indented three ###\n\\# escaped\n# closing ###   \n#\n",
    "- item\n---\n\n> # quoted\n\n| a |\n|---|\n\ntext\n---\n",
]


@pytest.mark.parametrize("text", SHAPES)
def test_same_headings_as_markdown_it_on_tricky_shapes(text: str) -> None:
    lines = text.splitlines(keepends=True)
    assert _ours(lines) == _markdown_it_headings(lines)


def test_tilde_fence_holding_a_backtick_line() -> None:
    """After a ``~~~`` fence that holds a ```` ``` ```` line, the heading inside the fence is not a
    section, and the ``## Install`` section after the fence is one (placeholder-section sees it)."""
    text = "---\nlicense: mit\n---\n# model\n\n~~~\n```\n# install\n~~~\n\n## Install\n\nMore information needed\n"
    card = ModelCard.from_markdown(text)
    lines = sections.body_lines(card)
    assert [s.title for s in sections.headings(lines)] == ["model", "Install"]
    assert card.section_text("install") == "More information needed"
    found = [f for f in audit_card(card).findings if f.name == "placeholder-section"]
    assert len(found) == 1 and "Install" in found[0].message


def test_subtree_and_section_text() -> None:
    lines = "# A\n\nintro\n\n## B\n\nb text\n\n### C\n\nc text\n\n## D\n\nd\n".splitlines(keepends=True)
    found = sections.find(lines, "b", level=2)
    assert found is not None
    assert sections.text_of(lines, found) == "b text"
    assert "c text" in sections.text_of(lines, found, subtree=True)
    assert "d" not in sections.text_of(lines, found, subtree=True).split()
    assert sections.section_text(lines, "missing") is None
    assert sections.heading_key("  Training\u200b Results ##") == "training results"
